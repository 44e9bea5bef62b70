package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// reference is what metrics/testdata/reference_metrics.py writes.
type reference struct {
	dir        string
	x          *tensors.Tensor
	hm, hm2    Heatmap
	classes    map[string]int
	curves     map[string]float64
	confidence map[string]struct{ Drop, Increase, Before, After float64 }
	similarity map[string]float64
}

func loadReference(t *testing.T) reference {
	t.Helper()
	dir := testref.Ensure(t, "metrics/testdata/reference_metrics.py", "metrics-ref", testref.Shared())
	r := reference{dir: dir}
	x, shape := testref.ReadNPY(t, filepath.Join(dir, "x.npy"))
	r.x = tensors.FromFlatDataAndDimensions(x, shape...)
	for _, m := range []struct {
		file string
		hm   *Heatmap
	}{{"map.npy", &r.hm}, {"map2.npy", &r.hm2}} {
		v, s := testref.ReadNPY(t, filepath.Join(dir, m.file))
		*m.hm = Heatmap{Values: v, H: s[0], W: s[1]}
	}
	for file, v := range map[string]any{"classes.json": &r.classes, "curves.json": &r.curves,
		"confidence.json": &r.confidence, "similarity.json": &r.similarity} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	return r
}

// closeTo fails unless got and want agree within tol (absolute) element by element.
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, the reference has %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if !(worst <= tol) {
		t.Errorf("%s: |got - reference| = %.3g at %d (got %g, want %g), tolerance %g", what, worst, at, got[at], want[at], tol)
	}
}

// TestFaithfulnessMatchesReferences compares the deletion and insertion curves with RISE's
// published CausalMetric, and ROAD and the confidence metrics with pytorch-grad-cam's own code,
// on the real MobileNetV2 and the same image and maps (reference_metrics.py).
func TestFaithfulnessMatchesReferences(t *testing.T) {
	r := loadReference(t)
	m, err := models.LoadFile("mobilenet_v2", filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"))
	if err != nil {
		t.Fatal(err)
	}
	ev := NewEvaluator(gradcam.New(m))
	ev.ROADNoise = 0 // the reference runs pytorch-grad-cam's imputer with noise 0
	top1, other := r.classes["top1"], r.classes["other"]
	// Softmax probabilities: Go's float32 forward agrees with PyTorch's to ~1e-5 here.
	const tol = 2e-4

	t.Run("deletion-insertion", func(t *testing.T) {
		for _, c := range []struct {
			name string
			run  func(*tensors.Tensor, Heatmap, int) (Curve, error)
		}{{"deletion", ev.Deletion}, {"insertion", ev.Insertion}} {
			curve, err := c.run(r.x, r.hm, top1)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := testref.ReadNPY(t, filepath.Join(r.dir, c.name+".npy"))
			closeTo(t, c.name, curve.Scores, want, tol)
			if got := curve.AUC(); math.Abs(got-r.curves[c.name]) > tol {
				t.Errorf("%s AUC %.6f, RISE's %.6f", c.name, got, r.curves[c.name])
			}
			if curve.Step != r.hm.W {
				t.Errorf("%s step %d, want the width %d", c.name, curve.Step, r.hm.W)
			}
		}
	})

	t.Run("road", func(t *testing.T) {
		for _, class := range []int{top1, other} {
			res, err := ev.ROAD(r.x, r.hm, class)
			if err != nil {
				t.Fatal(err)
			}
			morf, _ := testref.ReadNPY(t, filepath.Join(r.dir, fmt.Sprintf("road_morf_%d.npy", class)))
			lerf, _ := testref.ReadNPY(t, filepath.Join(r.dir, fmt.Sprintf("road_lerf_%d.npy", class)))
			closeTo(t, fmt.Sprintf("ROAD MoRF class %d", class), res.MoRF, morf, tol)
			closeTo(t, fmt.Sprintf("ROAD LeRF class %d", class), res.LeRF, lerf, tol)
			combined := (mean(lerf) - mean(morf)) / 2
			if math.Abs(res.Combined()-combined) > tol {
				t.Errorf("ROAD combined class %d: %.6f, reference %.6f", class, res.Combined(), combined)
			}
		}
	})

	t.Run("confidence", func(t *testing.T) {
		for _, class := range []int{top1, other} {
			for name, hm := range map[string]Heatmap{"map": r.hm, "map2": r.hm2} {
				key := fmt.Sprintf("%s_%d", name, class)
				want := r.confidence[key]
				got, err := ev.Confidence(r.x, hm, class)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, key+" before/after", []float32{got.Before, got.After}, []float32{float32(want.Before), float32(want.After)}, tol)
				if math.Abs(got.Drop()-want.Drop) > tol {
					t.Errorf("%s: drop in confidence %.6f, pytorch-grad-cam %.6f", key, got.Drop(), want.Drop)
				}
				if inc := map[bool]float64{true: 1}[got.Increased()]; inc != want.Increase {
					t.Errorf("%s: increase in confidence %g, pytorch-grad-cam %g", key, inc, want.Increase)
				}
			}
		}
	})
}

// TestSimilarityMatchesSciPy compares Spearman's rank correlation with scipy.stats.spearmanr and
// SSIM with skimage's structural_similarity on two maps, one with ties.
func TestSimilarityMatchesSciPy(t *testing.T) {
	r := loadReference(t)
	rho, err := Spearman(r.hm.Values, r.hm2.Values)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rho-r.similarity["spearman"]) > 1e-9 {
		t.Errorf("Spearman %.12f, scipy %.12f", rho, r.similarity["spearman"])
	}
	for _, c := range []struct {
		name string
		a, b Heatmap
	}{{"ssim", r.hm, r.hm2}, {"ssim_self", r.hm, r.hm}} {
		s, err := SSIM(c.a, c.b, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s-r.similarity[c.name]) > 1e-6 {
			t.Errorf("%s %.9f, skimage %.9f", c.name, s, r.similarity[c.name])
		}
	}
}
