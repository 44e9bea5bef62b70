package fastdot_test

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
	"github.com/gradcam-go/gradcam/nn"
)

// TestRescaleMatchesOps: DeepLift's rescale rule as package nn builds it, at a ReLU and a ReLU6,
// run as one node gives the bits of its dozen ops, on inputs whose differences with their
// references include zero, values under the rule's bound of 1e-10 and at it, NaN, infinities and
// ReLU6's bound; with the
// ordinary rule's value tested inline (a range Where read by the rule alone) and read as
// computed (range Wheres off).
func TestRescaleMatchesOps(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(33, 34))
	pairs, size := 3, 2*5*8 // [2*pairs, 2, 5, 8]: inputs, then their references
	xs := make([]float32, 2*pairs*size)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64() * 4)
	}
	ref := xs[pairs*size:]
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	specials := [][2]float32{ // an input and its reference
		{1, 1}, {0, 0}, {-2, -2}, // no difference
		{1e-11, 0}, {-3e-11, 2e-11}, {1e-10, 0}, {0, -1e-10}, // under the rule's bound, and at it
		{nan, 1}, {1, nan}, {inf, 1}, {-inf, -inf},
		{float32(math.Copysign(0, -1)), 0},
		{6, 0}, {0, 6}, // at ReLU6's bound
	}
	for i := 0; i < pairs*size; i += 3 {
		s := specials[i/3%len(specials)]
		xs[i], ref[i] = s[0], s[1]
	}
	weights := make([]float32, 2*pairs*size)
	for i := range weights {
		weights[i] = float32(rng.NormFloat64())
	}
	x := tensors.FromFlatDataAndDimensions(xs, 2*pairs, 2, 5, 8)
	w := tensors.FromFlatDataAndDimensions(weights, 2*pairs, 2, 5, 8)
	for _, act := range []string{"ReLU", "ReLU6"} {
		fn := func(in []*Node) []*Node {
			x, w := in[0], in[1]
			n := nn.NewBuilder(nn.Config{})
			y := n.ReLU("relu", x)
			if act == "ReLU6" {
				y = n.ReLU6("relu6", x)
			}
			return []*Node{n.Forward().Gradient(ReduceAllSum(Mul(y, w)), nn.Rescale, x)[0]}
		}
		count := func() int64 { return fastdot.Counted().Rescales }
		for _, plain := range []string{"inline", "read"} {
			t.Run(act+"/"+plain, func(t *testing.T) {
				if plain == "read" {
					defer fastdot.RangeWhereOffForTest()()
				}
				if n := sameBitsWithout(t, b, fn, count, fastdot.RescaleOffForTest, "its ops", x, w); n == 0 {
					t.Fatal("no rescale node ran: package nn's rescale graph no longer matches fastdot's")
				}
			})
		}
	}
}
