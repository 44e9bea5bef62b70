package fastdot_test

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestKernelGradientTransposedMatchesPanels computes kernel gradients whose reduction runs over
// every position of the batch both ways, transposed and as the panels' products, and wants the
// same bits: the transposed product gathers and packs differently but must add the same panel
// sums in the same order. The shapes cover a first layer (one input channel), few and many
// channels, strides (runs read every other column), a dilated kernel with asymmetric padding,
// the ResNet stem, slices that are no multiple of the panel depth, and slices of several panels.
func TestKernelGradientTransposedMatchesPanels(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	if !fastdot.Installed() {
		t.Skip("no AVX2/FMA: simplego's own ConvGeneral is used")
	}
	one := [2]int{1, 1}
	cases := []convCase{
		{"first layer (demo CNN's)", []int{16, 24, 24, 1}, []int{3, 3, 1, 8}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"first layer, slices of two panels", []int{20, 32, 32, 1}, []int{3, 3, 1, 8}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"8 to 16 channels", []int{8, 16, 16, 8}, []int{3, 3, 8, 16}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"32 to 32 channels", []int{4, 16, 16, 32}, []int{3, 3, 32, 32}, false, one, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"stride 2", []int{4, 33, 31, 4}, []int{3, 3, 4, 12}, false, [2]int{2, 2}, one, [2][2]int{{1, 1}, {1, 1}}, 1},
		{"dilation 2, asymmetric padding", []int{3, 20, 18, 4}, []int{3, 3, 4, 10}, false, one, [2]int{2, 2}, [2][2]int{{2, 0}, {0, 2}}, 1},
		{"7x7 stride 2 (ResNet stem)", []int{2, 40, 40, 3}, []int{7, 7, 3, 8}, false, [2]int{2, 2}, one, [2][2]int{{3, 3}, {3, 3}}, 1},
		{"1x5, one row (text CNN)", []int{16, 1, 64, 8}, []int{1, 5, 8, 12}, false, one, one, [2][2]int{{0, 0}, {2, 2}}, 1},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, _ := randomTensor(rng, tc.x...)
			k, _ := randomTensor(rng, tc.k...)
			y, err := ExecOnce(b, func(x, k *Node) *Node { return tc.build(x, k) }, x, k)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := randomTensor(rng, y.Shape().Dimensions...)
			grad := func(in []*Node) []*Node {
				return []*Node{Gradient(ReduceAllSum(Mul(tc.build(in[0], in[1]), in[2])), in[1])[0]}
			}
			count := func() int64 { return fastdot.Counted().TransposedGradients }
			got, ran := runFloats(t, b, grad, count, x, k, w)
			if ran != 1 {
				t.Fatalf("%d kernel gradients ran transposed, want 1", ran)
			}
			restore := fastdot.PanelsForTest()
			want, ranPanels := runFloats(t, b, grad, count, x, k, w)
			restore()
			if ranPanels != 0 {
				t.Fatalf("%d kernel gradients ran transposed with the panels' product forced", ranPanels)
			}
			sameBits(t, got, want, "the panels' product")
		})
	}
}

// BenchmarkKernelGradient times the kernel gradients of the demo CNN's four convolutions at its
// training batch (64 canvases of 64x64, 3x3 kernels, 1-8-16-32-32 channels), transposed and as
// the panels' products. (The graph also broadcasts and multiplies the loss's weights.)
func BenchmarkKernelGradient(b *testing.B) {
	be, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		b.Fatal(err)
	}
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	for _, tc := range []convCase{
		{"1to8", []int{64, 64, 64, 1}, []int{3, 3, 1, 8}, false, one, one, pad, 1},
		{"8to16", []int{64, 32, 32, 8}, []int{3, 3, 8, 16}, false, one, one, pad, 1},
		{"16to32", []int{64, 16, 16, 16}, []int{3, 3, 16, 32}, false, one, one, pad, 1},
		{"32to32", []int{64, 16, 16, 32}, []int{3, 3, 32, 32}, false, one, one, pad, 1},
	} {
		for _, way := range []string{"transposed", "panels"} {
			b.Run(tc.name+"/"+way, func(b *testing.B) {
				if way == "panels" {
					defer fastdot.PanelsForTest()()
				}
				rng := rand.New(rand.NewPCG(1, 2))
				x, _ := randomTensor(rng, tc.x...)
				k, _ := randomTensor(rng, tc.k...)
				w, _ := randomTensor(rng, tc.x[0], tc.x[1], tc.x[2], tc.k[3])
				e, err := NewExec(be, func(x, k, w *Node) *Node {
					return Gradient(ReduceAllSum(Mul(tc.build(x, k), w)), k)[0]
				})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := e.Exec(x, k, w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestConvInPlaceMatchesGathered: convolutions whose patches are read where they lie (slivers
// of output positions inside one image row, away from its padding) give the bits of the same
// convolutions with every patch gathered, forward and in their input gradients (which read the
// output gradient's patches), for strides, dilated kernel rows, asymmetric padding, one input
// channel, the ResNet stem and reductions over several panels.
func TestConvInPlaceMatchesGathered(t *testing.T) {
	b := inPlaceBackend(t)
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	cases := []convCase{
		{"3x3, 56 wide", []int{2, 6, 56, 16}, []int{3, 3, 16, 40}, false, one, one, pad, 1},
		{"3x3, one input channel", []int{2, 20, 30, 1}, []int{3, 3, 1, 8}, false, one, one, pad, 1},
		{"3x3 stride 2", []int{2, 15, 61, 8}, []int{3, 3, 8, 16}, false, [2]int{2, 2}, one, pad, 1},
		{"3x3, rows dilated by 2", []int{1, 12, 40, 4}, []int{3, 3, 4, 6}, false, one, [2]int{2, 1}, [2][2]int{{2, 2}, {1, 1}}, 1},
		{"3x3, asymmetric padding", []int{1, 12, 40, 4}, []int{3, 3, 4, 6}, false, one, one, [2][2]int{{2, 0}, {0, 2}}, 1},
		{"7x7 stride 2 (ResNet stem)", []int{1, 40, 64, 3}, []int{7, 7, 3, 16}, false, [2]int{2, 2}, one, [2][2]int{{3, 3}, {3, 3}}, 1},
		{"3x3 over two panels", []int{1, 5, 40, 48}, []int{3, 3, 48, 20}, false, one, one, pad, 1},
		{"1x5, one row (text CNN)", []int{4, 1, 64, 8}, []int{1, 5, 8, 12}, false, one, one, [2][2]int{{0, 0}, {2, 2}}, 1},
		{"5x5 no padding", []int{1, 9, 30, 6}, []int{5, 5, 6, 10}, false, one, one, [2][2]int{}, 1},
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, x, k, w := tc.withGradients(t, b, rng, false)
			count := func() int64 { return fastdot.Counted().InPlaceSlivers }
			if sameBitsWithout(t, b, fn, count, fastdot.GatherForTest, "gathered", x, k, w) == 0 {
				t.Fatalf("no sliver of patches read in place")
			}
		})
	}
}
