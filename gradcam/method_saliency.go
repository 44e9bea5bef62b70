package gradcam

// saliencySpec is Saliency: max over colour channels of |d score / d pixel| (Simonyan et al. 2014).
var saliencySpec = MethodSpec{
	Name: Saliency, Title: "Saliency", Family: InputMap,
	Summary:       "max over colour channels of |d score / d pixel| (Simonyan et al. 2014)",
	InputGradient: true, SmoothGradBase: true,
}
