package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// layerCAMSpec is LayerCAM: sum over channels of ReLU(gradient) times activation (Jiang et al. 2021).
var layerCAMSpec = MethodSpec{
	Name: LayerCAM, Title: "LayerCAM", Family: LayerMap,
	Summary:       "sum over channels of ReLU(gradient) times activation (Jiang et al. 2021)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return Mul(relu(in.G), in.A)
	},
}
