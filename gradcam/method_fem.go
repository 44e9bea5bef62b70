package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// femSpec is FEM: activations weighted by how often they exceed mean + 2 std; no gradients (Fuad et al. 2020).
var femSpec = MethodSpec{
	Name: FEM, Title: "FEM", Family: LayerMap,
	Summary: "activations weighted by how often they exceed mean + 2 std; no gradients (Fuad et al. 2020)",
	Scaled:  true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		mean := ReduceAndKeep(in.A, ReduceMean, in.Spatial...)
		std := Sqrt(ReduceAndKeep(Square(Sub(in.A, mean)), ReduceMean, in.Spatial...))
		above := ConvertDType(GreaterThan(in.A, Add(mean, MulScalar(std, 2))), in.A.DType())
		return in.Weighted(ReduceMean(above, in.Spatial...))
	},
}
