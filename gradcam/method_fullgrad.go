package gradcam

// fullGradSpec is FullGrad: |input x gradient| plus |bias x gradient| of every convolution and batch norm (Srinivas & Fleuret 2019).
var fullGradSpec = MethodSpec{
	Name: FullGrad, Title: "FullGrad", Family: InputMap,
	Summary:       "|input x gradient| plus |bias x gradient| of every convolution and batch norm (Srinivas & Fleuret 2019)",
	InputGradient: true, Scaled: true,
}
