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
