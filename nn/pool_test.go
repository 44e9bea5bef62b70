package nn

import (
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
