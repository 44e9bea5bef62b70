package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// ablationCAMSpec is Ablation-CAM: activations weighted by the score drop when each channel is zeroed (Desai & Ramaswamy 2020).
var ablationCAMSpec = MethodSpec{
	Name: AblationCAM, Title: "Ablation-CAM", Family: LayerMap,
	Summary: "activations weighted by the score drop when each channel is zeroed (Desai & Ramaswamy 2020)",
	Scaled:  true, EigenSmooth: true, Perturbation: true,
	Terms: func(in TermInputs) *Node {
		return in.A
	},
}
