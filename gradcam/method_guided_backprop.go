package gradcam

// guidedBackpropSpec is Guided Backprop: input gradient passing only positive gradients through positive ReLUs (Springenberg et al. 2015).
var guidedBackpropSpec = MethodSpec{
	Name: GuidedBackprop, Title: "Guided Backprop", Family: InputMap,
	Summary:       "input gradient passing only positive gradients through positive ReLUs (Springenberg et al. 2015)",
	InputGradient: true, ReLURule: true, GradientImage: true, SmoothGradBase: true,
}
