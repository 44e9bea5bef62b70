package sgemm

import "fmt"

// MaxTaps sets o[i] to the running max of x[offs[t]+i] over the taps t in order, with Go's max
// at each step (a max pooling window's rows, channels-last): the bits, NaN payloads included, of
//
//	o[i] = x[offs[0]+i]; for t >= 1 { o[i] = max(o[i], x[offs[t]+i]) }
//
// NaNs and zeros of both signs included. It panics on no taps or a tap reaching past x.
func MaxTaps(x []float32, offs []int, o []float32) {
	n := len(o)
	if len(offs) == 0 {
		panic("sgemm.MaxTaps: no taps")
	}
	for _, off := range offs {
		if off < 0 || off+n > len(x) {
			panic(fmt.Sprintf("sgemm.MaxTaps: a tap at %d of %d values outside %d", off, n, len(x)))
		}
	}
	m := 0
	if available && hasAVX512 {
		if m = n &^ 15; m > 0 {
			maxTaps16(m, &x[0], &offs[0], len(offs), &o[0])
		}
	}
	if m == n {
		return
	}
	row := o[m:]
	copy(row, x[offs[0]+m:offs[0]+n])
	for _, off := range offs[1:] {
		for i, v := range x[off+m : off+n] {
			row[i] = max(row[i], v)
		}
	}
}
