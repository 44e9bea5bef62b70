package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// eigenCAMSpec is Eigen-CAM: first principal component of the activations; no gradients, no class (Muhammad & Yeasin 2020).
var eigenCAMSpec = MethodSpec{
	Name: EigenCAM, Title: "Eigen-CAM", Family: LayerMap,
	Summary: "first principal component of the activations; no gradients, no class (Muhammad & Yeasin 2020)",
	Scaled:  true, Eigen: true,
	Terms: func(in TermInputs) *Node {
		return in.A
	},
}
