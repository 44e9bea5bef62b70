package gradcam

// inputXGradientSpec is Input x Gradient: input times its gradient, per colour channel (Shrikumar et al. 2016).
var inputXGradientSpec = MethodSpec{
	Name: InputXGradient, Title: "Input x Gradient", Family: InputMap,
	Summary:       "input times its gradient, per colour channel (Shrikumar et al. 2016)",
	InputGradient: true, GradientImage: true, SmoothGradBase: true, Signed: true,
}
