package gradcam

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/datasets"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/npy"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/testnets"
)

// patternNet is a CNN written with GoMLX's own layers, as a GoMLX user writes one: conv-BN-ReLU,
// max pooling, conv-ReLU, global average, dense. Its two ReLU outputs are tapped for
// explanations; relu chooses how its ReLUs are built.
func patternNet(relu func(ctx *context.Context, x *Node) *Node) ModelFunc {
	return func(ctx *context.Context, x *Node) *Node {
		x = layers.Convolution(ctx.In("conv1"), x).Filters(8).KernelSize(3).PadSame().Done()
		x = batchnorm.New(ctx.In("bn1"), x, -1).UseBackendInference(false).Done()
		x = nn.Tap(ctx, "block1", relu(ctx, x))
		x = MaxPool(x).Window(2).Done()
		x = layers.Convolution(ctx.In("conv2"), x).Filters(16).KernelSize(3).PadSame().Done()
		x = nn.Tap(ctx, "block2", relu(ctx, x))
		x = ReduceMean(x, 1, 2)
		return layers.Dense(ctx.In("readout"), x, true, 3)
	}
}

// patterns makes n 1x32x32 images (channels-last) of a 10x10 patch at a random place on noise:
// horizontal stripes (class 0), vertical stripes (1) or a checkerboard (2).
func patterns(n int, seed uint64) (images []float32, labels []int32) {
	rng := rand.New(rand.NewPCG(seed, 3))
	const size, patch = 32, 10
	images = make([]float32, n*size*size)
	labels = make([]int32, n)
	for i := range n {
		img := images[i*size*size : (i+1)*size*size]
		for p := range img {
			img[p] = float32(rng.NormFloat64() * 0.3)
		}
		c := rng.IntN(3)
		labels[i] = int32(c)
		y0, x0 := rng.IntN(size-patch+1), rng.IntN(size-patch+1)
		for y := range patch {
			for x := range patch {
				v := [3]int{y % 2, x % 2, (x + y) % 2}[c]
				img[(y0+y)*size+x0+x] = float32(2*v - 1)
			}
		}
	}
	return images, labels
}

// trainPatternNet trains patternNet with GoMLX's own trainer and optimizer.
func trainPatternNet(t *testing.T, b backends.Backend) *context.Context {
	t.Helper()
	x, y := patterns(600, 1)
	ds, err := datasets.InMemoryFromData(b, "patterns", []any{tensors.FromFlatDataAndDimensions(x, 600, 32, 32, 1)},
		[]any{tensors.FromFlatDataAndDimensions(y, 600, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ds.BatchSize(32, true).Infinite(true)
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, int64(42))
	net := patternNet(func(ctx *context.Context, x *Node) *Node { return nn.ReLU(ctx, x) })
	trainer := train.NewTrainer(b, ctx, func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		return []*Node{net(ctx, inputs[0])}
	}, losses.SparseCategoricalCrossEntropyLogits, optimizers.Adam().LearningRate(0.01).Done(), nil, nil)
	if _, err := train.NewLoop(trainer).RunSteps(ds, 150); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestGoMLXLayersNetwork: a network built from GoMLX's pkg/ml/layers and trained with GoMLX's
// trainer is explained through FromFunc. Its outputs, activations and every method's arrays
// equal the same network's in PyTorch on the same weights (gradcam/testdata/reference_layers.py,
// the bounds of TestParityWithPyTorch); every other method and the faithfulness metrics run on
// it; the methods that need rules refuse a function without nn.ReLU, with a one-line error.
func TestGoMLXLayersNetwork(t *testing.T) {
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := trainPatternNet(t, b)
	net := patternNet(func(ctx *context.Context, x *Node) *Node { return nn.ReLU(ctx, x) })
	m, err := FromFunc(net, ctx, FuncOptions{Name: "patterns", Input: []int{1, 32, 32}, Labels: []string{"horizontal", "vertical", "checkers"},
		CAMDense: "/readout", Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	ex := New(m)
	d := ex.Describe()
	if d.Outputs != 3 || d.DefaultLayer != "block2" || fmt.Sprint(d.ExplainableLayers()) != "[block1 block2]" {
		t.Fatalf("description: %d outputs, default %q, layers %v", d.Outputs, d.DefaultLayer, d.ExplainableLayers())
	}

	// Trained: held-out accuracy.
	hx, hy := patterns(150, 2)
	logits, err := ex.Logits(channelsFirst(hx, 150))
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i, row := range logits {
		if argmax(row) == int(hy[i]) {
			right++
		}
	}
	if acc := float64(right) / 150; acc < 0.9 {
		t.Fatalf("held-out accuracy %.3f after training with GoMLX's trainer, want >= 0.9", acc)
	}

	// Parity with PyTorch on the same weights.
	weights := t.TempDir()
	ctx.EnumerateVariables(func(v *context.Variable) {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		if val.DType() != dtypes.Float32 { // the optimizer's step counter
			return
		}
		name := strings.ReplaceAll(strings.TrimPrefix(v.ScopeAndName(), "/"), "/", "_")
		if err := npy.Write(filepath.Join(weights, name+".npy"), tensors.MustCopyFlatData[float32](val), val.Shape().Dimensions); err != nil {
			t.Fatal(err)
		}
	})
	input := channelsFirst(hx[:2*32*32], 2)
	if err := npy.Write(filepath.Join(weights, "input.npy"), tensors.MustCopyFlatData[float32](input), []int{2, 1, 32, 32}); err != nil {
		t.Fatal(err)
	}
	ref := testref.Ensure(t, "gradcam/testdata/reference_layers.py", "layers-ref",
		fmt.Sprint(testnets.OcclusionPatch), fmt.Sprint(testnets.OcclusionStride), weights)
	got, err := ex.Logits(input)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testref.ReadNPY(t, filepath.Join(ref, "logits.npy"))
	if e := testref.MaxRelErr(append(got[0], got[1]...), want); !(e < 1e-4) {
		t.Errorf("outputs differ from PyTorch's: %.3g", e)
	}
	methods := []Method{GradCAM, Counterfactual, Saliency, GuidedBackprop, Deconvnet, GuidedGradCAM, CAM, Occlusion}
	exps, err := ex.Explain(input, Request{Methods: methods, Classes: []int{0, 2},
		Occlusion: OcclusionOptions{Patch: testnets.OcclusionPatch, Stride: testnets.OcclusionStride, BatchSize: 8}})
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, e := range exps {
		for _, method := range methods {
			for _, a := range arraysOf(e.Maps[method]) {
				compared++
				if msg := compareWithReference(t, ref, "", fmt.Sprint(e.Image), e.Class, a); msg != "" {
					t.Errorf("image %d class %d %s: %s", e.Image, e.Class, a.name, msg)
				}
			}
		}
	}
	if compared < 4*len(methods) {
		t.Errorf("compared %d arrays, want at least %d", compared, 4*len(methods))
	}

	// Every method but FullGrad and LRP's runs, with finite maps of the input's size.
	var all []Method
	for _, method := range Methods() {
		if method != FullGrad && !method.spec().Relevance && !method.spec().Excitation {
			all = append(all, method)
		}
	}
	exps, err = ex.Explain(input, Request{Methods: all,
		IntegratedGradients: IntegratedGradientsOptions{Steps: 8}, SmoothGrad: SmoothGradOptions{Samples: 4}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exps {
		for _, method := range all {
			mp := e.Maps[method]
			if mp == nil || len(mp.Values) == 0 || mp.Shape[len(mp.Shape)-1] != 32 {
				t.Errorf("%s: no map of the input's width", method)
				continue
			}
			for _, v := range mp.Values {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Errorf("%s: non-finite value", method)
					break
				}
			}
		}
	}

	// Refusals, one line each.
	plain, err := FromFunc(patternNet(func(_ *context.Context, x *Node) *Node { return activations.Relu(x) }), ctx,
		FuncOptions{Name: "plain", Input: []int{1, 32, 32}, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model  Model
		method Method
		want   string
	}{
		{plain, GuidedBackprop, "nn.ReLU(ctx, x)"},
		{plain, GuidedGradCAM, "nn.ReLU(ctx, x)"},
		{plain, DeepLift, "nn.ReLU(ctx, x)"},
		{plain, CAM, "CAMDense"},
		{m, FullGrad, "does not record its biases"},
		{m, LRPEpsilonPlus, "rules apply to layers built with package nn"},
		{m, ExcitationBackprop, "rules apply to layers built with package nn"},
	} {
		_, err := New(tc.model).Explain(input, Request{Methods: []Method{tc.method}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s on %s: error %v, want one line naming %q", tc.method, tc.model.Describe().Name, err, tc.want)
		}
	}
	if _, err := New(plain).Explain(input, Request{Methods: []Method{GradCAM, Saliency}}); err != nil {
		t.Errorf("Grad-CAM and saliency need no rules: %v", err)
	}
}

// TestFromFuncErrors: what FromFunc refuses, each with a one-line error.
func TestFromFuncErrors(t *testing.T) {
	ctx := context.New()
	noTap := func(ctx *context.Context, x *Node) *Node {
		return layers.Dense(ctx.In("d"), Reshape(x, x.Shape().Dimensions[0], -1), true, 2)
	}
	if _, err := FromFunc(noTap, ctx, FuncOptions{Name: "untrained", Input: []int{1, 4, 4}}); err == nil ||
		!strings.Contains(err.Error(), "untrained") {
		t.Errorf("a function whose variables the context lacks: %v", err)
	}
	for _, tc := range []struct {
		name string
		fn   ModelFunc
		o    FuncOptions
		want string
	}{
		{"no input", noTap, FuncOptions{}, "Input must be"},
		{"no tap", func(_ *context.Context, x *Node) *Node { return ReduceSum(x, 1, 2) }, FuncOptions{Input: []int{1, 4, 4}}, "nn.Tap"},
		{"not 2-D", func(ctx *context.Context, x *Node) *Node { return nn.Tap(ctx, "a", x) }, FuncOptions{Input: []int{1, 4, 4}}, "[batch, outputs]"},
	} {
		_, err := FromFunc(tc.fn, ctx, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line naming %q", tc.name, err, tc.want)
		}
	}
}

// channelsFirst turns n 1-channel channels-last images into an NCHW tensor (the same data).
func channelsFirst(x []float32, n int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), x...), n, 1, 32, 32)
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}
