package gradcam

// integratedGradientsSpec is Integrated Gradients: input gradient integrated along the path from a baseline (Sundararajan et al. 2017).
var integratedGradientsSpec = MethodSpec{
	Name: IntegratedGradients, Title: "Integrated Gradients", Family: Sampled,
	Summary:       "input gradient integrated along the path from a baseline (Sundararajan et al. 2017)",
	GradientImage: true, SmoothGradBase: true, Signed: true,
}
