package nn_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestPoolsMatchPyTorch compares every pooling block with PyTorch's functional pooling on a
// 9x11 input: paddings, ceil mode (with a last window hanging over the edge), average pooling's
// count_include_pad both ways, adaptive pooling to a size that does not divide the input, 1-D
// pooling and max-over-time (testnets/reference.py, OUT/pools).
func TestPoolsMatchPyTorch(t *testing.T) {
	ref := filepath.Join(testnets.Reference(t), "pools")
	xData, xShape := testref.ReadNPY(t, filepath.Join(ref, "x.npy"))
	flat := func(x *graph.Node) *graph.Node { // [B, 9, 11, C] -> [B, 99, C], the NCL flatten(2) of NCHW
		d := x.Shape().Dimensions
		return graph.Reshape(x, d[0], d[1]*d[2], d[3])
	}
	tests := map[string]func(b *nn.Builder, x *graph.Node) *graph.Node{
		"max_k3s2p1": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.MaxPool2D("p", x, nn.Pool{Kernel: 3, Stride: 2, Padding: 1})
		},
		"max_k3s2_ceil": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.MaxPool2D("p", x, nn.Pool{Kernel: 3, Stride: 2, Ceil: true})
		},
		"avg_k2": func(b *nn.Builder, x *graph.Node) *graph.Node { return b.AvgPool2D("p", x, nn.Pool{Kernel: 2}) },
		"avg_k3s2p1": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.AvgPool2D("p", x, nn.Pool{Kernel: 3, Stride: 2, Padding: 1})
		},
		"avg_k3s2p1_ceil": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.AvgPool2D("p", x, nn.Pool{Kernel: 3, Stride: 2, Padding: 1, Ceil: true})
		},
		"avg_k3s2p1_ceil_exclude": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.AvgPool2D("p", x, nn.Pool{Kernel: 3, Stride: 2, Padding: 1, Ceil: true, ExcludePad: true})
		},
		"adaptive_4x5": func(b *nn.Builder, x *graph.Node) *graph.Node { return b.AdaptiveAvgPool2D("p", x, 4, 5) },
		"max1d_k3s2p1": func(b *nn.Builder, x *graph.Node) *graph.Node {
			return b.MaxPool1D("p", flat(x), nn.Pool{Kernel: 3, Stride: 2, Padding: 1})
		},
		"max_over_time": func(b *nn.Builder, x *graph.Node) *graph.Node { return b.MaxOverTime("p", flat(x)) },
	}
	be, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	for name, pool := range tests {
		t.Run(name, func(t *testing.T) {
			exec, err := graph.NewExec(be, func(x *graph.Node) *graph.Node {
				return nn.ChannelsFirst(pool(nn.NewBuilder(nn.Config{}), nn.ChannelsLast(x)))
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(xData, xShape...))
			if err != nil {
				t.Fatal(err)
			}
			want, shape := testref.ReadNPY(t, filepath.Join(ref, name+".npy"))
			if got := out[0].Shape().Dimensions; !slices.Equal(got, shape) {
				t.Fatalf("shape %v, PyTorch %v", got, shape)
			}
			if e := testref.MaxRelErr(tensors.MustCopyFlatData[float32](out[0]), want); !(e < 1e-6) {
				t.Errorf("differs from PyTorch by %.3g of its magnitude", e)
			}
		})
	}
}
