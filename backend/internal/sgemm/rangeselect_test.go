package sgemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRangeSelectMatchesOps compares RangeSelect with Go's comparisons and a choice of bits
// (GreaterThan, LessThan, LogicalAnd and Where), for values at and around the bounds, ±0, ±Inf and
// NaN, lengths around the kernel's 8 lanes, either zero as f, and in place.
func TestRangeSelectMatchesOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	specials := []float32{0, negZero, 6, -6, 1e-30, -1e-30, float32(math.Inf(1)), float32(math.Inf(-1)), nan, 5.9999995, 6.0000005}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 70} {
		for _, upper := range []bool{false, true} {
			for _, f := range []float32{0, negZero, 1.5} {
				for _, inPlace := range []string{"", "x", "t"} {
					x, tv := make([]float32, n), make([]float32, n)
					for i := range x {
						x[i] = float32(rng.NormFloat64() * 4)
						if rng.IntN(3) == 0 {
							x[i] = specials[rng.IntN(len(specials))]
						}
						tv[i] = float32(rng.NormFloat64())
						if rng.IntN(5) == 0 {
							tv[i] = specials[rng.IntN(len(specials))]
						}
					}
					want := make([]float32, n)
					for i, v := range x {
						in := v > 0
						if upper {
							in = in && v < 6
						}
						want[i] = f
						if in {
							want[i] = tv[i]
						}
					}
					o := make([]float32, n)
					switch inPlace {
					case "x":
						o = x
					case "t":
						o = tv
					}
					RangeSelect(x, tv, f, 0, 6, upper, o)
					for i := range o {
						if math.Float32bits(o[i]) != math.Float32bits(want[i]) {
							t.Fatalf("n %d, upper %v, f %v, in place %q: o[%d] = %v (x %v), want %v", n, upper, f, inPlace, i, o[i], x[i], want[i])
						}
					}
				}
			}
		}
	}
}
