package fastdot_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestAffineMatchesOps: a batch norm at inference (x*scale + shift, as package nn builds it) and
// the ReLU or ReLU6 after it, run as one pass, give the bits of the ops one after the other, on
// activations with zeros of both signs, NaNs and values at the bounds: alone, clamped, with the
// unclamped value also an output, with the scale first, and under a gradient (which reads the
// intermediate values).
func TestAffineMatchesOps(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(17, 18))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), 6, -6, 1e-30}
	values := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 4)
			if rng.IntN(8) == 0 {
				v[i] = special[rng.IntN(len(special))]
			}
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	const c = 24
	x, scale, shift, w := values(2, 9, 11, c), values(c), values(c), values(2, 9, 11, c)
	relu := func(v *Node, upper float64) *Node {
		m := Max(v, ScalarZero(v.Graph(), v.DType()))
		if upper > 0 {
			m = Min(m, Scalar(v.Graph(), v.DType(), upper))
		}
		return m
	}
	bn := func(in []*Node) *Node {
		return Add(Mul(in[0], ExpandLeftToRank(in[1], 4)), ExpandLeftToRank(in[2], 4))
	}
	cases := []struct {
		name  string
		fn    func(in []*Node) []*Node
		fused bool
	}{
		{"batch norm", func(in []*Node) []*Node { return []*Node{bn(in)} }, true},
		{"batch norm, ReLU", func(in []*Node) []*Node { return []*Node{relu(bn(in), 0)} }, true},
		{"batch norm, ReLU6", func(in []*Node) []*Node { return []*Node{relu(bn(in), 6)} }, true},
		{"batch norm and its ReLU6 both read", func(in []*Node) []*Node { y := bn(in); return []*Node{y, relu(y, 6)} }, true},
		{"scale first", func(in []*Node) []*Node {
			return []*Node{relu(Add(Mul(ExpandLeftToRank(in[1], 4), in[0]), ExpandLeftToRank(in[2], 4)), 0)}
		}, true},
		{"gradient of a ReLU6", func(in []*Node) []*Node {
			y := relu(bn(in), 6)
			return []*Node{y, Gradient(ReduceAllSum(Mul(y, in[3])), in[0])[0]}
		}, true},
		{"a shift of another shape", func(in []*Node) []*Node {
			return []*Node{Add(Mul(in[0], ExpandLeftToRank(in[1], 4)), in[3])}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			count := func() int64 { return fastdot.Counted().Affine }
			got, fused := runFloats(t, b, tc.fn, count, x, scale, shift, w)
			if (fused > 0) != tc.fused {
				t.Fatalf("%d affine passes run, want them: %v", fused, tc.fused)
			}
			restore := fastdot.NoAffineForTest()
			want, none := runFloats(t, b, tc.fn, count, x, scale, shift, w)
			restore()
			if none != 0 {
				t.Fatalf("%d affine passes with fusion off", none)
			}
			sameBits(t, got, want, "the ops give")
		})
	}
}
