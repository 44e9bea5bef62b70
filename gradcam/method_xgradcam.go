package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// xGradCAMSpec is XGrad-CAM: activations weighted by activation-normalized gradient sums (Fu et al. 2020).
var xGradCAMSpec = MethodSpec{
	Name: XGradCAM, Title: "XGrad-CAM", Family: LayerMap,
	Summary:       "activations weighted by activation-normalized gradient sums (Fu et al. 2020)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return in.Weighted(Div(ReduceSum(Mul(in.G, in.A), in.Spatial...), AddScalar(ReduceSum(in.A, in.Spatial...), 1e-7)))
	},
}
