package gradcam

import (
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestAllGradientCAMsOneForwardOneBackward: every CAM method computed from the activations and
// their gradients, requested at once for one class, builds the network once, takes one backward
// pass and runs one execution.
func TestAllGradientCAMsOneForwardOneBackward(t *testing.T) {
	m := loadTestModel(t, "resnet18")
	e := New(m)
	methods := []Method{GradCAM, Counterfactual, CAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM,
		FEM, EigenCAM, EigenGradCAM}
	builds := m.ForwardBuilds()
	res, err := e.Explain(catDog(t), Request{Methods: methods, Classes: []int{243}})
	if err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if n := m.ForwardBuilds() - builds; n != 1 || s.Backwards != 1 || s.Executions != 1 {
		t.Errorf("%d forwards, %d backward passes, %d executions; want 1, 1, 1", n, s.Backwards, s.Executions)
	}
	if len(res[0].Maps) != len(methods) {
		t.Errorf("%d maps for %d methods", len(res[0].Maps), len(methods))
	}
}

// smallNet is a CNN whose layer "c" is concatenated with the earlier "b" before the head, so
// Ablation-CAM at "c" cannot run the layers before it at batch 1 (the concatenation's other
// input keeps batch 1) and falls back to whole forwards; at "a" it can.
var smallNet = &nn.Network{Name: "concat", Input: []int{3, 24, 24},
	Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
		x = b.ReLU("a", b.Conv2D("conv1", x, nn.Conv{Out: 6, Kernel: 3, Padding: 1}))
		y := b.ReLU("b", b.Conv2D("conv2", x, nn.Conv{Out: 5, Kernel: 3, Padding: 1}))
		z := b.ReLU("c", b.Conv2D("conv3", y, nn.Conv{Out: 4, Kernel: 3, Padding: 1}))
		return b.Linear("fc", b.GlobalAvgPool("gap", b.Concat("cat", y, z)), 3)
	}}

func smallInput() *tensors.Tensor {
	data := make([]float32, 3*24*24)
	for i := range data {
		data[i] = float32((i*37)%101)/50 - 1
	}
	return tensors.FromFlatDataAndDimensions(data, 1, 3, 24, 24)
}

// TestAblationFallsBackToWholeForwards: where the layer-batch graph does not build, Ablation-CAM
// runs whole forwards and gives the same weights as the fast graph would; forcing the whole
// forwards where the fast graph works gives the same map.
func TestAblationFallsBackToWholeForwards(t *testing.T) {
	m, err := models.New(smallNet, 7)
	if err != nil {
		t.Fatal(err)
	}
	x := smallInput()
	for _, layer := range []string{"a", "c"} {
		e := New(m)
		fast, err := e.Explain(x, Request{Methods: []Method{AblationCAM}, Classes: []int{1}, Layers: []string{layer},
			Perturbation: PerturbationOptions{AblationBatch: 3}})
		if err != nil {
			t.Fatalf("%s: %v", layer, err)
		}
		key := "ablate|" + layer + "|logit|false"
		if fellBack := e.wholeForwards[key]; fellBack != (layer == "c") {
			t.Errorf("layer %s: fell back %t", layer, fellBack)
		}
		forced := New(m)
		forced.wholeForwards[key] = true
		slow, err := forced.Explain(x, Request{Methods: []Method{AblationCAM}, Classes: []int{1}, Layers: []string{layer}})
		if err != nil {
			t.Fatal(err)
		}
		a, b := fast[0].Maps[AblationCAM], slow[0].Maps[AblationCAM]
		if e := testref.MaxRelErr(a.LowRes, b.LowRes); e > 1e-5 || b.AllZero {
			t.Errorf("layer %s: whole forwards differ from the fallback or fast graph by %.3g (all zero %t)", layer, e, b.AllZero)
		}
	}
}

// TestMethodOptionErrors: bad options of the newer methods are one-line errors, never panics.
func TestMethodOptionErrors(t *testing.T) {
	m, err := models.New(smallNet, 7)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := models.New(&nn.Network{Name: "empty", Input: []int{3, 16, 16},
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
			x = b.ReLU("a", b.Conv2D("conv1", x, nn.Conv{Out: 4, Kernel: 3, Padding: 1}))
			b.Tap("none", graph.Slice(x, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, 0)))
			return b.Linear("fc", b.GlobalAvgPool("gap", x), 2)
		}}, 1)

	if err != nil {
		t.Fatal(err)
	}
	seq, err := models.New(testnets.CharCNN, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := smallInput()
	for _, tc := range []struct {
		name string
		m    *models.Model
		x    *tensors.Tensor
		req  Request
		want string
	}{
		{"negative std", m, x, Request{Methods: []Method{SmoothGrad}, SmoothGrad: SmoothGradOptions{Std: -1}}, "std must be >= 0"},
		{"smoothgrad of a CAM", m, x, Request{Methods: []Method{SmoothGrad}, SmoothGrad: SmoothGradOptions{Method: GradCAM}},
			`"gradcam" is not one`},
		{"smoothgrad type", m, x, Request{Methods: []Method{SmoothGrad}, SmoothGrad: SmoothGradOptions{Type: "median"}},
			`unknown SmoothGrad type "median"`},
		{"negative samples", m, x, Request{Methods: []Method{SmoothGrad}, SmoothGrad: SmoothGradOptions{Samples: -2}},
			"needs >= 1 samples"},
		{"noise size", m, x, Request{Methods: []Method{SmoothGrad}, SmoothGrad: SmoothGradOptions{Noise: [][]float32{{1}}}},
			"noise of 1 values"},
		{"ig negative steps", m, x, Request{Methods: []Method{IntegratedGradients},
			IntegratedGradients: IntegratedGradientsOptions{Steps: -1}}, "steps >= 1"},
		{"guided over saliency", m, x, Request{Methods: []Method{GuidedGradCAM}, GuidedCAM: Saliency}, `"saliency" is not one`},
		{"counterfactual of FEM", m, x, Request{Methods: []Method{GradCAM, FEM}, Counterfactual: true}, "fem cannot be asked with it"},
		{"layer twice", m, x, Request{Methods: []Method{GradCAM}, Layers: []string{"a", "a"}}, `layer "a" is listed twice`},
		{"score-cam without channels", empty, tensors.FromFlatDataAndDimensions(make([]float32, 3*16*16), 1, 3, 16, 16),
			Request{Methods: []Method{ScoreCAM}, Layers: []string{"none"}}, "Score-CAM needs a layer with channels; none has none"},
		{"ablation without channels", empty, tensors.FromFlatDataAndDimensions(make([]float32, 3*16*16), 1, 3, 16, 16),
			Request{Methods: []Method{AblationCAM}, Layers: []string{"none"}}, "Ablation-CAM needs a layer with channels"},
		{"score-cam batch", m, x, Request{Methods: []Method{ScoreCAM}, Perturbation: PerturbationOptions{ScoreCAMBatch: -1}},
			"batch sizes >= 1"},
		{"aug-smooth on sequences", seq, tensors.FromFlatDataAndDimensions(make([]float32, 16*40), 1, 16, 40),
			Request{Methods: []Method{GradCAM}, AugSmooth: true}, "flips images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := testref.NoPanic(t, func() error {
				_, err := New(tc.m).Explain(tc.x, tc.req)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// TestSmoothGradSeeded: the same seed gives the same map, another seed another one, and a tiny
// std gives the plain gradient method.
func TestSmoothGradSeeded(t *testing.T) {
	m, err := models.New(smallNet, 7)
	if err != nil {
		t.Fatal(err)
	}
	e := New(m)
	x := smallInput()
	run := func(o SmoothGradOptions) []float32 {
		t.Helper()
		res, err := e.Explain(x, Request{Methods: []Method{SmoothGrad, InputXGradient}, Classes: []int{2}, SmoothGrad: o})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Maps[SmoothGrad].Values
	}
	a := run(SmoothGradOptions{Seed: 1, Samples: 3})
	if !slices.Equal(a, run(SmoothGradOptions{Seed: 1, Samples: 3})) {
		t.Error("the same seed gave another map")
	}
	if slices.Equal(a, run(SmoothGradOptions{Seed: 2, Samples: 3})) {
		t.Error("another seed gave the same map")
	}
	res, err := e.Explain(x, Request{Methods: []Method{SmoothGrad, InputXGradient}, Classes: []int{2},
		SmoothGrad: SmoothGradOptions{Method: InputXGradient, Std: 1e-6, Samples: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if e := testref.MaxRelErr(res[0].Maps[SmoothGrad].Values, res[0].Maps[InputXGradient].Values); e > 1e-3 {
		t.Errorf("SmoothGrad with std 1e-6 differs from its method by %.3g of the maximum", e)
	}
}

// TestGuidedGradCAMOverAnyCAM: Guided Grad-CAM with GuidedCAM set is guided backprop times that
// method's map, pixel by pixel.
func TestGuidedGradCAMOverAnyCAM(t *testing.T) {
	m, err := models.New(smallNet, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, cam := range []Method{GradCAM, LayerCAM, ScoreCAM, AblationCAM, FullGrad} {
		res, err := New(m).Explain(smallInput(), Request{Methods: []Method{GuidedGradCAM, GuidedBackprop, cam}, Classes: []int{1},
			GuidedCAM: cam})
		if err != nil {
			t.Fatal(err)
		}
		g, gb, c := res[0].Maps[GuidedGradCAM].Values, res[0].Maps[GuidedBackprop].Values, res[0].Maps[cam].Values
		want := make([]float32, len(gb))
		for i := range gb {
			want[i] = gb[i] * c[i%len(c)]
		}
		if e := testref.MaxRelErr(g, want); e > 1e-6 || res[0].Maps[GuidedGradCAM].AllZero {
			t.Errorf("Guided %s differs from guided backprop x %s by %.3g", cam, cam, e)
		}
		alone, err := New(m).Explain(smallInput(), Request{Methods: []Method{GuidedGradCAM}, Classes: []int{1}, GuidedCAM: cam})
		if err != nil {
			t.Fatal(err)
		}
		if len(alone[0].Maps) != 1 || !slices.Equal(alone[0].Maps[GuidedGradCAM].Values, g) {
			t.Errorf("Guided %s asked alone: %d maps, or other values", cam, len(alone[0].Maps))
		}
	}
}

// TestEveryMethodRunsAndIsNamed runs every method (the registered ones included) on a small
// network and checks that each has a title and a summary, and a map without NaN (lrp with
// Captum's rules as its composite).
func TestEveryMethodRunsAndIsNamed(t *testing.T) {
	m, x := smallCNNInput(t)
	e := New(m)
	captum := nn.Composite{Name: "captum", Convolution: nn.WeightGamma(0.25), Dense: nn.Epsilon(1e-6)}
	for _, method := range Methods() {
		if method.Title() == "" || method.Summary() == "" {
			t.Errorf("%s: title %q, summary %q", method, method.Title(), method.Summary())
		}
		if method == CAM && m.CheckCAM() != nil {
			continue
		}
		res, err := e.Explain(x, Request{Methods: []Method{method}, Classes: []int{1}, LRP: LRPOptions{Composite: &captum}})
		if err != nil {
			t.Errorf("%s: %v", method, err)
			continue
		}
		mp := res[0].Maps[method]
		if mp == nil || len(mp.Values) == 0 {
			t.Errorf("%s: no map", method)
			continue
		}
		for _, v := range mp.Values {
			if v != v {
				t.Errorf("%s: NaN in the map", method)
				break
			}
		}
	}
}
