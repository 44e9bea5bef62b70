package sgemm

import (
	"fmt"
	"math"
)

// RangeSelect sets o[i] = t[i] where lo < x[i] (and x[i] < hi with upper), else f: a ReLU rule's
// backward pass, Where(0 < y, v, 0), with its mask tested as y is read. The comparisons are Go's
// (false for NaN) and the choice moves bits, so the result is GreaterThan, LessThan, LogicalAnd
// and Where's. The slices must be of one length; o may be x or t.
func RangeSelect(x, t []float32, f, lo, hi float32, upper bool, o []float32) {
	n := len(o)
	if len(x) != n || len(t) != n {
		panic(fmt.Sprintf("sgemm.RangeSelect: lengths %d, %d, %d differ", len(x), len(t), n))
	}
	body := 0
	if available && n >= 8 {
		body = n / 8 * 8
		rangeSelectVS(body, &x[0], &t[0], f, lo, hi, upper, &o[0])
	}
	for i := body; i < n; i++ {
		v := x[i]
		if lo < v && (!upper || v < hi) {
			o[i] = t[i]
		} else {
			o[i] = math.Float32frombits(math.Float32bits(f))
		}
	}
}
