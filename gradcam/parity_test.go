package gradcam

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Occlusion settings shared with the reference run (large patches keep the test fast).
var testOcclusion = OcclusionOptions{Patch: 112, Stride: 56, BatchSize: 9}

// references returns the models' reference directory (random-weight checkpoints) and the
// explanations' reference directory.
func references(t testing.TB) (modelsRef, explainRef string) {
	modelsRef = testref.Ensure(t, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	explainRef = testref.Ensure(t, "gradcam/testdata/reference.py", "gradcam-ref", testref.Shared(), modelsRef,
		fmt.Sprint(testOcclusion.Patch), fmt.Sprint(testOcclusion.Stride))
	return
}

// loadTestModel loads a model with the random weights of the models' reference, or the real
// weights in ../shared/weights for mobilenet_v2 and squeezenet1_0.
func loadTestModel(t testing.TB, name string) *models.Model {
	t.Helper()
	modelsRef, _ := references(t)
	path := filepath.Join(modelsRef, name+".pth")
	switch name {
	case "mobilenet_v2":
		path = filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth")
	case "squeezenet1_0":
		path = filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth")
	}
	m, err := models.LoadFile(name, path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParityWithPyTorch compares every array of every method with the PyTorch reference on
// cat_dog.png for classes 243 (bull mastiff) and 282 (tiger cat): Pearson correlation >= 0.999
// and max error <= 1% of the reference's largest magnitude.
func TestParityWithPyTorch(t *testing.T) {
	_, ref := references(t)
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18", "vgg16", "alexnet", "mobilenet_v2", "squeezenet1_0"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name == "vgg16" {
				t.Skip("short mode")
			}
			m := loadTestModel(t, name)
			methods := []Method{GradCAM, Counterfactual, Saliency, GuidedBackprop, Deconvnet, GuidedGradCAM}
			if m.CAM != nil {
				methods = append(methods, CAM)
			}
			if name != "vgg16" { // 9 VGG-16 forwards on the pure-Go backend cost more than the test is worth
				methods = append(methods, Occlusion)
			}
			req := Request{Methods: methods, Classes: []int{243, 282}, Occlusion: testOcclusion}
			exps, err := New(m).Explain(x, req)
			if err != nil {
				t.Fatal(err)
			}
			// Arrays that differ from PyTorch float32 are recomputed in float64 and compared with
			// PyTorch float64: max pooling picks the larger of near-equal values, and float32
			// rounding (PyTorch's as ours) can order such near-ties differently from exact
			// arithmetic. A result that matches neither fails.
			failed := map[string]string{} // "class/array" -> how float32 differs
			var again []Method
			for _, ex := range exps {
				for _, method := range methods {
					for _, a := range arraysOf(ex.Maps[method]) {
						if msg := compareWithReference(t, ref, "", name, ex.Class, a); msg != "" {
							failed[fmt.Sprint(ex.Class, "/", a.name)] = msg
							if !slices.Contains(again, method) {
								again = append(again, method)
							}
						}
					}
				}
			}
			if len(failed) == 0 {
				return
			}
			m64, err := m.Float64()
			if err != nil {
				t.Fatal(err)
			}
			x64 := fromFloat32(toFloat32(x), m64.DType(), x.Shape().Dimensions...)
			exps64, err := New(m64).Explain(x64, Request{Methods: again, Classes: req.Classes, Occlusion: testOcclusion})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exps64 {
				for _, method := range again {
					for _, a := range arraysOf(ex.Maps[method]) {
						f32, ok := failed[fmt.Sprint(ex.Class, "/", a.name)]
						if !ok {
							continue
						}
						if msg := compareWithReference(t, ref, "f64", name, ex.Class, a); msg != "" {
							t.Errorf("class %d %s matches PyTorch neither in float32 (%s) nor in float64 (%s)", ex.Class, a.name, f32, msg)
						} else {
							t.Logf("class %d %-16s float32 differs at a max-pool near-tie (%s); float64 matches PyTorch float64",
								ex.Class, a.name, f32)
						}
					}
				}
			}
		})
	}
}

// array is one output array of a map, named like the reference files.
type array struct {
	name   string
	values []float32
	shape  []int
}

func arraysOf(mp *Map) []array {
	out := []array{{string(mp.Method), mp.Values, mp.Shape}}
	if mp.LowRes != nil {
		out = append(out, array{string(mp.Method) + "_lowres", mp.LowRes, mp.LowResShape})
	}
	return out
}

// compareWithReference checks one array against the reference of a precision ("" float32,
// "f64" float64): Pearson correlation >= 0.999 and max error <= 1% of the reference's largest
// magnitude. It returns "" when they match, else what differs. A missing reference is a
// failure, except counterfactual_lowres, which the references do not write (it is computed by
// the same code as gradcam_lowres).
func compareWithReference(t *testing.T, ref, precision, model string, class int, a array) string {
	t.Helper()
	file := filepath.Join(ref, precision, model, fmt.Sprint(class), a.name+".npy")
	if _, err := os.Stat(file); err != nil {
		if a.name == "counterfactual_lowres" {
			return ""
		}
		return "no reference array " + file
	}
	want, shape := testref.ReadNPY(t, file)
	if !slices.Equal(a.shape, shape) {
		return fmt.Sprintf("shape %v, PyTorch %v", a.shape, shape)
	}
	r, e := testref.Pearson(a.values, want), testref.MaxRelErr(a.values, want)
	if r >= 0.999 && e <= 0.01 && !math.IsNaN(e) {
		if precision == "" {
			t.Logf("class %d %-18s r=%.6f err=%.2g", class, a.name, r, e)
		}
		return ""
	}
	return fmt.Sprintf("correlation %.5f (>= 0.999), max error %.3g of max magnitude (<= 0.01)", r, e)
}

// TestMissingReferenceFails: an array without its reference file is a failure, not a pass
// (only counterfactual_lowres, which no reference writes, is exempt).
func TestMissingReferenceFails(t *testing.T) {
	dir := t.TempDir()
	a := array{name: "gradcam", values: []float32{1}, shape: []int{1}}
	if msg := compareWithReference(t, dir, "", "resnet18", 243, a); !strings.Contains(msg, "no reference array") {
		t.Errorf("a missing reference gave %q", msg)
	}
	a.name = "counterfactual_lowres"
	if msg := compareWithReference(t, dir, "", "resnet18", 243, a); msg != "" {
		t.Errorf("counterfactual_lowres: %q", msg)
	}
}
