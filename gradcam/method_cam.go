package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// camSpec is CAM: activations weighted by the classifier's weights; GAP + linear heads only (Zhou et al. 2016).
var camSpec = MethodSpec{
	Name: CAM, Title: "CAM", Family: LayerMap,
	Summary: "activations weighted by the classifier's weights; GAP + linear heads only (Zhou et al. 2016)",
	Scaled:  true, RawMap: true,
	Terms: func(in TermInputs) *Node {
		// Each image's class row of the classifier's weights [classes, C]: a gather, not a
		// product of one-hot rows with the whole matrix (MobileNetV2's is 1000 x 1280).
		return in.Weighted(Gather(in.CAMWeights(), ExpandAxes(in.Class, -1)))
	},
}
