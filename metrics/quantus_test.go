package metrics

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/npy"
	"github.com/gradcam-go/gradcam/internal/testref"
)

// quantusTopK is the k of the top-k intersection in TestQuantusMetricsMatch (Quantus's default,
// 1000, is most of a 32x32 map).
const quantusTopK = 100

// TestQuantusMetricsMatch: the localisation and complexity metrics equal Quantus's own
// (../shared/peers/quantus, run by testdata/reference_quantus.py) on the same maps and masks:
// Grad-CAM's and saliency's maps of a small network's images and their boxes, within 1e-9.
// The maps get a small ramp (1e-6 per pixel, after scaling to 1) so that no two pixels tie:
// Quantus leaves ties to numpy's unstable sort, where ours keep pixel order.
func TestQuantusMetricsMatch(t *testing.T) {
	m, set := tinySet(t, 4)
	x, _ := set.Batch([]int{0, 1, 2, 3})
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}
	res, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: methods})
	if err != nil {
		t.Fatal(err)
	}
	var maps []Heatmap
	var masks [][]bool
	for i := range 4 {
		for _, method := range methods {
			hm, err := HeatmapOf(res.At(i, 0).Maps[method])
			if err != nil {
				t.Fatal(err)
			}
			v := slices.Clone(hm.Values)
			top := slices.Max(v)
			for p := range v {
				v[p] = v[p]/top + float32(p+1)*1e-6
			}
			if len(slices.Compact(slices.Sorted(slices.Values(v)))) != len(v) {
				t.Fatalf("image %d %s: tied values remain after the ramp", i, method)
			}
			maps = append(maps, Heatmap{Values: v, H: hm.H, W: hm.W})
			masks = append(masks, BoxMask(hm.H, hm.W, set.Boxes[i]))
		}
	}
	in := t.TempDir()
	flatMaps, flatMasks := []float32{}, []float32{}
	for k, hm := range maps {
		flatMaps = append(flatMaps, hm.Values...)
		for _, b := range masks[k] {
			flatMasks = append(flatMasks, map[bool]float32{true: 1}[b])
		}
	}
	shape := []int{len(maps), 32, 32}
	if err := npy.Write(filepath.Join(in, "maps.npy"), flatMaps, shape); err != nil {
		t.Fatal(err)
	}
	if err := npy.Write(filepath.Join(in, "masks.npy"), flatMasks, shape); err != nil {
		t.Fatal(err)
	}
	ref := testref.Ensure(t, "metrics/testdata/reference_quantus.py", "quantus-ref", testref.Shared(), in, fmt.Sprint(quantusTopK))
	for _, tc := range []struct {
		name string
		fn   func(hm Heatmap, mask []bool) (float64, error)
	}{
		{"relevance-mass-accuracy", RelevanceMassAccuracyOf},
		{"relevance-rank-accuracy", RelevanceRankAccuracyOf},
		{"attribution-localisation", AttributionLocalisationOf},
		{"top-k-intersection", func(hm Heatmap, mask []bool) (float64, error) { return TopKIntersectionOf(hm, mask, quantusTopK) }},
		{"auc", AUCOf},
		{"sparseness", func(hm Heatmap, _ []bool) (float64, error) { return SparsenessOf(hm) }},
		{"complexity", func(hm Heatmap, _ []bool) (float64, error) { return ComplexityOf(hm) }},
		{"effective-complexity", func(hm Heatmap, _ []bool) (float64, error) {
			return EffectiveComplexityOf(hm, DefaultEffectiveComplexityEps)
		}},
	} {
		want, _ := testref.ReadNPYAs[float64](t, filepath.Join(ref, tc.name+".npy"))
		if len(want) != len(maps) {
			t.Fatalf("%s: %d reference values for %d maps", tc.name, len(want), len(maps))
		}
		for k, hm := range maps {
			got, err := tc.fn(hm, masks[k])
			if err != nil {
				t.Fatalf("%s, map %d: %v", tc.name, k, err)
			}
			if math.Abs(got-want[k]) > 1e-9*max(1, math.Abs(want[k])) {
				t.Errorf("%s, map %d (image %d, %s): %.12g, Quantus %.12g", tc.name, k, k/2, methods[k%2], got, want[k])
			}
		}
	}
}

// TestQuantusMetricsBadInput: an all-zero map, an empty mask, a mask of another size, a k out of
// range and a negative eps are one-line errors, never NaN.
func TestQuantusMetricsBadInput(t *testing.T) {
	hm := Heatmap{Values: []float32{0, 1, 2, 3}, H: 2, W: 2}
	zero := Heatmap{Values: make([]float32, 4), H: 2, W: 2}
	mask := []bool{true, false, false, false}
	for _, tc := range []struct {
		name string
		fn   func() (float64, error)
		want string
	}{
		{"all-zero map", func() (float64, error) { return RelevanceMassAccuracyOf(zero, mask) }, "all zero"},
		{"all-zero map, sparseness", func() (float64, error) { return SparsenessOf(zero) }, "all zero"},
		{"empty mask", func() (float64, error) { return RelevanceRankAccuracyOf(hm, make([]bool, 4)) }, "mask is empty"},
		{"mask of another size", func() (float64, error) { return AttributionLocalisationOf(hm, []bool{true}) }, "1 pixels"},
		{"k too large", func() (float64, error) { return TopKIntersectionOf(hm, mask, 5) }, "1 to 4"},
		{"k zero", func() (float64, error) { return TopKIntersectionOf(hm, mask, 0) }, "k = 0"},
		{"mask everywhere", func() (float64, error) { return AUCOf(hm, []bool{true, true, true, true}) }, "whole map"},
		{"negative eps", func() (float64, error) { return EffectiveComplexityOf(hm, -1) }, "negative"},
	} {
		v, err := tc.fn()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (value %g), want one line saying %q", tc.name, err, v, tc.want)
		}
	}
}
