package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// counterfactualSpec is Counterfactual: Grad-CAM with negated gradients: regions whose removal would raise the score.
var counterfactualSpec = MethodSpec{
	Name: Counterfactual, Title: "Counterfactual", Family: LayerMap,
	Summary:       "Grad-CAM with negated gradients: regions whose removal would raise the score",
	LayerGradient: true, Scaled: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return in.Weighted(Neg(ReduceMean(in.G, in.Spatial...)))
	},
}
