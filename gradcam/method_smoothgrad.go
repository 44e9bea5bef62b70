package gradcam

// smoothGradSpec is SmoothGrad: a gradient method averaged over noisy copies of the input (Smilkov et al. 2017).
var smoothGradSpec = MethodSpec{
	Name: SmoothGrad, Title: "SmoothGrad", Family: Sampled,
	Summary:       "a gradient method averaged over noisy copies of the input (Smilkov et al. 2017)",
	GradientImage: true,
}
