package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/testnets"
)

// surrogateSamples is the number of samples of the surrogates' reference.
const surrogateSamples = 60

// TestSurrogatesMatchCaptum compares LIME and KernelSHAP with Captum's own
// (gradcam/testdata/reference_surrogates.py) on random-weight ResNet-18 and VGG-16 and the real
// SqueezeNet and MobileNetV2, two classes each, given the reference's SLIC superpixels and the
// samples Captum's samplers drew: correlation >= 0.999 and max error <= 1% of the largest value.
func TestSurrogatesMatchCaptum(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_surrogates.py", "surrogates-ref", testref.Shared(), modelsRef,
		fmt.Sprint(surrogateSamples))
	seg, _ := testref.ReadNPY(t, filepath.Join(ref, "segments.npy"))
	segments := make([]int32, len(seg))
	for i, v := range seg {
		segments[i] = int32(v)
	}
	given := map[Method][][]bool{}
	for _, m := range []Method{LIME, KernelShap} {
		data, shape := testref.ReadNPY(t, filepath.Join(ref, string(m)+"_samples.npy"))
		for s := range shape[0] {
			on := make([]bool, shape[1])
			for f := range on {
				on[f] = data[s*shape[1]+f] == 1
			}
			given[m] = append(given[m], on)
		}
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18", "vgg16", "squeezenet1_0", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			e := New(loadTestModel(t, name))
			for _, m := range []Method{LIME, KernelShap} {
				res, err := e.Explain(x, Request{Methods: []Method{m}, Classes: []int{243, 282},
					Surrogate: SurrogateOptions{Segments: segments, Given: given[m]}})
				if err != nil {
					t.Fatal(err)
				}
				for k, c := range []int{243, 282} {
					want, _ := testref.ReadNPY(t, filepath.Join(ref, name, string(m), fmt.Sprint(c)+".npy"))
					got := res.At(0, k).Maps[m].Values
					if r, maxErr := testref.Pearson(got, want), testref.MaxRelErr(got, want); r < 0.999 || maxErr > 0.01 || math.IsNaN(maxErr) {
						t.Errorf("%s class %d: r = %.6f, max error %.4f of the largest value", m, c, r, maxErr)
					}
				}
			}
		})
	}
}

// TestSuperpixels: SLIC and the grid cover the image with labels 0..M-1, each label one
// connected piece, about as many as asked; the same image gives the same superpixels.
func TestSuperpixels(t *testing.T) {
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	img := toFloat32(x)
	for _, tc := range []struct {
		name string
		seg  func() ([]int32, int)
	}{
		{"slic", func() ([]int32, int) { return SLIC(img, 3, 224, 224, 50, 10) }},
		{"grid", func() ([]int32, int) { return GridSegments(224, 224, 50) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels, n := tc.seg()
			if n < 25 || n > 100 {
				t.Errorf("%d segments for 50 asked", n)
			}
			seen := make([]int, n)
			for _, l := range labels {
				if l < 0 || int(l) >= n {
					t.Fatalf("label %d outside 0..%d", l, n-1)
				}
				seen[l]++
			}
			if slices.Contains(seen, 0) {
				t.Error("a label without pixels")
			}
			again, _ := tc.seg()
			if !slices.Equal(labels, again) {
				t.Error("the same image gave other superpixels")
			}
		})
	}
}

// TestSurrogatesBadInput: 0 samples, superpixels outside 1..pixels and segments or samples of
// the wrong size are one-line errors; LIME (with a tiny penalty: the untrained network's scores
// barely move, and Lasso's default zeroes them) and KernelSHAP run on their own superpixels and
// samples.
func TestSurrogatesBadInput(t *testing.T) {
	m, x := smallCNNInput(t)
	e := New(m)
	for _, tc := range []struct {
		o    SurrogateOptions
		want string
	}{
		{SurrogateOptions{Samples: -1}, "at least 1 sample"},
		{SurrogateOptions{Superpixels: 32*48 + 1}, "superpixels must be 1 to 1536"},
		{SurrogateOptions{Segments: make([]int32, 10)}, "10 labels for 1536 pixels"},
		{SurrogateOptions{Segments: make([]int32, 32*48), Given: [][]bool{{true, false}}}, "has 2 features"},
	} {
		_, err := e.Explain(x, Request{Methods: []Method{KernelShap}, Surrogate: tc.o})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want one line saying %q", tc.o, err, tc.want)
		}
	}
	for _, grid := range []bool{false, true} {
		res, err := e.Explain(x, Request{Methods: []Method{LIME, KernelShap}, Surrogate: SurrogateOptions{Samples: 30, Superpixels: 12, Grid: grid, Alpha: 1e-9}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []Method{LIME, KernelShap} {
			if mp := res[0].Maps[m]; mp == nil || !slices.Equal(mp.Shape, []int{32, 48}) || mp.AllZero {
				t.Errorf("grid %t: %s gave no map of the image's size, or zeros", grid, m)
			}
		}
	}
}

// TestKernelShapOnSequences: on the character CNN (a [16, 40] sequence) the features are cells of
// positions, and KernelSHAP's coefficients add up to the score's change from the baseline (its
// all-on and all-off samples weigh 1e6: Shapley's efficiency).
func TestKernelShapOnSequences(t *testing.T) {
	m, err := models.New(testnets.CharCNN, 5)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]float32, 16*40)
	for i := range data {
		data[i] = float32((i*53)%97)/48 - 1
	}
	x := tensors.FromFlatDataAndDimensions(data, 1, 16, 40)
	res, err := New(m).Explain(x, Request{Methods: []Method{KernelShap, LIME}, Classes: []int{2},
		Surrogate: SurrogateOptions{Samples: 60, Superpixels: 10}})
	if err != nil {
		t.Fatal(err)
	}
	mp := res[0].Maps[KernelShap]
	if !slices.Equal(mp.Shape, []int{40}) || !slices.Equal(res[0].Maps[LIME].Shape, []int{40}) {
		t.Fatalf("maps of shape %v and %v, want [40]", mp.Shape, res[0].Maps[LIME].Shape)
	}
	sum := 0.0
	for _, v := range mp.Values {
		sum += float64(v) / 4 // 10 cells of 4 positions
	}
	zero, err := m.Logits(tensors.FromFlatDataAndDimensions(make([]float32, 16*40), 1, 16, 40))
	if err != nil {
		t.Fatal(err)
	}
	want := float64(res[0].Logit - zero[0][2])
	if math.Abs(sum-want) > 1e-3*math.Max(1, math.Abs(want)) {
		t.Errorf("coefficients sum to %.5f, the score moved by %.5f", sum, want)
	}
}
