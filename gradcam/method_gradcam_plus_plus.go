package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// gradCAMPlusPlusSpec is Grad-CAM++: activations weighted by positive gradients with higher-order alphas (Chattopadhyay et al. 2018).
var gradCAMPlusPlusSpec = MethodSpec{
	Name: GradCAMPlusPlus, Title: "Grad-CAM++", Family: LayerMap,
	Summary:       "activations weighted by positive gradients with higher-order alphas (Chattopadhyay et al. 2018)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		g2 := Mul(in.G, in.G)
		g3 := Mul(g2, in.G)
		sumA := ReduceAndKeep(in.A, ReduceSum, in.Spatial...)
		alpha := Div(g2, AddScalar(Add(MulScalar(g2, 2), Mul(sumA, g3)), 1e-6))
		alpha = Where(NotEqual(in.G, ZerosLike(in.G)), alpha, ZerosLike(alpha))
		return in.Weighted(ReduceSum(Mul(relu(in.G), alpha), in.Spatial...))
	},
}
