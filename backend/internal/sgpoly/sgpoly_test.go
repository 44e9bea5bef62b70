package sgpoly

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestConvolutionPad: a zero Pad computed as a depthwise convolution equals the polyfill's, for
// interior, negative and one-axis padding and any pair of plain axes; a Pad it does not apply to
// (a non-zero fill) is the polyfill's.
func TestConvolutionPad(t *testing.T) {
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	b := Wrap(sg)
	data := make([]float32, 2*5*6*3)
	for i := range data {
		data[i] = float32(i%17) - 8
	}
	x := tensors.FromFlatDataAndDimensions(data, 2, 5, 6, 3)
	cases := [][]backends.PadAxis{
		{{}, {Start: 1, End: 2, Interior: 1}, {Start: 0, End: 1, Interior: 1}, {}}, // strided slice's gradient
		{{}, {Start: -1, End: 2}, {Start: 2, End: -2}, {}},
		{{Start: 1, End: 0, Interior: 2}, {}, {}, {Start: 0, End: 2}},
		{{}, {}, {Start: 3, End: 1, Interior: 1}, {}},
	}
	for i, pads := range cases {
		for _, fill := range []float64{0, 2.5} {
			t.Run(fmt.Sprint(i, "/fill=", fill), func(t *testing.T) {
				run := func(conv bool) *tensors.Tensor {
					UseConvolutionPad(conv)
					defer UseConvolutionPad(false)
					out, err := ExecOnce(b, func(x *Node) *Node { return Pad(x, Scalar(x.Graph(), x.DType(), fill), pads...) }, x)
					if err != nil {
						t.Fatal(err)
					}
					return out
				}
				want := run(false)
				before := convolutionPads.Load()
				got := run(true)
				if used := convolutionPads.Load() > before; used != (fill == 0) {
					t.Errorf("built as a convolution: %v, want %v", used, fill == 0)
				}
				if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) ||
					!slices.Equal(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)) {
					t.Errorf("convolution Pad %s differs from the polyfill's %s", got.Shape(), want.Shape())
				}
			})
		}
	}
}

// TestReverse: the polyfilled Reverse equals reversing by index arithmetic, for one axis, two
// consecutive axes (a kernel's spatial ones, reversed as one), axes apart, and all of them.
func TestReverse(t *testing.T) {
	sg, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	b := Wrap(sg)
	dims := []int{3, 4, 2, 5}
	data := make([]float32, 3*4*2*5)
	for i := range data {
		data[i] = float32(i)
	}
	x := tensors.FromFlatDataAndDimensions(data, dims...)
	for _, axes := range [][]int{{1}, {0, 1}, {1, 2}, {0, 2}, {0, 3}, {0, 1, 2, 3}, {}} {
		t.Run(fmt.Sprint(axes), func(t *testing.T) {
			got, err := ExecOnce(b, func(x *Node) *Node { return Reverse(x, axes...) }, x)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(data))
			var idx [4]int
			for idx[0] = range dims[0] {
				for idx[1] = range dims[1] {
					for idx[2] = range dims[2] {
						for idx[3] = range dims[3] {
							src := idx
							for _, a := range axes {
								src[a] = dims[a] - 1 - idx[a]
							}
							want[((idx[0]*dims[1]+idx[1])*dims[2]+idx[2])*dims[3]+idx[3]] =
								data[((src[0]*dims[1]+src[1])*dims[2]+src[2])*dims[3]+src[3]]
						}
					}
				}
			}
			if !slices.Equal(got.Shape().Dimensions, dims) || !slices.Equal(tensors.MustCopyFlatData[float32](got), want) {
				t.Errorf("Reverse(%v) = %v %v, want %v", axes, got.Shape(), tensors.MustCopyFlatData[float32](got), want)
			}
		})
	}
}
