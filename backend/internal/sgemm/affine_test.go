package sgemm

import (
	"fmt"
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
		for _, n := range []int{1, 7, 8, 9, 16, 17, 33, 100, 1027} {
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

// TestAffineRowsMatchesAffine: AffineRows on a tile of rows gives each row's Affine and leaves
// the values between rows alone; rows reaching outside x are refused.
func TestAffineRowsMatchesAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	c := Clamp{Lo: 0, Hi: 6, HasLo: true, HasHi: true}
	for _, tc := range []struct{ off, ld, rows, n int }{{0, 40, 3, 40}, {5, 50, 4, 33}, {1, 20, 1, 7}, {0, 16, 0, 16}} {
		x := make([]float32, tc.off+tc.rows*tc.ld)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 5)
		}
		s, b := make([]float32, tc.n), make([]float32, tc.n)
		for j := range s {
			s[j], b[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		want := append([]float32(nil), x...)
		for r := range tc.rows {
			row := want[tc.off+r*tc.ld : tc.off+r*tc.ld+tc.n]
			Affine(row, s, b, row, c)
		}
		AffineRows(x, tc.off, tc.ld, tc.rows, s, b, c)
		for i := range want {
			if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: value %d is %v, want %v", tc, i, x[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("rows reaching past x's end were not refused")
		}
	}()
	AffineRows(make([]float32, 50), 0, 20, 3, make([]float32, 16), make([]float32, 16), c)
}

// BenchmarkAffine: a batch norm and ReLU6 over a row of an epilogue (96 channels, as MobileNetV2's
// 1x1 convolutions' tiles) and over execAffine's stretch of 4096 values, in cache.
func BenchmarkAffine(b *testing.B) {
	for _, n := range []int{96, 4096} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, s, sh := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range x {
				x[i], s[i], sh[i] = float32(i%7)-3, 1.5, 0.25
			}
			c := Clamp{Lo: 0, Hi: 6, HasLo: true, HasHi: true}
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				Affine(x, s, sh, x, c)
			}
		})
	}
}
