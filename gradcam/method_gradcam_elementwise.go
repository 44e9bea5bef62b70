package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// gradCAMElementWiseSpec is Grad-CAM elementwise: sum over channels of ReLU(gradient times activation).
var gradCAMElementWiseSpec = MethodSpec{
	Name: GradCAMElementWise, Title: "Grad-CAM elementwise", Family: LayerMap,
	Summary:       "sum over channels of ReLU(gradient times activation)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return relu(Mul(in.G, in.A))
	},
}
