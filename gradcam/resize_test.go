package gradcam

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend"
)

// TestResizeLinearIsInterpolate: the maps' resize as products with interpolation matrices gives
// graph.Interpolate's bilinear resize with half-pixel centres (the reference, itself checked
// against PyTorch's maps by the parity tests), up to float32 rounding (Interpolate computes its
// weights in float32, resizeLinear in float64: a few ulps of values in [0, 1]): upsampling the zoo's maps
// (7x7 and 14x14 to 224x224), a non-square and a 1-D one, shrinking, and an axis left alone.
func TestResizeLinearIsInterpolate(t *testing.T) {
	b, err := backend.NewWithConfig(backend.Go)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ in, out []int }{
		{[]int{7, 7}, []int{224, 224}},
		{[]int{14, 14}, []int{224, 224}},
		{[]int{5, 9}, []int{37, 100}},
		{[]int{40, 13}, []int{10, 13}},
		{[]int{33}, []int{250}},
		{[]int{1, 4}, []int{6, 8}},
	} {
		t.Run(fmt.Sprint(tc.in, "->", tc.out), func(t *testing.T) {
			dims := append([]int{3}, tc.in...)
			n := 3
			for _, d := range tc.in {
				n *= d
			}
			data := make([]float32, n)
			for i := range data {
				data[i] = rng.Float32()
			}
			x := tensors.FromFlatDataAndDimensions(data, dims...)
			got, err := ExecOnce(b, func(x *Node) *Node { return resizeLinear(x, tc.out) }, x)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ExecOnce(b, func(x *Node) *Node { return Interpolate(x, append([]int{-1}, tc.out...)...).Done() }, x)
			if err != nil {
				t.Fatal(err)
			}
			g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
			if len(g) != len(w) {
				t.Fatalf("%d values, want %d (%s, want %s)", len(g), len(w), got.Shape(), want.Shape())
			}
			worst := 0.0
			for i := range w {
				worst = max(worst, math.Abs(float64(g[i]-w[i])))
			}
			if worst > 5e-6 {
				t.Errorf("differs from Interpolate by %.3g", worst)
			}
		})
	}
}
