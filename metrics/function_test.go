package metrics

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/nn"
)

// TestEvaluateOnGoMLXFunction: every metric of Evaluate runs on a model given as a plain GoMLX
// function (gradcam.FromFunc), as on the tiny nn network of TestEvaluateReportsEveryMetric.
func TestEvaluateOnGoMLXFunction(t *testing.T) {
	_, set := tinySet(t, 4)
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
		CAMDense: "/readout", Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	ev := NewEvaluator(gradcam.New(m))
	ev.DeletionStep = 64
	ev.ROADPercentiles = []float64{30, 70}
	methods := []gradcam.Method{gradcam.CAM, gradcam.GradCAM, gradcam.Saliency}
	rep, err := Evaluate(ev, set, Options{Methods: methods, Metrics: AllMetrics, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(methods)*(len(AllMetrics)-1); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, r := range rep.Rows {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Failed > 0 {
			t.Errorf("%s %s = %g (%d failed)", r.Method, r.Metric, r.Value, r.Failed)
		}
	}
}
