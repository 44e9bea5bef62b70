package fastvjp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/sgpoly"
)

// convRef is a 2-D convolution written out in loops, NHWC input, HWIO kernel (input channels
// per group), with PyTorch's geometry: the independent oracle of the gradients.
type convRef struct {
	B, H, W, C, KH, KW, O, groups int
	stride, dil                   [2]int
	pads                          [2][2]int // (top, bottom), (left, right)
}

func (c convRef) outSize() (ho, wo int) {
	ho = (c.H+c.pads[0][0]+c.pads[0][1]-c.dil[0]*(c.KH-1)-1)/c.stride[0] + 1
	wo = (c.W+c.pads[1][0]+c.pads[1][1]-c.dil[1]*(c.KW-1)-1)/c.stride[1] + 1
	return
}

// grads returns dL/dx and dL/dk for L = sum(conv(x, k) * dy).
func (c convRef) grads(x, k, dy []float64) (dx, dk []float64) {
	ho, wo := c.outSize()
	ci, og := c.C/c.groups, c.O/c.groups
	dx, dk = make([]float64, len(x)), make([]float64, len(k))
	for b := range c.B {
		for oy := range ho {
			for ox := range wo {
				for o := range c.O {
					g := dy[((b*ho+oy)*wo+ox)*c.O+o]
					grp := o / og
					for ky := range c.KH {
						iy := oy*c.stride[0] + ky*c.dil[0] - c.pads[0][0]
						if iy < 0 || iy >= c.H {
							continue
						}
						for kx := range c.KW {
							ix := ox*c.stride[1] + kx*c.dil[1] - c.pads[1][0]
							if ix < 0 || ix >= c.W {
								continue
							}
							for i := range ci {
								xi := ((b*c.H+iy)*c.W+ix)*c.C + grp*ci + i
								ki := ((ky*c.KW+kx)*ci+i)*c.O + o
								dx[xi] += g * k[ki]
								dk[ki] += g * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return dx, dk
}

// TestConvGradients checks the ConvGeneral gradient against convRef for the geometries the
// zoo, text CNNs and ONNX models have (even kernels, which GoMLX's own gradient gets wrong;
// strides whose last rows are never read; asymmetric padding; dilation; depthwise; channels
// first), and that they are computed here, not by the stock gradient. With the node's internals
// unreadable, building the gradient is an error: the stock gradient is wrong for even kernels,
// and without the parameters nothing can tell.
func TestConvGradients(t *testing.T) {
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	b := sgpoly.Wrap(sg) // Reverse and Pad, which simplego lacks, as package backend adds them
	one := [2]int{1, 1}
	cases := []struct {
		name          string
		c             convRef
		channelsFirst bool
	}{
		{"3x3 same", convRef{2, 7, 6, 3, 3, 3, 4, 1, one, one, [2][2]int{{1, 1}, {1, 1}}}, false},
		{"1-D width 4 (even)", convRef{2, 1, 9, 3, 1, 4, 5, 1, one, one, [2][2]int{}}, false},
		{"2x2 stride 2 (even, patchify)", convRef{1, 8, 8, 2, 2, 2, 3, 1, [2]int{2, 2}, one, [2][2]int{}}, false},
		{"1x1 stride 2, last row unread", convRef{1, 8, 7, 3, 1, 1, 2, 1, [2]int{2, 2}, one, [2][2]int{}}, false},
		{"7x7 stride 2 pad 3", convRef{1, 11, 12, 2, 7, 7, 2, 1, [2]int{2, 2}, one, [2][2]int{{3, 3}, {3, 3}}}, false},
		{"asymmetric padding, dilation 2", convRef{1, 9, 8, 2, 3, 3, 3, 1, one, [2]int{2, 2}, [2][2]int{{2, 0}, {1, 3}}}, false},
		{"depthwise stride 2", convRef{2, 7, 7, 4, 3, 3, 4, 4, [2]int{2, 2}, one, [2][2]int{{1, 1}, {1, 1}}}, false},
		{"depthwise 4x4 (even)", convRef{1, 6, 6, 3, 4, 4, 3, 3, one, one, [2][2]int{{1, 2}, {2, 1}}}, false},
		{"channels first, stride (2, 1)", convRef{2, 6, 5, 3, 3, 2, 4, 1, [2]int{2, 1}, one, [2][2]int{{1, 1}, {0, 1}}}, true},
	}
	rng := rand.New(rand.NewPCG(9, 10))
	random := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = rng.NormFloat64()
		}
		return out
	}
	for _, fallback := range []bool{false, true} {
		for _, tc := range cases {
			c := tc.c
			if fallback && c.groups > 1 {
				continue // the stock gradient splits it per channel there
			}
			t.Run(fmt.Sprintf("%s/fallback=%v", tc.name, fallback), func(t *testing.T) {
				if fallback {
					old := convFieldNames[0]
					convFieldNames[0] = "no such field"
					defer func() { convFieldNames[0] = old }()
				}
				ho, wo := c.outSize()
				x, k, dy := random(c.B*c.H*c.W*c.C), random(c.KH*c.KW*c.C/c.groups*c.O), random(c.B*ho*wo*c.O)
				wantX, wantK := c.grads(x, k, dy)
				before := convFallbacks.Load()
				exec, err := NewExec(b, func(xn, kn, dyn *Node) []*Node {
					// (NewExec builds lazily: errors of the graph show at Exec.)
					var y *Node
					if tc.channelsFirst {
						conv := Convolve(TransposeAllDims(xn, 0, 3, 1, 2), TransposeAllDims(kn, 3, 2, 0, 1)).
							AxesConfig(ConvolveAxesConfig{InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
								KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
								OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3}})
						y = TransposeAllDims(conv.StridePerDim(c.stride[0], c.stride[1]).DilationPerDim(c.dil[0], c.dil[1]).
							PaddingPerDim(c.pads[:]).Done(), 0, 2, 3, 1)
					} else {
						y = Convolve(xn, kn).StridePerDim(c.stride[0], c.stride[1]).DilationPerDim(c.dil[0], c.dil[1]).
							PaddingPerDim(c.pads[:]).ChannelGroupCount(c.groups).Done()
					}
					g := Gradient(ReduceAllSum(Mul(y, dyn)), xn, kn)
					return []*Node{g[0], g[1]}
				})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, c.B, c.H, c.W, c.C),
					tensors.FromFlatDataAndDimensions(k, c.KH, c.KW, c.C/c.groups, c.O),
					tensors.FromFlatDataAndDimensions(dy, c.B, ho, wo, c.O))
				if fallback {
					if err == nil || !strings.Contains(err.Error(), "parameters cannot be read") {
						t.Fatalf("unreadable node: %v, want an error saying the gradient cannot be trusted", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if fell := convFallbacks.Load() - before; fell > 0 != fallback {
					t.Errorf("%d stock gradients (fallback forced: %v)", fell, fallback)
				}
				for i, want := range [][]float64{wantX, wantK} {
					got := tensors.MustCopyFlatData[float64](outs[i])
					worst := 0.0
					for j := range want {
						worst = math.Max(worst, math.Abs(got[j]-want[j]))
					}
					if worst > 1e-9 || len(got) != len(want) {
						t.Errorf("%s gradient: max error %.3g", []string{"input", "kernel"}[i], worst)
					}
				}
			})
		}
	}
}

// TestStockConvGradientOnlyWhereRight: a convolution this package cannot express (padding wider
// than the kernel) with an even kernel, whose stock gradient is wrong, is an error naming why.
// (With an odd kernel the stock gradient is used: GoMLX v0.26.0 cannot set that geometry up
// either and says so itself.)
func TestStockConvGradientOnlyWhereRight(t *testing.T) {
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	b := sgpoly.Wrap(sg)
	before := convFallbacks.Load()
	exec, err := NewExec(b, func(xn, kn *Node) *Node {
		y := Convolve(xn, kn).PaddingPerDim([][2]int{{3, 3}, {3, 3}}).Done()
		return Gradient(ReduceAllSum(y), xn)[0]
	})
	if err == nil {
		_, err = exec.Exec(tensors.FromFlatDataAndDimensions(make([]float32, 1*6*6*2), 1, 6, 6, 2),
			tensors.FromFlatDataAndDimensions(make([]float32, 2*2*2*3), 2, 2, 2, 3))
	}
	if err == nil || !strings.Contains(err.Error(), "wrong for even kernel sizes") || convFallbacks.Load() != before {
		t.Errorf("2x2 kernel padded by 3: %v, want an error (the stock gradient is wrong), no stock gradient", err)
	}
}
