package fastdot_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestConvAffineMatchesUnfused: a convolution read only by its batch norm (and ReLU or ReLU6)
// runs as one node applying the batch norm to each tile as it finishes (im2col, 1x1, in place,
// depthwise by rows) or to its whole output (the other paths), with the bits of the two nodes
// apart; where the convolution's or the batch norm's own output is used too (a layer a method
// reads, DeepLift's differences), nothing is merged.
func TestConvAffineMatchesUnfused(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(23, 24))
	special := []float32{0, float32(math.Copysign(0, -1)), 6, -6}
	values := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			if rng.IntN(16) == 0 {
				v[i] = special[rng.IntN(len(special))]
			}
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	relu := func(v *Node, upper float64) *Node {
		m := Max(v, ScalarZero(v.Graph(), v.DType()))
		if upper > 0 {
			m = Min(m, Scalar(v.Graph(), v.DType(), upper))
		}
		return m
	}
	type conv struct {
		convCase
		upper float64
	}
	convs := []conv{
		{convCase{"1x1", []int{2, 9, 11, 24}, []int{1, 1, 24, 40}, false, one, one, [2][2]int{}, 1}, 6},
		{convCase{"3x3", []int{2, 12, 40, 8}, []int{3, 3, 8, 48}, false, one, one, pad, 1}, 0},
		{convCase{"3x3 stride 2, narrow", []int{1, 23, 21, 3}, []int{3, 3, 3, 16}, false, [2]int{2, 2}, one, pad, 1}, 6},
		{convCase{"depthwise", []int{2, 10, 14, 32}, []int{3, 3, 1, 32}, false, one, one, pad, 32}, 6},
		{convCase{"depthwise stride 2", []int{1, 11, 12, 16}, []int{3, 3, 1, 16}, false, [2]int{2, 2}, one, pad, 16}, 6},
		{convCase{"grouped", []int{1, 6, 7, 8}, []int{3, 3, 4, 8}, false, one, one, pad, 2}, 0},
		{convCase{"few positions, many channels", []int{1, 3, 3, 96}, []int{3, 3, 96, 64}, false, one, one, pad, 1}, 0},
	}
	for _, cv := range convs {
		x, k := values(cv.x...), values(cv.k...)
		y, err := ExecOnce(b, func(x, k *Node) *Node { return cv.build(x, k) }, x, k)
		if err != nil {
			t.Fatal(err)
		}
		ch := cv.k[3]
		scale, shift, w := values(ch), values(ch), values(y.Shape().Dimensions...)
		bn := func(in []*Node) (conv, norm *Node) {
			conv = cv.build(in[0], in[1])
			return conv, Add(Mul(conv, ExpandLeftToRank(in[2], 4)), ExpandLeftToRank(in[3], 4))
		}
		cases := []struct {
			name  string
			fn    func(in []*Node) []*Node
			fused bool
		}{
			{"batch norm and ReLU", func(in []*Node) []*Node { _, n := bn(in); return []*Node{relu(n, cv.upper)} }, true},
			{"batch norm alone", func(in []*Node) []*Node { _, n := bn(in); return []*Node{n} }, true},
			{"the convolution read too", func(in []*Node) []*Node { c, n := bn(in); return []*Node{relu(n, cv.upper), c} }, false},
			{"the batch norm read before its ReLU too", func(in []*Node) []*Node {
				_, n := bn(in)
				return []*Node{relu(n, cv.upper), Neg(n)}
			}, false},
			// GoMLX's gradient of Max reads the batch norm's output (package nn's rules read the
			// ReLU's, and merge).
			{"a gradient through it", func(in []*Node) []*Node {
				_, n := bn(in)
				r := relu(n, cv.upper)
				return append([]*Node{r}, Gradient(ReduceAllSum(Mul(r, in[4])), in[0])...)
			}, false},
			{"a rule's mask on the ReLU's output", func(in []*Node) []*Node {
				_, n := bn(in)
				r := relu(n, cv.upper)
				return []*Node{r, Where(GreaterThan(r, ScalarZero(r.Graph(), r.DType())), in[4], ScalarZero(r.Graph(), r.DType()))}
			}, true},
		}
		for _, tc := range cases {
			t.Run(cv.name+"/"+tc.name, func(t *testing.T) {
				count := func() int64 { return fastdot.Counted().ConvAffines }
				if n := sameBitsWithout(t, b, tc.fn, count, fastdot.ConvAffineOffForTest, "apart", x, k, scale, shift, w); (n > 0) != tc.fused {
					t.Fatalf("%d convolutions run with their batch norm, want them: %v", n, tc.fused)
				}
			})
		}
	}
}
