package fastdot_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestRangeWhereMatchesMask: a Where over 0 < x (a ReLU rule's mask), over 0 < x < 6 (ReLU6's),
// and one whose operands are swapped or scalar, run as one node testing the range as it reads x,
// give the bits of the mask computed and then read, for x with zeros of both signs, the bounds
// themselves, infinities and NaN; a Where over another condition is left as it is.
func TestRangeWhereMatchesMask(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(19, 20))
	n := 1000
	xs, vs := make([]float32, n), make([]float32, n)
	specials := []float32{0, float32(math.Copysign(0, -1)), 6, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 5)
		if i%7 == 0 {
			xs[i] = specials[i/7%len(specials)]
		}
		vs[i] = float32(rng.NormFloat64())
	}
	x, v := tensors.FromFlatDataAndDimensions(xs, 10, n/10), tensors.FromFlatDataAndDimensions(vs, 10, n/10)
	zero := func(x *Node) *Node { return ScalarZero(x.Graph(), x.DType()) }
	relu := func(x *Node) *Node { return GreaterThan(x, zero(x)) }
	relu6 := func(x *Node) *Node {
		return LogicalAnd(GreaterThan(x, zero(x)), LessThan(x, Scalar(x.Graph(), x.DType(), 6)))
	}
	cases := []struct {
		name  string
		fn    func(x, v *Node) *Node
		fused bool
	}{
		{"ReLU's mask", func(x, v *Node) *Node { return Where(relu(x), v, zero(v)) }, true},
		{"ReLU6's mask", func(x, v *Node) *Node { return Where(relu6(x), v, zero(v)) }, true},
		{"guided", func(x, v *Node) *Node { return Where(relu(x), Max(v, zero(v)), zero(v)) }, true},
		{"upper bound first", func(x, v *Node) *Node {
			return Where(LogicalAnd(LessThan(x, Scalar(x.Graph(), x.DType(), 6)), GreaterThan(x, zero(x))), v, zero(v))
		}, true},
		{"scalar where true", func(x, v *Node) *Node { return Where(relu(x), Scalar(x.Graph(), x.DType(), 2), v) }, true},
		{"two whole operands", func(x, v *Node) *Node { return Where(relu6(x), v, Neg(v)) }, true},
		{"a bound of 1.5", func(x, v *Node) *Node { return Where(GreaterThan(x, Scalar(x.Graph(), x.DType(), 1.5)), v, zero(v)) }, true},
		{"an upper bound alone", func(x, v *Node) *Node { return Where(LessThan(x, zero(x)), v, zero(v)) }, false},
		{"a comparison of two tensors", func(x, v *Node) *Node { return Where(GreaterThan(x, v), v, zero(v)) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn := func(in []*Node) []*Node { return []*Node{tc.fn(in[0], in[1])} }
			count := func() int64 { return fastdot.Counted().RangeWheres }
			if n := sameBitsWithout(t, b, fn, count, fastdot.RangeWhereOffForTest, "the mask computed", x, v); (n > 0) != tc.fused {
				t.Fatalf("%d range Wheres run, want them: %v", n, tc.fused)
			}
		})
	}
}
