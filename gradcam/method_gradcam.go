package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// gradCAMSpec is Grad-CAM: activations weighted by their spatially averaged gradients, ReLU (Selvaraju et al. 2017).
var gradCAMSpec = MethodSpec{
	Name: GradCAM, Title: "Grad-CAM", Family: LayerMap,
	Summary:       "activations weighted by their spatially averaged gradients, ReLU (Selvaraju et al. 2017)",
	LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
	Terms: func(in TermInputs) *Node {
		return in.Weighted(ReduceMean(in.G, in.Spatial...))
	},
}
