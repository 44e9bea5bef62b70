package sgemm

import (
	"fmt"
	"math"
)

// Clamp bounds Affine's results: below at Lo (Go's max) where HasLo, then above at Hi (Go's
// min) where HasHi. A ReLU is {Lo: 0, HasLo: true}, ReLU6 adds {Hi: 6, HasHi: true}.
type Clamp struct {
	Lo, Hi       float32
	HasLo, HasHi bool
}

// Exact reports whether the vector kernel gives Go's max and min at these bounds: everywhere but
// a lower bound of -0 or an upper bound of +0, where the instructions pick the other zero.
func (c Clamp) Exact() bool {
	negZero := func(v float32) bool { return v == 0 && math.Signbit(float64(v)) }
	return !(c.HasLo && negZero(c.Lo)) && !(c.HasHi && c.Hi == 0 && !negZero(c.Hi))
}

// Affine sets o[i] = x[i]*s[i] + b[i], then clamps it (a batch norm at inference and the ReLU
// after it, in one pass): the product and the sum are rounded apart (no fused multiply-add), so
// the bits are those of Mul, Add, Max and Min one after the other. The slices must be of one
// length; o may be x; c must be Exact.
func Affine(x, s, b, o []float32, c Clamp) {
	n := len(o)
	if len(x) != n || len(s) != n || len(b) != n {
		panic(fmt.Sprintf("sgemm.Affine: lengths %d, %d, %d, %d differ", len(x), len(s), len(b), n))
	}
	checkClamp(c)
	affine(x, s, b, o, c)
}

// AffineRows is Affine in place on rows of x: x[off + r*ld + j] for r < rows and j < len(s),
// with s[j] and b[j]; checked once for all rows (an epilogue's tile of short rows).
func AffineRows(x []float32, off, ld, rows int, s, b []float32, c Clamp) {
	n := len(s)
	if len(b) != n || off < 0 || rows < 0 || ld < n || rows > 0 && off+(rows-1)*ld+n > len(x) {
		panic(fmt.Sprintf("sgemm.AffineRows: %d rows of %d (%d weights) %d apart from %d outside %d values", rows, len(b), n, ld, off, len(x)))
	}
	checkClamp(c)
	for r := range rows {
		row := x[off+r*ld : off+r*ld+n]
		affine(row, s, b, row, c)
	}
}

func checkClamp(c Clamp) {
	if !c.Exact() {
		panic(fmt.Sprintf("sgemm.Affine: bounds %+v choose between zeros unlike Go's max and min", c))
	}
}

// affine is Affine on checked operands.
func affine(x, s, b, o []float32, c Clamp) {
	n := len(o)
	if n == 0 {
		return
	}
	if !available {
		for i, v := range x {
			y := float32(v*s[i]) + b[i]
			if c.HasLo {
				y = max(y, c.Lo)
			}
			if c.HasHi {
				y = min(y, c.Hi)
			}
			o[i] = y
		}
		return
	}
	mode := 0
	if c.HasLo {
		mode |= 1
	}
	if c.HasHi {
		mode |= 2
	}
	if m := n &^ 15; hasAVX512 && m > 0 {
		affine16(m, &x[0], &s[0], &b[0], &o[0], c.Lo, c.Hi, mode)
		if m == n {
			return
		}
		x, s, b, o, n = x[m:], s[m:], b[m:], o[m:], n-m
	}
	affineVV(n, &x[0], &s[0], &b[0], &o[0], c.Lo, c.Hi, mode)
}
