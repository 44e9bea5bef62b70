package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxTapsMatchesMax: MaxTaps gives the bits of Go's max folded over the taps, on values with
// zeros of both signs, NaNs of two payloads, infinities and ties, for widths with and without a
// tail of the vector's 16 and one to nine taps.
func TestMaxTapsMatchesMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), math.Float32frombits(0x7fc00001),
		float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1}
	for _, n := range []int{1, 5, 16, 17, 64, 100} {
		for taps := 1; taps <= 9; taps++ {
			t.Run(fmt.Sprintf("%d channels, %d taps", n, taps), func(t *testing.T) {
				x := make([]float32, 12*n)
				for i := range x {
					x[i] = special[rng.IntN(len(special))]
					if rng.IntN(3) == 0 {
						x[i] = float32(rng.IntN(3)) - 1
					}
				}
				offs := make([]int, taps)
				for i := range offs {
					offs[i] = rng.IntN(11*n + 1)
				}
				want := make([]float32, n)
				copy(want, x[offs[0]:offs[0]+n])
				for _, off := range offs[1:] {
					for i := range want {
						want[i] = max(want[i], x[off+i])
					}
				}
				got := make([]float32, n)
				MaxTaps(x, offs, got)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("value %d: %v (%#x), want %v (%#x)", i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			})
		}
	}
}
