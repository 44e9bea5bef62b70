package gradcam

// gradientShapSpec is GradientShap: (input - baseline) times the gradient at random points
// between them, averaged (Lundberg and Lee 2017; Captum's GradientShap).
var gradientShapSpec = MethodSpec{
	Name: GradientShap, Title: "GradientSHAP", Family: Sampled,
	Summary:       "(input - baseline) x gradient at random points between them, baselines drawn from a set (Lundberg & Lee 2017)",
	GradientImage: true, Signed: true,
}
