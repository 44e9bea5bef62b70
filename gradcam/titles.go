package gradcam

// MethodTitles are the methods' names as figures caption them.
var MethodTitles = map[Method]string{
	GradCAM: "Grad-CAM", Counterfactual: "Counterfactual", CAM: "CAM", Saliency: "Saliency",
	GuidedBackprop: "Guided Backprop", Deconvnet: "Deconvnet", GuidedGradCAM: "Guided Grad-CAM", Occlusion: "Occlusion",
}
