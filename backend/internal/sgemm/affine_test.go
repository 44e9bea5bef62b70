package sgemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAffineMatchesOps: Affine gives, bit for bit, x*s, then +b, then Go's max and min, as four
// operations would: on values with zeros of both signs, NaNs, infinities and bounds hit exactly,
// for every clamp, lengths with and without a tail of the vector width, in place.
func TestAffineMatchesOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 6, -6, 1e-40}
	pick := func() float32 {
		if rng.IntN(4) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64() * 4)
	}
	for _, c := range []Clamp{{}, {HasLo: true}, {Hi: 6, HasHi: true}, {Lo: 0, Hi: 6, HasLo: true, HasHi: true}, {Lo: -1, Hi: 1, HasLo: true, HasHi: true}} {
		for _, n := range []int{1, 7, 8, 9, 100, 1027} {
			x, s, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], s[i], b[i] = pick(), pick(), pick()
			}
			want := make([]float32, n)
			for i := range want {
				p := x[i] * s[i]
				y := p + b[i]
				if c.HasLo {
					y = max(y, c.Lo)
				}
				if c.HasHi {
					y = min(y, c.Hi)
				}
				want[i] = y
			}
			got := append([]float32(nil), x...)
			Affine(got, s, b, got, c) // in place
			for i := range want {
				same := math.Float32bits(got[i]) == math.Float32bits(want[i]) || got[i] != got[i] && want[i] != want[i]
				if !same {
					t.Fatalf("%+v, n %d, value %d: %v*%v+%v = %v, want %v", c, n, i, x[i], s[i], b[i], got[i], want[i])
				}
			}
		}
	}
	if (Clamp{Lo: float32(math.Copysign(0, -1)), HasLo: true}).Exact() || (Clamp{Hi: 0, HasHi: true}).Exact() {
		t.Error("a lower bound of -0 or an upper bound of +0 reported exact")
	}
}
