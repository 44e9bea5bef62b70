package fastdot_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// convCase is a convolution and its gradients, built with graph.Convolve as GoMLX's layers and
// the ONNX importer build them.
type convCase struct {
	name             string
	x, k             []int // input and kernel dimensions
	channelsFirst    bool  // NCHW input, OIHW kernel (ONNX); else NHWC, HWIO
	stride, dilation [2]int
	pads             [2][2]int
	groups           int
}

func (c convCase) build(x, k *Node) *Node {
	conv := Convolve(x, k).StridePerDim(c.stride[0], c.stride[1]).DilationPerDim(c.dilation[0], c.dilation[1]).
		PaddingPerDim([][2]int{c.pads[0], c.pads[1]}).ChannelGroupCount(c.groups)
	if c.channelsFirst {
		conv = conv.ChannelsAxis(1) // NCHW
		conv = conv.AxesConfig(ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
			KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
			OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}})
	}
	return conv.Done()
}

// withGradients is the convolution and its gradients as a graph of (input, kernel, weights):
// the output, and the gradients of sum(output * weights) with respect to the input (and the
// kernel, with kernel), with random arguments of its shapes.
func (c convCase) withGradients(t *testing.T, b backends.Backend, rng *rand.Rand, kernel bool) (fn func([]*Node) []*Node, x, k, w *tensors.Tensor) {
	t.Helper()
	x, _ = randomTensor(rng, c.x...)
	k, _ = randomTensor(rng, c.k...)
	y, err := ExecOnce(b, func(x, k *Node) *Node { return c.build(x, k) }, x, k)
	if err != nil {
		t.Fatal(err)
	}
	w, _ = randomTensor(rng, y.Shape().Dimensions...)
	fn = func(in []*Node) []*Node {
		y := c.build(in[0], in[1])
		wrt := []*Node{in[0]}
		if kernel {
			wrt = append(wrt, in[1])
		}
		return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, in[2])), wrt...)...)
	}
	return fn, x, k, w
}

// TestConvGeneralMatchesSimplego runs convolutions of the zoo's shapes, and their input and
// kernel gradients (ConvGenerals with dilated inputs, swapped axes, reversed kernels, negative
// padding), in float32 through fastdot and compares them with simplego's own float64
// ConvGeneral. With the executor's view of simplego's node broken, the same graphs must fall
// back to simplego and still agree.
func TestConvGeneralMatchesSimplego(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	if !fastdot.Installed() {
		if sgemm.Available() {
			t.Fatalf("fastdot not installed on an AVX2/FMA CPU: %v", fastdot.Install())
		}
		t.Skip("no AVX2/FMA: simplego's own ConvGeneral is used")
	}
	one := [2]int{1, 1}
	cases := []convCase{
		{"3x3 same", []int{2, 9, 11, 8}, []int{3, 3, 8, 16}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"7x7 stride 2 (ResNet stem)", []int{1, 23, 21, 3}, []int{7, 7, 3, 8}, false, [2]int{2, 2}, one, [2][2]int{{3, 3}, {3, 3}}, 1},
		{"3x3 one input channel (a first layer; its kernel gradient reduces positions)", []int{3, 12, 11, 1}, []int{3, 3, 1, 8}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"1x1", []int{2, 6, 5, 24}, []int{1, 1, 24, 12}, false, one, one, [2][2]int{}, 1},
		{"1x1 stride 2", []int{2, 7, 7, 8}, []int{1, 1, 8, 12}, false, [2]int{2, 2}, one, [2][2]int{}, 1},
		{"3x3 dilation 2, asymmetric padding", []int{1, 12, 10, 4}, []int{3, 3, 4, 6}, false, one, [2]int{2, 2}, [2][2]int{{2, 1}, {0, 3}}, 1},
		{"1x7 (Inception)", []int{1, 9, 9, 6}, []int{1, 7, 6, 5}, false, one, one, [2][2]int{{0, 0}, {3, 3}}, 1},
		{"1-D as 1xL (text CNN)", []int{2, 1, 20, 8}, []int{1, 5, 8, 6}, false, one, one, [2][2]int{{0, 0}, {2, 2}}, 1},
		{"1-D as 1xL, no padding", []int{2, 1, 20, 8}, []int{1, 3, 8, 6}, false, one, one, [2][2]int{}, 1},
		{"grouped (ResNeXt)", []int{2, 8, 8, 16}, []int{3, 3, 4, 8}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 4},
		{"depthwise (MobileNet)", []int{2, 10, 10, 12}, []int{3, 3, 1, 12}, false, [2]int{2, 2}, one, [2][2]int{{1, 1}, {1, 1}}, 12},
		{"NCHW (ONNX)", []int{2, 5, 9, 8}, []int{7, 5, 3, 3}, true, [2]int{2, 1}, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"large reduction (VGG conv5 at 14x14)", []int{1, 14, 14, 512}, []int{3, 3, 512, 64}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"reduction over two chunks", []int{1, 6, 7, 600}, []int{3, 3, 600, 20}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"1x1 over many row blocks", []int{3, 17, 13, 40}, []int{1, 1, 40, 33}, false, one, one, [2][2]int{}, 1},
		{"1x1 grouped", []int{2, 12, 11, 16}, []int{1, 1, 4, 8}, false, one, one, [2][2]int{}, 4},
		{"1x1 NCHW", []int{2, 6, 9, 8}, []int{5, 6, 1, 1}, true, one, one, [2][2]int{}, 1},
		// A 1x1 depthwise kernel (internal/sgpoly's zero Pad): strided, and its input gradient
		// dilates its input and pads it. (The depthwise kernel gradients above pad with one too.)
		{"depthwise 1x1 stride 2", []int{2, 9, 10, 12}, []int{1, 1, 1, 12}, false, [2]int{2, 2}, one, [2][2]int{}, 12},
		{"depthwise 1x1 stride 2, many channels", []int{2, 9, 9, 40}, []int{1, 1, 1, 40}, false, [2]int{2, 2}, one, [2][2]int{}, 40},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, fallback := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/fallback=%v", tc.name, fallback), func(t *testing.T) {
				if fallback {
					defer fastdot.RenameConvField(0, "no such field")()
				}
				x32, x64 := randomTensor(rng, tc.x...)
				k32, k64 := randomTensor(rng, tc.k...)
				var w32, w64 *tensors.Tensor
				fn := func(in []*Node) []*Node {
					y := tc.build(in[0], in[1])
					loss := ReduceAllSum(Mul(y, in[2]))
					g := Gradient(loss, in[0], in[1])
					return []*Node{y, g[0], g[1]}
				}
				run := func(args ...any) ([]*tensors.Tensor, error) {
					e, err := NewExecAny(b, fn)
					if err != nil {
						return nil, err
					}
					return e.Exec(args...)
				}
				// The output's shape gives the loss weights' shape.
				y, err := ExecOnce(b, func(x, k *Node) *Node { return tc.build(x, k) }, x32, k32)
				if err != nil {
					t.Fatal(err)
				}
				w32, w64 = randomTensor(rng, y.Shape().Dimensions...)
				calls, fallbacks := fastdot.Counted().Conv, fastdot.Counted().ConvFallbacks
				got, err := run(x32, k32, w32)
				if err != nil {
					t.Fatal(err)
				}
				ran, fell := fastdot.Counted().Conv-calls, fastdot.Counted().ConvFallbacks-fallbacks
				if fallback && ran > 0 || !fallback && (ran < 2 || fell != 0) { // depthwise: its kernel gradient is no convolution
					t.Errorf("fastdot ran %d ConvGenerals, simplego %d (fallback forced: %v)", ran, fell, fallback)
				}
				want, err := run(x64, k64, w64)
				if err != nil {
					t.Fatal(err)
				}
				for i, what := range []string{"output", "input gradient", "kernel gradient"} {
					g, w := tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float64](want[i])
					if len(g) != len(w) {
						t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
					}
					scale, worst := 0.0, 0.0
					for j := range w {
						scale = max(scale, math.Abs(w[j]))
						worst = max(worst, math.Abs(float64(g[j])-w[j]))
					}
					if worst > 1e-5*scale || math.IsNaN(worst) || scale == 0 {
						t.Errorf("%s: max error %.3g against max magnitude %.3g", what, worst, scale)
					}
				}
			})
		}
	}
}

// TestConvInPlaceKernelMatchesPacked: convolutions of few output positions read their kernel
// matrix where it lies, forward (sgemm.InPlaceB) and in their input gradients (run transposed,
// the kernel's rows read in runs); they give the bits of the same convolutions with the kernel
// packed, forward and in their gradients, for 1x1, 3x3 (a reduction over several panels and
// over several chunks), stride 2, the dense layer of a 1x1 image, and channel counts off the
// register tile's 12 rows.
func TestConvInPlaceKernelMatchesPacked(t *testing.T) {
	b := inPlaceBackend(t)
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	cases := []convCase{
		{"1x1, 7x7 image", []int{1, 7, 7, 96}, []int{1, 1, 96, 64}, false, one, one, [2][2]int{}, 1},
		{"3x3 over several panels", []int{2, 7, 7, 64}, []int{3, 3, 64, 32}, false, one, one, pad, 1},
		{"3x3 stride 2", []int{1, 14, 14, 32}, []int{3, 3, 32, 64}, false, [2]int{2, 2}, one, pad, 1},
		{"1x1 image", []int{3, 1, 1, 300}, []int{1, 1, 300, 64}, false, one, one, [2][2]int{}, 1},
		{"3x3, more input channels than positions", []int{1, 7, 7, 200}, []int{3, 3, 200, 64}, false, one, one, pad, 1},
		{"3x3, 100 input channels, taps across panels", []int{1, 5, 6, 100}, []int{3, 3, 100, 40}, false, one, one, pad, 1},
		{"3x3 over two chunks", []int{1, 3, 3, 600}, []int{3, 3, 600, 544}, false, one, one, pad, 1},
	}
	rng := rand.New(rand.NewPCG(15, 16))
	before := fastdot.Counted()
	defer func() {
		after := fastdot.Counted()
		if after.InPlaceKernels == before.InPlaceKernels || after.KernelRows == before.KernelRows {
			t.Errorf("kernels read in place %d times forward, %d transposed: want both",
				after.InPlaceKernels-before.InPlaceKernels, after.KernelRows-before.KernelRows)
		}
	}()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, x, k, w := tc.withGradients(t, b, rng, true)
			count := func() int64 { c := fastdot.Counted(); return c.InPlaceKernels + c.KernelRows }
			if sameBitsWithout(t, b, fn, count, fastdot.PackBForTest, "packed", x, k, w) == 0 {
				t.Fatalf("no kernel matrix read in place")
			}
		})
	}
}
