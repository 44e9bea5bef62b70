// Host steps: aggregating the layer maps, finishing Guided Grad-CAM, converting tensors.

package gradcam

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/heatmap"
)

// layerResult is what the graph returned for one layer map at one layer, for one image and class.
type layerResult struct {
	low      []float32 // the map at the layer's resolution
	lowShape []int
	up       []float32 // ReLU'd, scaled and upsampled to the input
	// terms are the per-channel terms [h, w, C] of the methods finished on the host, and
	// weights, when not nil, the per-channel weights that multiply them (Score-CAM,
	// Ablation-CAM).
	terms      []float32
	termsShape []int
	weights    []float32
}

// aggregateLayers finishes a layer map from its per-layer results: the host-finished methods'
// terms weighted and reduced (sum over channels, or the projection on the first principal
// component for eigen methods and EigenSmooth), every layer's map scaled and upsampled, then
// pytorch-grad-cam's aggregation: the mean over layers, min-max scaled again.
func aggregateLayers(method Method, lr []layerResult, size []int, eigenSmooth bool) (*Map, error) {
	mp := &Map{Method: method, Shape: slices.Clone(size)}
	ups := make([][]float32, len(lr))
	for l := range lr {
		r := &lr[l]
		if r.terms != nil {
			spatial := r.termsShape[:len(r.termsShape)-1]
			c := r.termsShape[len(r.termsShape)-1]
			n := shapeSize(spatial)
			if r.weights != nil {
				for p := range n {
					for ch := range c {
						r.terms[p*c+ch] *= r.weights[ch]
					}
				}
			}
			if method.spec().Eigen || eigenSmooth {
				p, err := principalProjection(r.terms, n, c)
				if err != nil {
					return nil, err
				}
				r.low = p
			} else {
				r.low = make([]float32, n)
				for p := range n {
					var v float32
					for ch := range c {
						v += r.terms[p*c+ch]
					}
					r.low[p] = max(v, 0)
				}
			}
			r.lowShape = slices.Clone(spatial)
			pos := make([]float32, n)
			for i, v := range r.low {
				pos[i] = max(v, 0)
			}
			r.up = upsample(heatmap.Normalize(pos), spatial, size)
		}
		ups[l] = r.up
	}
	mp.Values = heatmap.MeanNormalized(ups...)
	if len(lr) == 1 {
		mp.LowRes, mp.LowResShape = lr[0].low, lr[0].lowShape
	}
	return mp, nil
}

// finishGuided multiplies Guided Grad-CAM's guided gradients [C, H, W] with the chosen CAM map.
func finishGuided(result Results, cam Method) {
	for _, ex := range result {
		g, c := ex.Maps[GuidedGradCAM], ex.Maps[cam]
		hw := len(c.Values)
		for i := range g.Values {
			g.Values[i] *= c.Values[i%hw]
		}
		g.AllZero = allZero(g.Values, false)
	}
}

// allZero reports a map with nothing to show: all zeros, or (positiveOnly: raw CAM, which is
// ReLU'd before display) nothing above zero.
func allZero(v []float32, positiveOnly bool) bool {
	for _, x := range v {
		if x > 0 || (!positiveOnly && x != 0) {
			return false
		}
	}
	return true
}

// toFloat32 copies a float32 or float64 tensor's values as float32.
func toFloat32(t *tensors.Tensor) []float32 {
	if t.Shape().DType == dtypes.Float64 {
		f64 := tensors.MustCopyFlatData[float64](t)
		out := make([]float32, len(f64))
		for i, v := range f64 {
			out[i] = float32(v)
		}
		return out
	}
	return tensors.MustCopyFlatData[float32](t)
}

// fromFloat32 makes a tensor of the given precision from float32 values.
func fromFloat32(data []float32, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		f64 := make([]float64, len(data))
		for i, v := range data {
			f64[i] = float64(v)
		}
		return tensors.FromFlatDataAndDimensions(f64, dims...)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
