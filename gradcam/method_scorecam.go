package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// scoreCAMSpec is Score-CAM: activations weighted by the softmax of the scores of the image masked by each channel (Wang et al. 2020).
var scoreCAMSpec = MethodSpec{
	Name: ScoreCAM, Title: "Score-CAM", Family: LayerMap,
	Summary: "activations weighted by the softmax of the scores of the image masked by each channel (Wang et al. 2020)",
	Scaled:  true, EigenSmooth: true, Perturbation: true,
	Terms: func(in TermInputs) *Node {
		return in.A
	},
}
