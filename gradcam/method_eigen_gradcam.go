package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// eigenGradCAMSpec is Eigen-Grad-CAM: first principal component of gradient times activation.
var eigenGradCAMSpec = MethodSpec{
	Name: EigenGradCAM, Title: "Eigen-Grad-CAM", Family: LayerMap,
	Summary:       "first principal component of gradient times activation",
	LayerGradient: true, Scaled: true, Eigen: true,
	Terms: func(in TermInputs) *Node {
		return Mul(in.G, in.A)
	},
}
