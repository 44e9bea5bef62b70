package metrics

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/nn"
)

// TestEvaluateOnGoMLXFunction: every metric of Evaluate runs on a model given as a plain GoMLX
// function (gradcam.FromFunc), as on the tiny nn network of TestEvaluateReportsEveryMetric.
func TestEvaluateOnGoMLXFunction(t *testing.T) {
	set, m := gomlxFunction(t, 4, "/readout")
	ev := NewEvaluator(gradcam.New(m))
	ev.DeletionStep = 64
	ev.ROADPercentiles = []float64{30, 70}
	methods := []gradcam.Method{gradcam.CAM, gradcam.GradCAM, gradcam.Saliency}
	rep, err := Evaluate(ev, set, Options{Methods: methods, Metrics: All(), BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(methods)*(len(All())-1); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, r := range rep.Rows {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Failed > 0 {
			t.Errorf("%s %s = %g (%d failed)", r.Method, r.Metric, r.Value, r.Failed)
		}
		switch r.Metric {
		case RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation, TopKIntersection, AUC, Sparseness:
			if r.Value < 0 || r.Value > 1 {
				t.Errorf("%s %s = %g, not in [0, 1]", r.Method, r.Metric, r.Value)
			}
		case EffectiveComplexity:
			if r.Value < 1 || r.Value > 32*32 {
				t.Errorf("%s %s = %g pixels of 1024", r.Method, r.Metric, r.Value)
			}
		}
	}
}

// TestCascadingRandomizationOfGoMLXFunction: the sanity check runs on a GoMLX function model too:
// one step per context scope with trainable variables (the readout first), maps that change as
// the layers are drawn again, and the same numbers from the same seed.
func TestCascadingRandomizationOfGoMLXFunction(t *testing.T) {
	set, m := gomlxFunction(t, 2, "")
	x, _ := set.Batch([]int{0, 1})
	req := gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}}
	run := func() []SanityStep {
		steps, err := CascadingRandomization(m, x, req, 7)
		if err != nil {
			t.Fatal(err)
		}
		return steps[gradcam.GradCAM]
	}
	steps := run()
	want := []string{"", "/readout/dense", "/conv/conv"}
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d (the trained model, then %v)", len(steps), len(want), want[1:])
	}
	for i, st := range steps {
		if st.Layer != want[i] {
			t.Errorf("step %d randomizes %q, want %q", i, st.Layer, want[i])
		}
	}
	if last := steps[len(steps)-1]; last.Spearman > 0.9 {
		t.Errorf("with every layer drawn again, Grad-CAM's rank correlation with the trained maps is %.3f: the maps did not change", last.Spearman)
	}
	for i, st := range run() {
		if st.Spearman != steps[i].Spearman || st.SSIM != steps[i].SSIM {
			t.Errorf("step %d: %.6f/%.6f, then %.6f/%.6f from the same seed", i, steps[i].Spearman, steps[i].SSIM, st.Spearman, st.SSIM)
		}
	}
}

// gomlxFunction is tinySet's n images and a small CNN written with GoMLX's layers, adapted with
// gradcam.FromFunc (its dense readout is CAM's when camDense names it), its variables made by
// GoMLX's initializers from a fixed seed.
func gomlxFunction(t *testing.T, n int, camDense string) (*data.Set, gradcam.Model) {
	t.Helper()
	_, set := tinySet(t, n)
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	fn := func(ctx *context.Context, x *Node) *Node {
		x = layers.Convolution(ctx.In("conv"), x).Filters(8).KernelSize(3).PadSame().Done()
		x = nn.Tap(ctx, "features", nn.ReLU(ctx, x))
		return layers.Dense(ctx.In("readout"), ReduceMean(x, 1, 2), true, 3)
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(5))
	// Create the variables (GoMLX's initializers) with one forward.
	if _, err := context.ExecOnce(b, ctx, fn, tensors.FromFlatDataAndDimensions(append([]float32(nil), set.Inputs[:32*32]...), 1, 32, 32, 1)); err != nil {
		t.Fatal(err)
	}
	m, err := gradcam.FromFunc(fn, ctx, gradcam.FuncOptions{Name: "gomlx", Input: []int{1, 32, 32}, Labels: set.Classes,
		CAMDense: camDense, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	return set, m
}
