package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/gradcam-go/gradcam/data"
)

// Quantus's localisation and complexity metrics (Hedström et al. 2023; quantus.metrics), on a
// heatmap as HeatmapOf gives it (non-negative). Each follows Quantus's defaults: the map scaled
// by its largest absolute value (normalise_by_max, per map), its absolute value where Quantus
// takes it. TestQuantusMetricsMatch runs Quantus itself on the same maps and masks.
//
// The rank-based metrics (relevance rank accuracy, top-k intersection) break ties between equal
// values by pixel order (row-major); Quantus leaves them to numpy's unstable sort.

// BoxMask is the mask of the pixels inside any of the boxes, over an h x w map (row-major).
func BoxMask(h, w int, boxes ...data.Box) []bool {
	mask := make([]bool, h*w)
	for _, b := range boxes {
		for y := max(b.Y0, 0); y < min(b.Y1, h); y++ {
			for x := max(b.X0, 0); x < min(b.X1, w); x++ {
				mask[y*w+x] = true
			}
		}
	}
	return mask
}

// quantusMap checks hm (and mask, when given) and returns its values scaled by the largest
// absolute value, in float64; abs takes their absolute values.
func quantusMap(metric string, hm Heatmap, mask []bool, abs bool) ([]float64, error) {
	if err := hm.check(metric, hm.H, hm.W); err != nil {
		return nil, err
	}
	largest := 0.0
	for _, v := range hm.Values {
		largest = max(largest, math.Abs(float64(v)))
	}
	if largest == 0 {
		return nil, fmt.Errorf("%s: the map is all zero: it ranks and weighs nothing", metric)
	}
	if mask != nil {
		if len(mask) != len(hm.Values) {
			return nil, fmt.Errorf("%s: the mask has %d pixels, the map %dx%d", metric, len(mask), hm.W, hm.H)
		}
		if !slices.Contains(mask, true) {
			return nil, fmt.Errorf("%s: the mask is empty: give the object's pixels", metric)
		}
	}
	a := make([]float64, len(hm.Values))
	for i, v := range hm.Values {
		a[i] = float64(v) / largest
		if abs {
			a[i] = math.Abs(a[i])
		}
	}
	return a, nil
}

// RelevanceMassAccuracyOf is the share of the map's mass inside the mask (Arras et al. 2022;
// Quantus's RelevanceMassAccuracy): higher is better.
func RelevanceMassAccuracyOf(hm Heatmap, mask []bool) (float64, error) {
	a, err := quantusMap("relevance mass accuracy", hm, mask, false)
	if err != nil {
		return 0, err
	}
	var within, total float64
	for i, v := range a {
		total += v
		if mask[i] {
			within += v
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("relevance mass accuracy: the map's mass sums to 0")
	}
	return within / total, nil
}

// AttributionLocalisationOf is the share of the map's absolute mass inside the mask (Kohlbrenner
// et al. 2020; Quantus's AttributionLocalisation, unweighted): higher is better.
func AttributionLocalisationOf(hm Heatmap, mask []bool) (float64, error) {
	a, err := quantusMap("attribution localisation", hm, mask, true)
	if err != nil {
		return 0, err
	}
	var inside, total float64
	for i, v := range a {
		total += v
		if mask[i] {
			inside += v
		}
	}
	return inside / (total + 1e-9), nil
}

// ranked lists the pixels from the highest value down, ties in pixel order.
func ranked(a []float64) []int {
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(a[j], a[i]) })
	return idx
}

// RelevanceRankAccuracyOf is the share of the mask's K pixels among the map's K highest (Arras et
// al. 2022; Quantus's RelevanceRankAccuracy): higher is better.
func RelevanceRankAccuracyOf(hm Heatmap, mask []bool) (float64, error) {
	a, err := quantusMap("relevance rank accuracy", hm, mask, false)
	if err != nil {
		return 0, err
	}
	k := 0
	for _, in := range mask {
		if in {
			k++
		}
	}
	hits := 0
	for _, i := range ranked(a)[:k] {
		if mask[i] {
			hits++
		}
	}
	return float64(hits) / float64(k), nil
}

// TopKIntersectionOf is the share of the map's k highest pixels inside the mask (Theiner et al.
// 2021; Quantus's TopKIntersection, without concept influence): higher is better.
func TopKIntersectionOf(hm Heatmap, mask []bool, k int) (float64, error) {
	if k < 1 || k > len(hm.Values) {
		return 0, fmt.Errorf("top-k intersection: k = %d, but it takes 1 to %d pixels (the map's)", k, len(hm.Values))
	}
	a, err := quantusMap("top-k intersection", hm, mask, false)
	if err != nil {
		return 0, err
	}
	hits := 0
	for _, i := range ranked(a)[:k] {
		if mask[i] {
			hits++
		}
	}
	return float64(hits) / float64(k), nil
}

// AUCOf is the area under the ROC curve of the map's values as a score of the mask's
// pixels (Fawcett 2006; Quantus's AUC, scikit-learn's roc_curve and auc): the probability that a
// pixel of the mask outranks one outside it, ties counting half. 0.5 is chance, higher is better.
func AUCOf(hm Heatmap, mask []bool) (float64, error) {
	a, err := quantusMap("auc", hm, mask, false)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(mask, false) {
		return 0, fmt.Errorf("auc: the mask covers the whole map: nothing outside it to rank against")
	}
	// Ranks with ties averaged (Mann-Whitney): AUC = (sum of the mask's ranks - P(P+1)/2) / (P N).
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(a[i], a[j]) })
	var rankSum float64
	pos := 0
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && a[idx[j+1]] == a[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for _, p := range idx[i : j+1] {
			if mask[p] {
				rankSum += avg
				pos++
			}
		}
		i = j + 1
	}
	neg := len(a) - pos
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg)), nil
}

// SparsenessOf is the Gini index of the map's absolute values (Chalasani et al. 2020; Quantus's
// Sparseness): 1 when one pixel holds everything, near 0 when all hold the same. Higher is
// sparser.
func SparsenessOf(hm Heatmap) (float64, error) {
	a, err := quantusMap("sparseness", hm, nil, true)
	if err != nil {
		return 0, err
	}
	for i := range a {
		a[i] += 1e-7
	}
	slices.Sort(a)
	n := float64(len(a))
	var num, sum float64
	for i, v := range a {
		num += (2*float64(i+1) - n - 1) * v
		sum += v
	}
	return num / (n * sum), nil
}

// ComplexityOf is the entropy of the map's absolute values taken as a distribution over the pixels
// (Bhatt et al. 2020; Quantus's Complexity), in nats: lower is simpler.
func ComplexityOf(hm Heatmap) (float64, error) {
	a, err := quantusMap("complexity", hm, nil, true)
	if err != nil {
		return 0, err
	}
	var total float64
	for _, v := range a {
		total += v
	}
	var h float64
	for _, v := range a {
		p := v / total
		h -= p * math.Log(p+1e-12)
	}
	return h, nil
}

// DefaultEffectiveComplexityEps is Quantus's threshold of EffectiveComplexity.
const DefaultEffectiveComplexityEps = 1e-5

// EffectiveComplexityOf is the number of pixels whose absolute value, relative to the largest,
// exceeds eps (Nguyen and Martínez 2020; Quantus's EffectiveComplexity): lower is simpler.
func EffectiveComplexityOf(hm Heatmap, eps float64) (float64, error) {
	if eps < 0 {
		return 0, fmt.Errorf("effective complexity: eps %g is negative", eps)
	}
	a, err := quantusMap("effective complexity", hm, nil, true)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range a {
		if v > eps {
			n++
		}
	}
	return float64(n), nil
}
