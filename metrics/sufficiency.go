package metrics

import (
	"fmt"
	"math"

	"github.com/gradcam-go/gradcam/gradcam"
)

// Sufficiency is Quantus's sufficiency (Dasgupta et al. 2022), a faithfulness metric over a
// batch: for each image, the share of the other images whose maps are close to its own that the
// model gives the same class; 0 when none is close. Higher is better. Evaluate measures it over
// the images of each batch (Options.BatchSize), as Quantus does over each of its batches.
const Sufficiency Metric = "sufficiency"

// DefaultSufficiencyThreshold is Quantus's: maps are close when their distance, scaled by the
// batch's largest, is at most 0.6.
const DefaultSufficiencyThreshold = 0.6

// SufficiencyOf is Sufficiency of the maps of a batch of images, the model's classes of the
// images, with Quantus's defaults: the maps scaled and absolute, their standardized Euclidean
// distances (scipy's cdist "seuclidean", each pixel's variance over the batch), those scaled by
// the largest, close at or below threshold. A pixel equal in every map has no variance and makes
// every distance undefined (0/0): then no pair is close and every value is 0, as in Quantus.
func SufficiencyOf(maps []Heatmap, classes []int, threshold float64) ([]float64, error) {
	n := len(maps)
	if n == 0 || len(classes) != n {
		return nil, fmt.Errorf("sufficiency: %d maps and %d classes (need one class per map, at least one map)", n, len(classes))
	}
	if !(threshold >= 0) {
		return nil, fmt.Errorf("sufficiency: threshold %g must be >= 0", threshold)
	}
	a := make([][]float64, n)
	for i, hm := range maps {
		if hm.H != maps[0].H || hm.W != maps[0].W {
			return nil, fmt.Errorf("sufficiency: map %d is %dx%d, map 0 %dx%d (need maps of one size)", i, hm.W, hm.H, maps[0].W, maps[0].H)
		}
		if err := hm.check("sufficiency", hm.H, hm.W); err != nil {
			return nil, err
		}
		a[i] = flat(hm, false, false)
	}
	// Quantus scales the batch by its largest absolute value, then takes absolute values. The
	// standardized distance does not change with the scale, but whether a pixel's variance is
	// exactly 0 does: the arithmetic follows NumPy's and scipy's (the variance over the maps
	// stacked twice, as cdist stacks its two arguments, summed row by row, ddof 1).
	largestValue := 0.0
	for _, v := range a {
		for _, x := range v {
			largestValue = max(largestValue, math.Abs(x))
		}
	}
	for _, v := range a {
		for j := range v {
			if largestValue > 0 {
				v[j] /= largestValue
			}
			v[j] = math.Abs(v[j])
		}
	}
	size := len(a[0])
	variance := make([]float64, size)
	for j := range size {
		m := 0.0
		for range 2 {
			for i := range n {
				m += a[i][j]
			}
		}
		m /= float64(2 * n)
		for range 2 {
			for i := range n {
				variance[j] += (a[i][j] - m) * (a[i][j] - m)
			}
		}
		variance[j] /= float64(2*n - 1)
	}
	dist := make([][]float64, n)
	largest := 0.0
	out := make([]float64, n)
	for i := range n {
		dist[i] = make([]float64, n)
		for k := range n {
			s := 0.0
			for j := range size {
				d := a[i][j] - a[k][j]
				s += d * d / variance[j]
			}
			dist[i][k] = math.Sqrt(s)
			if math.IsNaN(dist[i][k]) {
				return out, nil // the scaling by the largest (NumPy's max: NaN) leaves no pair close
			}
			largest = max(largest, dist[i][k])
		}
	}
	for i := range n {
		close, same := 0, 0
		for k := range n {
			if k == i {
				continue
			}
			d := dist[i][k]
			if largest != 0 {
				d /= largest
			}
			if d <= threshold {
				close++
				if classes[k] == classes[i] {
					same++
				}
			}
		}
		if close > 0 {
			out[i] = float64(same) / float64(close)
		}
	}
	return out, nil
}

// sufficiency measures Sufficiency over the batch's images whose maps were made.
func (a *accumulator) sufficiency(method string, start int, res []*gradcam.Explanation, failed []error) {
	var maps []Heatmap
	var classes, images []int
	for i, ex := range res {
		if failed[i] != nil {
			continue // recorded as the image's failure
		}
		hm, err := HeatmapOf(ex.Maps[gradcam.Method(method)])
		if err != nil {
			continue // recorded with the image's other metrics
		}
		maps, classes, images = append(maps, hm), append(classes, ex.Class), append(images, start+i)
	}
	if len(maps) == 0 {
		return
	}
	v, err := SufficiencyOf(maps, classes, DefaultSufficiencyThreshold)
	for i, idx := range images {
		if err != nil {
			a.fail(method, Sufficiency, idx, err)
			continue
		}
		a.add(method, Sufficiency, idx, v[i])
	}
}
