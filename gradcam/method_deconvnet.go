package gradcam

// deconvnetSpec is Deconvnet: input gradient passing only positive gradients through every ReLU (Zeiler & Fergus 2014).
var deconvnetSpec = MethodSpec{
	Name: Deconvnet, Title: "Deconvnet", Family: InputMap,
	Summary:       "input gradient passing only positive gradients through every ReLU (Zeiler & Fergus 2014)",
	InputGradient: true, ReLURule: true, GradientImage: true, SmoothGradBase: true,
}
