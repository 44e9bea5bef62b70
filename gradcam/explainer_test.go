package gradcam

import (
	"errors"
	"image"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/testnets"
)

func catDog(t testing.TB) *tensors.Tensor {
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestOneForwardPerCall: three methods for two classes build the network into one graph and
// execute it once; the same call again reuses the compiled graph.
func TestOneForwardPerCall(t *testing.T) {
	m := loadTestModel(t, "resnet18")
	e := New(m)
	x := catDog(t)
	req := Request{Methods: []Method{GradCAM, GuidedBackprop, CAM}, Classes: []int{243, 282}}
	for call := 1; call <= 2; call++ {
		builds, stats := m.ForwardBuilds(), e.Stats()
		exps, err := e.Explain(x, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(exps) != 2 || len(exps[0].Maps) != 3 || len(exps[1].Maps) != 3 {
			t.Fatalf("call %d: want 2 explanations of 3 maps", call)
		}
		gotBuilds, now := m.ForwardBuilds()-builds, e.Stats()
		wantBuilds := map[int]int64{1: 1, 2: 0}[call]
		if gotBuilds != wantBuilds || now.GraphBuilds-stats.GraphBuilds != int(wantBuilds) {
			t.Errorf("call %d: %d forward builds, %d graph builds; want %d (one forward shared by all methods and classes, "+
				"none when the graph is cached)", call, gotBuilds, now.GraphBuilds-stats.GraphBuilds, wantBuilds)
		}
		if n := now.Executions - stats.Executions; n != 1 {
			t.Errorf("call %d: %d graph executions, want 1", call, n)
		}
	}
}

// TestCAMIsGradCAMForGAPModels: for a network ending in global average pooling and a linear
// layer, dy_c/dA_k(i,j) = w_k^c / (h w), so Grad-CAM's alpha_k is CAM's weight up to a constant
// and the normalized maps coincide (Selvaraju et al., section 3.1).
func TestCAMIsGradCAMForGAPModels(t *testing.T) {
	x := catDog(t)
	for _, name := range []string{"resnet18", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m := loadTestModel(t, name)
			exps, err := New(m).Explain(x, Request{Methods: []Method{CAM, GradCAM}, Classes: []int{243, 282}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exps {
				cam, gc := ex.Maps[CAM].Values, ex.Maps[GradCAM].Values
				if r := testref.Pearson(cam, gc); !(r >= 0.9999) {
					t.Errorf("class %d: CAM vs Grad-CAM correlation %.6f, want >= 0.9999", ex.Class, r)
				} else {
					t.Logf("class %d: correlation %.7f, max difference %.2g", ex.Class, r, testref.MaxRelErr(cam, gc))
				}
			}
		})
	}
}

// TestAllZeroMap: a target with no gradient gives Grad-CAM maps of zeros flagged AllZero, not NaN.
func TestAllZeroMap(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	constant := Target{Name: "zero", Fn: func(logits, _ *Node) *Node { return ReduceSum(MulScalar(logits, 0), 1) }}
	exps, err := New(m).Explain(catDog(t), Request{Methods: []Method{GradCAM, Counterfactual, GuidedGradCAM}, Target: constant})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []Method{GradCAM, Counterfactual, GuidedGradCAM} {
		mp := exps[0].Maps[method]
		if !mp.AllZero {
			t.Errorf("%s: AllZero not set", method)
		}
		for _, v := range mp.Values {
			if v != 0 || math.IsNaN(float64(v)) {
				t.Fatalf("%s: value %v in an all-zero map", method, v)
			}
		}
	}
}

// TestTargets: the default class is the top-1 prediction, and a probability target explains the
// same class as the logit with a map of the same shape.
func TestTargets(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	e := New(m)
	x := catDog(t)
	exps, err := e.Explain(x, Request{Methods: []Method{GradCAM}})
	if err != nil {
		t.Fatal(err)
	}
	top, _ := m.Predict(x, 1)
	if exps[0].Class != top[0][0].Class || exps[0].Class != 243 {
		t.Errorf("default class %d, top-1 %d (README: 243 bull mastiff)", exps[0].Class, top[0][0].Class)
	}
	prob, err := e.Explain(x, Request{Methods: []Method{GradCAM}, Target: Probability(), Classes: []int{282}})
	if err != nil {
		t.Fatal(err)
	}
	if prob[0].Class != 282 || prob[0].Maps[GradCAM].AllZero {
		t.Errorf("probability target: class %d, all zero %v", prob[0].Class, prob[0].Maps[GradCAM].AllZero)
	}
	dogs := ClassSum("dogs", 242, 243)
	sum, err := e.Explain(x, Request{Methods: []Method{GradCAM}, Target: dogs})
	if err != nil {
		t.Fatal(err)
	}
	if r := testref.Pearson(sum[0].Maps[GradCAM].Values, exps[0].Maps[GradCAM].Values); !(r > 0.5) {
		t.Errorf("boxer+bull mastiff map barely resembles the bull mastiff map: r=%.3f", r)
	}
	// The same name over other classes is another target, not the first one's cached graph.
	cat, err := e.Explain(x, Request{Methods: []Method{GradCAM}, Target: ClassSum("dogs", 282)})
	if err != nil {
		t.Fatal(err)
	}
	single, err := e.Explain(x, Request{Methods: []Method{GradCAM}, Classes: []int{282}})
	if err != nil {
		t.Fatal(err)
	}
	if d := testref.MaxRelErr(cat[0].Maps[GradCAM].Values, single[0].Maps[GradCAM].Values); !(d <= 1e-5) {
		t.Errorf(`ClassSum("dogs", 282) after ClassSum("dogs", 242, 243) differs from class 282's map by %g: a cached graph of the other classes`, d)
	}
}

// TestBadRequests: clear errors, no panics.
func TestBadRequests(t *testing.T) {
	squeeze := New(loadTestModel(t, "squeezenet1_0"))
	alex := New(loadTestModel(t, "alexnet"))
	x := catDog(t)
	tests := []struct {
		name string
		e    *Explainer
		x    *tensors.Tensor
		req  Request
		want []string
		is   error
	}{
		{"unknown layer", squeeze, x, Request{Methods: []Method{GradCAM}, Layers: []string{"features.99"}},
			[]string{`unknown layer "features.99"`, "features.12", "features.3.expand3x3"}, nil},
		{"class out of range", squeeze, x, Request{Methods: []Method{GradCAM}, Classes: []int{1000}},
			[]string{"class 1000 out of range", "0..999"}, nil},
		{"negative class", squeeze, x, Request{Methods: []Method{GradCAM}, Classes: []int{-5}},
			[]string{"class -5 out of range"}, nil},
		{"no methods", squeeze, x, Request{}, []string{"no method given", "gradcam"}, nil},
		{"unknown method", squeeze, x, Request{Methods: []Method{"tcav"}}, []string{`unknown method "tcav"`}, nil},
		{"CAM without GAP", alex, x, Request{Methods: []Method{CAM}},
			[]string{"CAM does not apply to alexnet", "use gradcam"}, nn.ErrNoCAM},
		{"CAM at another layer", squeeze, x, Request{Methods: []Method{CAM}, Layers: []string{"features.7"}},
			[]string{"CAM does not apply at layer features.7", "features.12"}, nn.ErrNoCAM},
		{"grayscale tensor", squeeze, tensors.FromFlatDataAndDimensions(make([]float32, 224*224), 1, 1, 224, 224), Request{Methods: []Method{GradCAM}},
			[]string{"squeezenet1_0 takes a float32 [batch, 3, height, width] tensor", "[1 1 224 224]"}, nil},
		{"too small", squeeze, tensors.FromFlatDataAndDimensions(make([]float32, 3*16*16), 1, 3, 16, 16),
			Request{Methods: []Method{GradCAM}}, []string{"pooling features.", "too small for this network"}, nil},
		{"unnamed target", squeeze, x, Request{Methods: []Method{GradCAM}, Target: Target{Fn: Logit().Fn}},
			[]string{"Target has no Name"}, nil},
		{"image classes and classes", squeeze, x, Request{Methods: []Method{GradCAM}, Classes: []int{1}, ImageClasses: []int{2}},
			[]string{"not both"}, nil},
		{"image classes per image", squeeze, x, Request{Methods: []Method{GradCAM}, ImageClasses: []int{1, 2}},
			[]string{"2 classes for 1 images"}, nil},
		{"bad occlusion", squeeze, x, Request{Methods: []Method{Occlusion}, Occlusion: OcclusionOptions{Patch: 300, Stride: 1, BatchSize: 1}},
			[]string{"occlusion needs"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := testref.NoPanic(t, func() error {
				_, err := tc.e.Explain(tc.x, tc.req)
				return err
			})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

// TestImageClassesAndAt: one class per image (pytorch-grad-cam's targets list) gives each image
// the map it gets when explained alone for its class, and Results.At indexes by image and class.
func TestImageClassesAndAt(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	e := New(m)
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"), testref.Image("snake.png"))
	if err != nil {
		t.Fatal(err)
	}
	per, err := e.Explain(x, Request{Methods: []Method{GradCAM}, ImageClasses: []int{282, 56}})
	if err != nil {
		t.Fatal(err)
	}
	both, err := e.Explain(x, Request{Methods: []Method{GradCAM}, Classes: []int{282, 56}})
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != 2 || per.At(0, 0).Class != 282 || per.At(1, 0).Class != 56 || per.At(1, 1) != nil || per.At(2, 0) != nil {
		t.Fatalf("ImageClasses results: %d, classes %d and %d", len(per), per.At(0, 0).Class, per.At(1, 0).Class)
	}
	for i, k := range []int{0, 1} { // image i's class is Classes[k]
		got, want := per.At(i, 0), both.At(i, k)
		if got.Image != i || want.Class != got.Class || !slices.Equal(got.Maps[GradCAM].Values, want.Maps[GradCAM].Values) {
			t.Errorf("image %d: per-image class %d differs from the same class asked of every image", i, got.Class)
		}
	}
	if both.At(1, 1).Label != "king snake" || both.At(0, 0).Label != "tiger cat" {
		t.Errorf("labels %q, %q", both.At(0, 0).Label, both.At(1, 1).Label)
	}
}

// TestOcclusionStrideLongerThanPatch: pixels no patch covers get 0, not 0/0 = NaN (the CLI
// reached it with --occlusion-patch 10 --occlusion-stride 30).
func TestOcclusionStrideLongerThanPatch(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	res, err := New(m).Explain(catDog(t), Request{Methods: []Method{Occlusion}, Classes: []int{243},
		Occlusion: OcclusionOptions{Patch: 10, Stride: 30, BatchSize: 9}})
	if err != nil {
		t.Fatal(err)
	}
	v := res[0].Maps[Occlusion].Values
	nonzero := 0
	for _, x := range v {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN in the occlusion map")
		}
		if x != 0 {
			nonzero++
		}
	}
	if v[15*224+15] != 0 || nonzero == 0 {
		t.Errorf("uncovered pixel (15, 15) = %g, %d covered pixels nonzero", v[15*224+15], nonzero)
	}
}

// TestConcurrentExplain: several goroutines explain with one Explainer (different methods,
// classes and layers, so graphs are built and cached concurrently) and render the results at
// once; every result equals the one computed alone. Each call also finishes its explanations'
// maps on every core (eachParallel). Run with -race in CI.
func TestConcurrentExplain(t *testing.T) {
	m, err := models.New(testnets.CNN2D, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 2*3*32*48), 2, 3, 32, 48)
	for i := range 2 * 3 * 32 * 48 {
		x.MutableFlatData(func(flat any) { flat.([]float32)[i] = float32(i%97) / 97 })
	}
	reqs := []Request{
		{Methods: []Method{GradCAM, CAM}, Classes: []int{1}},
		{Methods: []Method{GuidedBackprop}, Classes: []int{2, 3}},
		{Methods: []Method{GradCAM}, Layers: []string{"relu2"}, ImageClasses: []int{4, 5}},
		{Methods: []Method{Saliency, Counterfactual}},
		{Methods: []Method{EigenCAM, LayerCAM, GradCAMPlusPlus}, Classes: []int{1, 2}, EigenSmooth: true},
	}
	want := make([]Results, len(reqs))
	for i, r := range reqs {
		if want[i], err = New(m).Explain(x, r); err != nil {
			t.Fatal(err)
		}
	}
	e := New(m)
	var wg sync.WaitGroup
	for round := range 3 {
		for i, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := e.Explain(x, r)
				if err != nil {
					t.Error(err)
					return
				}
				for j, ex := range got {
					for method, mp := range ex.Maps {
						if !slices.Equal(mp.Values, want[i][j].Maps[method].Values) {
							t.Errorf("round %d request %d: %s differs from the result computed alone", round, i, method)
						}
					}
				}
				grid := &render.Grid{Title: "concurrent", Rows: [][]render.Cell{{}}}
				for method, mp := range got[0].Maps {
					pic, err := render.Picture(mp.Values, mp.Shape, image.NewRGBA(image.Rect(0, 0, 48, 32)), render.Jet, 0)
					if err != nil {
						t.Error(err)
						return
					}
					grid.Rows[0] = append(grid.Rows[0], render.Cell{Image: pic, Caption: string(method)})
				}
				if _, err := grid.Render(); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
}

// TestOcclusionSizedByMemory: with BatchSize 0 the occluded images per forward follow
// OcclusionOptions.Memory (7 for a small network, 1 when the budget is tiny), and the map is the
// same whatever the batch.
func TestOcclusionSizedByMemory(t *testing.T) {
	m, x := smallCNNInput(t)
	var maps [][]float32
	for _, tc := range []struct {
		memory int64
		batch  int
	}{{DefaultOcclusionMemory, 7}, {1, 1}} {
		e := New(m)
		if got := e.occlusionBatch(32, 48, tc.memory); got != tc.batch {
			t.Errorf("memory %d: batch %d, want %d", tc.memory, got, tc.batch)
		}
		res, err := e.Explain(x, Request{Methods: []Method{Occlusion}, Classes: []int{1}, Occlusion: OcclusionOptions{Patch: 8, Stride: 8, Memory: tc.memory}})
		if err != nil {
			t.Fatal(err)
		}
		maps = append(maps, res[0].Maps[Occlusion].Values)
	}
	for i := range maps[0] {
		if math.Abs(float64(maps[0][i]-maps[1][i])) > 1e-5 {
			t.Fatalf("pixel %d: %g with batches of 7, %g with batches of 1", i, maps[0][i], maps[1][i])
		}
	}
}

// TestWorkerPanicIsAnError: a panic on one of the matrix multiply's worker goroutines (forced)
// comes back as an error from Explain instead of ending the process, and the next call works.
func TestWorkerPanicIsAnError(t *testing.T) {
	m := loadTestModel(t, "squeezenet1_0")
	e := New(m)
	x := catDog(t)
	backend.PanicInWorkersForTest(true)
	_, err := e.Explain(x, Request{Methods: []Method{GradCAM, GuidedBackprop}})
	backend.PanicInWorkersForTest(false)
	if err == nil || !strings.Contains(err.Error(), "a worker panicked (forced by a test)") {
		t.Fatalf("Explain with a worker panic: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the error is not one line: %q", err)
	}
	if _, err := e.Explain(x, Request{Methods: []Method{GradCAM, GuidedBackprop}}); err != nil {
		t.Errorf("the explainer after a worker's panic: %v", err)
	}
}

// TestOcclusionDefaultsKeepStrideAndBatch: a request that gives a stride and a batch size but no
// patch gets the default patch and keeps its stride and batch size (they were discarded).
func TestOcclusionDefaultsKeepStrideAndBatch(t *testing.T) {
	m, x := smallCNNInput(t)
	run := func(o OcclusionOptions) ([]float32, int) {
		e := New(m)
		res, err := e.Explain(x, Request{Methods: []Method{Occlusion}, Classes: []int{1}, Occlusion: o})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Maps[Occlusion].Values, e.Stats().Executions
	}
	patch := DefaultOcclusionFor(32, 48).Patch
	implicit, n1 := run(OcclusionOptions{Stride: 3, BatchSize: 5})
	explicit, n2 := run(OcclusionOptions{Patch: patch, Stride: 3, BatchSize: 5})
	defaults, _ := run(OcclusionOptions{})
	if !slices.Equal(implicit, explicit) || n1 != n2 {
		t.Errorf("stride 3, batch 5 without a patch: %d executions, map equal %v; with the default patch %d given: %d executions",
			n1, slices.Equal(implicit, explicit), patch, n2)
	}
	if slices.Equal(implicit, defaults) {
		t.Error("stride 3 gives the default stride's map: the stride was discarded")
	}
}

// smallCNNInput is a random-weight testnets.CNN2D and a 32x48 input of it, for tests of the
// occlusion loop (a small network runs many occluded forwards quickly).
func smallCNNInput(t *testing.T) (*models.Model, *tensors.Tensor) {
	t.Helper()
	m, err := models.New(testnets.CNN2D, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 3*32*48), 1, 3, 32, 48)
	x.MutableFlatData(func(flat any) {
		for i := range flat.([]float32) {
			flat.([]float32)[i] = float32(i%89) / 89
		}
	})
	return m, x
}
