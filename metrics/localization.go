// Package metrics measures explanations, on any model and any method:
//
//   - localization against ground truth: the Grad-CAM paper's weakly supervised localization
//     (LocalizationBox) and the pointing game (PointingGame);
//   - faithfulness to the model, by removing or keeping what a map ranks first: deletion and
//     insertion curves (RISE), ROAD, Average Drop and Increase in Confidence (Grad-CAM++) and
//     pytorch-grad-cam's confidence change (Evaluator);
//   - sanity checks (Adebayo et al. 2018): maps of a model whose weights are randomized layer by
//     layer, compared with the trained model's by Spearman rank correlation and SSIM
//     (CascadingRandomization, Spearman, SSIM).
//
// Summarize averages them over a dataset into the rows of a table (Row), the numbers the CAM and
// Grad-CAM papers compare. The definitions follow the reference implementations (named on each
// function); where this package differs, the doc comment says so and why.
package metrics

import (
	"fmt"
	"math"
	"slices"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
)

// Heatmap is a 2-D map of one value per pixel, row-major: a CAM or a saliency map at the
// image's size.
type Heatmap struct {
	Values []float32
	H, W   int
}

// HeatmapOf turns an explanation map into a heatmap: a [H, W] map as it is; a gradient image
// [C, H, W] (input x gradient, integrated gradients, guided backprop) by the sum over channels
// of absolute values (Captum's visualization with sign "absolute_value"). Sequence maps are
// refused.
func HeatmapOf(m *gradcam.Map) (Heatmap, error) {
	if m == nil {
		return Heatmap{}, fmt.Errorf("no map: the explanation lacks the method's map (was the method requested?)")
	}
	switch len(m.Shape) {
	case 2:
		return Heatmap{Values: m.Values, H: m.Shape[0], W: m.Shape[1]}, nil
	case 3:
		c, h, w := m.Shape[0], m.Shape[1], m.Shape[2]
		out := make([]float32, h*w)
		for ch := range c {
			for i, v := range m.Values[ch*h*w : (ch+1)*h*w] {
				out[i] += float32(math.Abs(float64(v)))
			}
		}
		return Heatmap{Values: out, H: h, W: w}, nil
	}
	return Heatmap{}, fmt.Errorf("%s map of shape %v is not an image map ([H, W] or [C, H, W])", m.Method, m.Shape)
}

// check validates the heatmap against an image size.
func (hm Heatmap) check(metric string, h, w int) error {
	if hm.H != h || hm.W != w || len(hm.Values) != h*w {
		return fmt.Errorf("%s: the map is %dx%d (%d values) but the image is %dx%d: pass the map at the image's size "+
			"(Map.Values, not LowRes)", metric, hm.H, hm.W, len(hm.Values), h, w)
	}
	for _, v := range hm.Values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: the map holds %g", metric, v)
		}
	}
	return nil
}

// DefaultLocalizationThreshold is the Grad-CAM paper's: 15% of the map's maximum.
const DefaultLocalizationThreshold = 0.15

// LocalizationBox is the Grad-CAM paper's weakly supervised localization: binarize the map at
// threshold times its maximum (pixels >= that value), take the largest connected segment and
// return its bounding box (render.ThresholdBox: 8-connectivity, which the paper leaves open;
// among segments of equal size the first in row-major order wins). A map with no positive maximum (all zero, or all negative) localizes nothing: its
// box is the whole image, which counts as an error against any object much smaller than it.
func LocalizationBox(hm Heatmap, threshold float64) (data.Box, error) {
	if err := hm.check("localization", hm.H, hm.W); err != nil {
		return data.Box{}, err
	}
	if threshold < 0 || threshold > 1 {
		return data.Box{}, fmt.Errorf("localization threshold %g is not a fraction of the maximum in [0, 1]", threshold)
	}
	r, err := render.ThresholdBox(hm.Values, hm.W, hm.H, float32(threshold))
	if err != nil {
		return data.Box{}, err
	}
	if r.Empty() {
		return data.Box{X1: hm.W, Y1: hm.H}, nil
	}
	return data.Box{X0: r.Min.X, Y0: r.Min.Y, X1: r.Max.X, Y1: r.Max.Y}, nil
}

// LocalizationIoU is the Grad-CAM paper's criterion: a localization is correct when the box's
// intersection over union with the ground truth is at least 0.5 (and, for top-1 localization
// error, the predicted class is right).
const LocalizationIoU = 0.5

// DefaultPointingTolerance is TorchRay's pointing-game tolerance, in pixels.
const DefaultPointingTolerance = 15

// PointingGame is Zhang et al.'s pointing game as TorchRay scores it: the map's maximum (the
// first in row-major order) is a hit when a ground-truth pixel lies strictly within tolerance
// pixels of it (Euclidean distance < tolerance). Here the ground truth is a box. A map without
// a maximum (constant, e.g. all zero) points nowhere and misses.
func PointingGame(hm Heatmap, truth data.Box, tolerance float64) (bool, error) {
	if err := hm.check("pointing game", hm.H, hm.W); err != nil {
		return false, err
	}
	if tolerance < 0 {
		return false, fmt.Errorf("pointing game tolerance %g is negative", tolerance)
	}
	if truth.Area() == 0 {
		return false, fmt.Errorf("pointing game: the ground-truth box %+v is empty", truth)
	}
	arg := 0
	for i, v := range hm.Values {
		if v > hm.Values[arg] {
			arg = i
		}
	}
	if slices.Min(hm.Values) == hm.Values[arg] {
		return false, nil
	}
	py, px := float64(arg/hm.W), float64(arg%hm.W)
	// The nearest pixel of the box.
	nx := math.Max(float64(truth.X0), math.Min(px, float64(truth.X1-1)))
	ny := math.Max(float64(truth.Y0), math.Min(py, float64(truth.Y1-1)))
	return (nx-px)*(nx-px)+(ny-py)*(ny-py) < tolerance*tolerance, nil
}

// MassInBox is the share of a map's mass inside a box: the sum of its positive values in the box
// over their sum in the whole map (0 for a map without positive values). It measures where a map
// puts its evidence: a class's Grad-CAM in its own object's box and in another object's.
func MassInBox(hm Heatmap, box data.Box) (float64, error) {
	if err := hm.check("mass in box", hm.H, hm.W); err != nil {
		return 0, err
	}
	b := data.Box{X0: max(box.X0, 0), Y0: max(box.Y0, 0), X1: min(box.X1, hm.W), Y1: min(box.Y1, hm.H)}
	if b.Area() == 0 {
		return 0, fmt.Errorf("mass in box: the box %+v is empty or outside the %dx%d map", box, hm.W, hm.H)
	}
	return massIn(hm, func(x, y int) bool { return x >= b.X0 && x < b.X1 && y >= b.Y0 && y < b.Y1 }), nil
}

// MassInMask is MassInBox for a region given as a mask over the map's pixels (row-major, H*W):
// the share of a VQA answer's map on the queried object's pixels, or on one colour's half.
func MassInMask(hm Heatmap, mask []bool) (float64, error) {
	if err := hm.check("mass in mask", hm.H, hm.W); err != nil {
		return 0, err
	}
	if len(mask) != hm.H*hm.W {
		return 0, fmt.Errorf("mass in mask: the mask has %d pixels, the map %dx%d", len(mask), hm.W, hm.H)
	}
	return massIn(hm, func(x, y int) bool { return mask[y*hm.W+x] }), nil
}

// massIn is the share of the map's positive mass where inside says.
func massIn(hm Heatmap, inside func(x, y int) bool) float64 {
	var in, total float64
	for y := range hm.H {
		for x := range hm.W {
			v := float64(hm.Values[y*hm.W+x])
			if v <= 0 || math.IsNaN(v) {
				continue
			}
			total += v
			if inside(x, y) {
				in += v
			}
		}
	}
	if total == 0 {
		return 0
	}
	return in / total
}
