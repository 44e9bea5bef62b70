package gradcam

// guidedGradCAMSpec is Guided Grad-CAM: guided backprop times a CAM map (Grad-CAM unless GuidedCAM says otherwise).
var guidedGradCAMSpec = MethodSpec{
	Name: GuidedGradCAM, Title: "Guided Grad-CAM", Family: InputMap,
	Summary:       "guided backprop times a CAM map (Grad-CAM unless GuidedCAM says otherwise)",
	InputGradient: true, ReLURule: true, GradientImage: true,
}
