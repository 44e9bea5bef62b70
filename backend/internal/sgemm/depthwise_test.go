package sgemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDepthwise3x3MatchesFloat64 compares Depthwise3x3 with its sums in float64, for strides of 1
// and 2 and a padded output stride, and checks that arguments reaching outside the slices panic.
func TestDepthwise3x3MatchesFloat64(t *testing.T) {
	if Depthwise3x3Channels() == 0 {
		t.Skip("no AVX-512 depthwise kernel")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	const ch, n = 48, 7
	for _, step := range []int{ch, 2 * ch} {
		data := make([]float32, 3*(n*step+3*ch))
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		k := make([]float32, 9*16)
		for i := range k {
			k[i] = float32(rng.NormFloat64())
		}
		rowLen := n*step + 3*ch
		in := [3]int{16, rowLen + 16, 2*rowLen + 16} // channels 16..31 of each row
		out := make([]float32, n*64)
		Depthwise3x3(n, data, in, ch, step, k, out, 0, 64)
		for p := range n {
			for c := range 16 {
				want := 0.0
				for ky := range 3 {
					for kx := range 3 {
						want += float64(data[in[ky]+p*step+kx*ch+c]) * float64(k[(3*ky+kx)*16+c])
					}
				}
				if got := float64(out[p*64+c]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
					t.Fatalf("step %d: position %d channel %d: %v, float64 %v", step, p, c, got, want)
				}
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("step %d: a last position past the input did not panic", step)
				}
			}()
			Depthwise3x3(n+3, data, in, ch, step, k, make([]float32, (n+3)*64), 0, 64)
		}()
	}
}
