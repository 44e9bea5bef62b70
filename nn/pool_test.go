package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
)

// TestMaxPoolGradientTies: where a window holds equal maxima, PyTorch routes the gradient to the
// first of them (row-major), also in ceil-mode windows that hang over the edge. Expected values
// from torch.nn.functional.max_pool2d(zeros(6, 6), 3, 2, ceil_mode=True).sum().backward().
func TestMaxPoolGradientTies(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := graph.NewExec(b, func(x *graph.Node) *graph.Node {
		y := NewBuilder(Config{}).MaxPool2D("pool", x, Pool{Kernel: 3, Stride: 2, Ceil: true})
		return graph.Gradient(graph.ReduceAllSum(y), x)[0]
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, 6, 6, 1))
	got := tensors.MustCopyFlatData[float32](exec.MustExec(x)[0])
	want := []float32{
		1, 0, 1, 0, 1, 0,
		0, 0, 0, 0, 0, 0,
		1, 0, 1, 0, 1, 0,
		0, 0, 0, 0, 0, 0,
		1, 0, 1, 0, 1, 0,
		0, 0, 0, 0, 0, 0,
	}
	if !slices.Equal(got, want) {
		t.Errorf("gradient of ceil-mode max pool on ties:\n got %v\nwant %v", got, want)
	}
}

// negInf padded max pooling's windows for the running Max: the lowest finite value, not -Inf, so
// that the gradient of Max between two padded positions (which subtracts them) is 0, never NaN.
const negInf = -math.MaxFloat32

// TestMaxPoolMatchesRunningMax: MaxPool2D (one ReduceWindow, whose gradient is one
// SelectAndScatterMax) gives the bits of the running Max over the window's strided views that it
// replaced (reduceWindows), its value and its gradient, on values with many ties, for ResNet's,
// VGG's and AlexNet's windows, a ceil-mode one, and MaxPool1D's: networks trained with the
// running Max (the shipped demo models) retrain to the same bytes.
func TestMaxPoolMatchesRunningMax(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name string
		x    []int
		pool Pool
	}{
		{"ResNet 3x3/2 padding 1", []int{2, 12, 13, 16}, Pool{Kernel: 3, Stride: 2, Padding: 1}},
		{"VGG 2x2/2", []int{1, 10, 10, 8}, Pool{Kernel: 2, Stride: 2}},
		{"AlexNet 3x3/2", []int{2, 13, 13, 5}, Pool{Kernel: 3, Stride: 2}},
		{"ceil mode", []int{1, 6, 7, 3}, Pool{Kernel: 3, Stride: 2, Ceil: true}},
		{"1-D", []int{2, 17, 6}, Pool{Kernel: 3, Stride: 2, Padding: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			for _, d := range tc.x {
				n *= d
			}
			vals, weights := make([]float32, n), make([]float32, n)
			for i := range vals {
				vals[i] = float32(rng.IntN(4)) - 1.5 // ties in most windows
				weights[i] = float32(rng.NormFloat64())
			}
			x := tensors.FromFlatDataAndDimensions(vals, tc.x...)
			w := tensors.FromFlatDataAndDimensions(weights, n)
			run := func(pool func(n *Builder, x *graph.Node) *graph.Node) []*tensors.Tensor {
				exec, err := graph.NewExec(b, func(x, w *graph.Node) []*graph.Node {
					y := pool(NewBuilder(Config{}), x)
					loss := graph.ReduceAllSum(graph.Mul(y, graph.Reshape(graph.Slice(w, graph.AxisRange(0, y.Shape().Size())), y.Shape().Dimensions...)))
					return []*graph.Node{y, graph.Gradient(loss, x)[0]}
				})
				if err != nil {
					t.Fatal(err)
				}
				return exec.MustExec(x, w)
			}
			got := run(func(n *Builder, x *graph.Node) *graph.Node {
				if x.Rank() == 3 {
					return n.MaxPool1D("pool", x, tc.pool)
				}
				return n.MaxPool2D("pool", x, tc.pool)
			})
			want := run(func(n *Builder, x *graph.Node) *graph.Node {
				if x.Rank() == 3 {
					d := x.Shape().Dimensions
					_, pl := tc.pool.axes("MaxPool1D pool", x, 3)
					y, _, _ := n.reduceWindows("pool", graph.Reshape(x, d[0], 1, d[1], d[2]), window{kernel: 1, stride: 1}, pl, negInf, graph.Max)
					yd := y.Shape().Dimensions
					return graph.Reshape(y, yd[0], yd[2], yd[3])
				}
				ph, pw := tc.pool.axes("MaxPool2D pool", x, 4)
				y, _, _ := n.reduceWindows("pool", x, ph, pw, negInf, graph.Max)
				return y
			})
			for i, what := range []string{"max", "gradient"} {
				if !got[i].Shape().Equal(want[i].Shape()) {
					t.Fatalf("%s: shape %s, the running Max's %s", what, got[i].Shape(), want[i].Shape())
				}
				g, w := tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i])
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
						t.Fatalf("%s, value %d: %v, the running Max's %v", what, j, g[j], w[j])
					}
				}
			}
		})
	}
}
