package gradcam

// MethodTitles are the methods' names as figures caption them.
var MethodTitles = map[Method]string{
	GradCAM: "Grad-CAM", Counterfactual: "Counterfactual", CAM: "CAM", Saliency: "Saliency",
	GuidedBackprop: "Guided Backprop", Deconvnet: "Deconvnet", GuidedGradCAM: "Guided Grad-CAM", Occlusion: "Occlusion",
	HiResCAM: "HiResCAM", GradCAMElementWise: "Grad-CAM elementwise", GradCAMPlusPlus: "Grad-CAM++", XGradCAM: "XGrad-CAM",
	LayerCAM: "LayerCAM", FEM: "FEM", EigenCAM: "Eigen-CAM", EigenGradCAM: "Eigen-Grad-CAM",
	ScoreCAM: "Score-CAM", AblationCAM: "Ablation-CAM", FullGrad: "FullGrad",
	InputXGradient: "Input x Gradient", IntegratedGradients: "Integrated Gradients", SmoothGrad: "SmoothGrad",
}
