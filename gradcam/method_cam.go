package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// camSpec is CAM: activations weighted by the classifier's weights; GAP + linear heads only (Zhou et al. 2016).
var camSpec = MethodSpec{
	Name: CAM, Title: "CAM", Family: LayerMap,
	Summary: "activations weighted by the classifier's weights; GAP + linear heads only (Zhou et al. 2016)",
	Scaled:  true, RawMap: true,
	Terms: func(in TermInputs) *Node {
		w := in.CAMWeights()
		return in.Weighted(Einsum("bn,nc->bc", OneHot(in.Class, w.Shape().Dimensions[0], w.DType()), w))
	},
}
