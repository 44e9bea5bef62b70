package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// hiResCAMSpec is HiResCAM: sum over channels of gradient times activation, no pooling (Draelos & Carin 2020).
var hiResCAMSpec = MethodSpec{
	Name: HiResCAM, Title: "HiResCAM", Family: LayerMap,
	Summary:       "sum over channels of gradient times activation, no pooling (Draelos & Carin 2020)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return Mul(in.G, in.A)
	},
}
