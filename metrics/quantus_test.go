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

// quantusReference makes the maps of TestQuantusMetricsMatch (Grad-CAM's and saliency's of a
// small network's four images, each given a small ramp), their box masks and their images'
// classes, and runs reference_quantus.py on them.
func quantusReference(t *testing.T) (maps []Heatmap, masks [][]bool, classes []int, ref string) {
	m, set := tinySet(t, 4)
	x, _ := set.Batch([]int{0, 1, 2, 3})
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}
	res, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: methods})
	if err != nil {
		t.Fatal(err)
	}
	var flatClasses []float32
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
			c := len(maps) % 3 // sufficiency's classes: several (the small network's top-1 is one class)
			classes = append(classes, c)
			flatClasses = append(flatClasses, float32(c))
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
	if err := npy.Write(filepath.Join(in, "classes.npy"), flatClasses, []int{len(flatClasses)}); err != nil {
		t.Fatal(err)
	}
	ref = testref.Ensure(t, "metrics/testdata/reference_quantus.py", "quantus-ref", testref.Shared(), in, fmt.Sprint(quantusTopK))
	return maps, masks, classes, ref
}

// TestQuantusMetricsMatch: the localisation and complexity metrics, and sufficiency, equal Quantus's own
// (../shared/peers/quantus, run by testdata/reference_quantus.py) on the same maps and masks:
// Grad-CAM's and saliency's maps of a small network's images and their boxes, within 1e-9.
// The maps get a small ramp (1e-6 per pixel, after scaling to 1) so that no two pixels tie:
// Quantus leaves ties to numpy's unstable sort, where ours keep pixel order.
func TestQuantusMetricsMatch(t *testing.T) {
	maps, masks, classes, ref := quantusReference(t)
	testSufficiencyMatchesQuantus(t, maps, classes, ref)
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}
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

// testSufficiencyMatchesQuantus: sufficiency over the maps of TestQuantusMetricsMatch as one
// batch, with three classes, equals Quantus's; and with pixel 0 equal in every map (no variance:
// Quantus's distances are all NaN) every value is 0 on both sides.
func testSufficiencyMatchesQuantus(t *testing.T, maps []Heatmap, classes []int, ref string) {
	var tied []Heatmap
	for _, hm := range maps {
		v := slices.Clone(hm.Values)
		v[0] = 2 // the batch's largest: 1 exactly once scaled, and so exactly its own mean
		tied = append(tied, Heatmap{Values: v, H: hm.H, W: hm.W})
	}
	for name, ms := range map[string][]Heatmap{"sufficiency": maps, "sufficiency-tied": tied} {
		got, err := SufficiencyOf(ms, classes, DefaultSufficiencyThreshold)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := testref.ReadNPYAs[float64](t, filepath.Join(ref, name+".npy"))
		if len(want) != len(got) {
			t.Fatalf("%s: %d values, Quantus %d", name, len(got), len(want))
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Errorf("%s, map %d: %g, Quantus %g", name, i, got[i], want[i])
			}
		}
		if (name == "sufficiency") != (slices.Max(want) > 0) {
			t.Errorf("Quantus's %s: %v: the test shows nothing", name, want)
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
