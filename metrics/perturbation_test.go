package metrics

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// replayDraws hands out Quantus's recorded draws in the order it made them; ties keep pixel order
// (the reference maps have none where it matters).
type replayDraws struct {
	t        *testing.T
	subsets  [][]int
	uniforms []float64
	noise    [][]float64
	ints     []int
}

func (d *replayDraws) Subset(n, k int) []int {
	if len(d.subsets) == 0 || len(d.subsets[0]) != k {
		d.t.Fatalf("Quantus drew no more subsets of %d", k)
	}
	s := d.subsets[0]
	d.subsets = d.subsets[1:]
	return s
}

func (d *replayDraws) Uniform() float64 {
	if len(d.uniforms) == 0 {
		d.t.Fatal("Quantus drew no more uniforms")
	}
	u := d.uniforms[0]
	d.uniforms = d.uniforms[1:]
	return u
}

func (d *replayDraws) UniformNoise(_ float64, n int) []float64 { return d.nextNoise(n) }
func (d *replayDraws) NormalNoise(_ float64, n int) []float64  { return d.nextNoise(n) }

func (d *replayDraws) nextNoise(n int) []float64 {
	if len(d.noise) == 0 || len(d.noise[0]) != n {
		d.t.Fatalf("Quantus drew no more noise images of %d values", n)
	}
	z := d.noise[0]
	d.noise = d.noise[1:]
	return z
}

func (d *replayDraws) IntN(n int) int {
	if len(d.ints) == 0 || d.ints[0] >= n {
		d.t.Fatalf("Quantus drew no more integers below %d (left: %v)", n, d.ints)
	}
	v := d.ints[0]
	d.ints = d.ints[1:]
	return v
}

func (d *replayDraws) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// TestPerturbationMetricsMatchQuantus: the faithfulness and axiomatic metrics that run the model
// equal Quantus's own (testdata/reference_perturbation.py) on the real MobileNetV2, the same
// 96x96 image and maps as reference_metrics.py, and Quantus's recorded draws, within 1e-4 or 1%
// (the model runs in float32 on both sides); the pixel-flipping and region-perturbation curves
// value by value.
func TestPerturbationMetricsMatchQuantus(t *testing.T) {
	r := loadReference(t)
	dir, want := quantusRun(t, r, "reference_perturbation.py", "perturbation-ref")
	ev := NewEvaluator(gradcam.New(loadWeights(t, "mobilenet_v2", filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"))))
	// The reference script's options.
	ev.Quantus = QuantusOptions{Step: 1152, Runs: 20, Subset: 41, Samples: 4, PatchSize: 10, Regions: 30, InfidelityPatch: 12}
	top1 := r.classes["top1"]
	subsetValues, shape := testref.ReadNPYAs[int64](t, filepath.Join(dir, "subsets.npy"))
	uniforms, _ := testref.ReadNPYAs[float64](t, filepath.Join(dir, "uniforms.npy"))
	replay := func() *replayDraws {
		d := &replayDraws{t: t, uniforms: uniforms}
		for i := range shape[0] {
			s := make([]int, shape[1])
			for j := range s {
				s[j] = int(subsetValues[i*shape[1]+j])
			}
			d.subsets = append(d.subsets, s)
		}
		return d
	}
	near := nearQuantus

	checked := 0
	for _, metric := range perturbationMetrics {
		for _, tc := range []struct {
			key string
			hm  Heatmap
		}{{string(metric), r.hm}, {string(metric) + "/map2", r.hm2}} {
			w, ok := want[tc.key]
			if !ok {
				continue
			}
			d := replay()
			got, err := ev.perturbation(metric, r.x, tc.hm, top1, d)
			if err != nil {
				t.Fatalf("%s: %v", tc.key, err)
			}
			if metric == Monotonicity || metric == Completeness {
				w *= 100 // Quantus's booleans are percentages here
			}
			if !near(got, w) {
				t.Errorf("%s: %.8g, Quantus %.8g", tc.key, got, w)
			}
			if metric == FaithfulnessCorrelation && len(d.subsets) != 0 || metric == MonotonicityCorrelation && len(d.uniforms) != 0 {
				t.Errorf("%s: %d subsets and %d uniforms of Quantus's left unused", tc.key, len(d.subsets), len(d.uniforms))
			}
			checked++
		}
	}
	if checked != len(perturbationMetrics)+2 {
		t.Fatalf("compared %d values, the reference should have %d", checked, len(perturbationMetrics)+2)
	}

	for _, c := range []struct {
		name     string
		c, h, w  int
		channels func(v []float32) []float32
	}{
		{"segments", 3, 96, 96, func(v []float32) []float32 { return v }},
		{"segments_gray", 1, 96, 72, func(v []float32) []float32 {
			var out []float32
			for y := range 96 {
				out = append(out, v[y*96:y*96+72]...)
			}
			return out
		}},
	} {
		want, _ := testref.ReadNPYAs[int64](t, filepath.Join(dir, c.name+".npy"))
		got, n := superpixels(c.channels(tensors.MustCopyFlatData[float32](r.x)), c.c, c.h, c.w)
		differ := 0
		for i := range got {
			if int64(got[i]) != want[i] {
				differ++
			}
		}
		if differ > 0 || n != int(slices.Max(want))+1 {
			t.Errorf("%s: %d superpixels, scikit-image %d; %d of %d pixels labelled otherwise", c.name, n, slices.Max(want)+1, differ, len(got))
		}
	}

	for _, c := range []struct {
		name  string
		curve func(p *perturbed) ([]float64, error)
	}{
		{"pixel-flipping", func(p *perturbed) ([]float64, error) { return p.pixelFlipping() }},
		{"region-perturbation", func(p *perturbed) ([]float64, error) { return p.regionPerturbation(replay()) }},
	} {
		p, err := ev.perturbed(c.name, r.x, r.hm, top1, false, true, true, replay())
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.curve(p)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := testref.ReadNPYAs[float64](t, filepath.Join(dir, c.name+".npy"))
		if len(got) != len(ref) {
			t.Fatalf("%s: %d steps, Quantus %d", c.name, len(got), len(ref))
		}
		for i := range got {
			if !near(got[i], ref[i]) {
				t.Errorf("%s step %d: %.6g, Quantus %.6g", c.name, i, got[i], ref[i])
			}
		}
	}
}

// quantusRun runs a Quantus reference script of testdata on reference_metrics.py's image and maps
// (cached as name) and reads the values.json it writes.
func quantusRun(t *testing.T, r reference, script, name string) (dir string, values map[string]float64) {
	t.Helper()
	dir = testref.Ensure(t, "metrics/testdata/"+script, name, testref.Shared(), r.dir)
	b, err := os.ReadFile(filepath.Join(dir, "values.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &values); err != nil {
		t.Fatalf("%s's values.json: %v", script, err)
	}
	return dir, values
}

// nearQuantus is the parity tolerance of the metrics that run a float32 model: 1e-4, or 1%.
func nearQuantus(got, want float64) bool { return math.Abs(got-want) <= max(1e-4, 0.01*math.Abs(want)) }

// loadWeights loads a torchvision architecture with a checkpoint.
func loadWeights(t *testing.T, arch, path string) *models.Model {
	t.Helper()
	m, err := models.LoadFile(arch, path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// badInputCase is the bad-input tests' evaluator of a small network, one of its images and a
// ramp over the image as the map.
func badInputCase(t *testing.T) (*Evaluator, *tensors.Tensor, Heatmap) {
	t.Helper()
	m, set := tinySet(t, 1)
	x, _ := set.Batch([]int{0})
	h, w := int(x.Shape().Dimensions[2]), int(x.Shape().Dimensions[3])
	hm := Heatmap{Values: make([]float32, h*w), H: h, W: w}
	for i := range hm.Values {
		hm.Values[i] = float32(i)
	}
	return NewEvaluator(gradcam.New(m)), x, hm
}

// TestPerturbationMetricsBadInput: bad options, a map of another size, an all-zero map, a class
// out of range, an infidelity patch that does not divide the image and an unknown metric are
// one-line errors.
func TestPerturbationMetricsBadInput(t *testing.T) {
	ev, x, hm := badInputCase(t)
	h, w := hm.H, hm.W
	for _, tc := range []struct {
		name   string
		metric Metric
		o      QuantusOptions
		hm     Heatmap
		class  int
		want   string
	}{
		{"negative step", PixelFlipping, QuantusOptions{Step: -1}, hm, 0, "step -1"},
		{"subset too large", FaithfulnessCorrelation, QuantusOptions{Subset: 1 << 30}, hm, 0, "larger than"},
		{"negative eps", NonSensitivity, QuantusOptions{Eps: -1}, hm, 0, "eps"},
		{"map of another size", FaithfulnessEstimate, QuantusOptions{}, Heatmap{Values: []float32{1}, H: 1, W: 1}, 0, "1x1"},
		{"all-zero map", Monotonicity, QuantusOptions{}, Heatmap{Values: make([]float32, h*w), H: h, W: w}, 0, "all zero"},
		{"class out of range", Completeness, QuantusOptions{}, hm, 1000, "out of range"},
		{"infidelity patch", Infidelity, QuantusOptions{InfidelityPatch: 7}, hm, 0, "multiple of the patch size 7"},
		{"unknown", AverageDrop, QuantusOptions{}, hm, 0, "not a perturbation metric"},
	} {
		ev.Quantus = tc.o
		v, err := ev.Perturbation(tc.metric, x, tc.hm, tc.class)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (value %g), want one line saying %q", tc.name, err, v, tc.want)
		}
	}
}
