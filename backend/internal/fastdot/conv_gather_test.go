package fastdot

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGatherRunsMatchesRows: gathering an image row of output positions at a time (gatherRuns)
// writes the same patches as gathering each output position's row (gatherRow), for random
// geometries (strides, padding on both sides, dilated kernel rows, one input channel and
// several) and random panels of rows and columns, starting and ending inside kernel rows and
// image rows.
func TestGatherRunsMatchesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 3000 {
		c := conv2D{batch: 1 + rng.IntN(3), inH: 1 + rng.IntN(9), inW: 1 + rng.IntN(9), kI: 1 + rng.IntN(5),
			kH: 1 + rng.IntN(4), kW: 1 + rng.IntN(4), groups: 1, inDil: [2]int{1, 1}}
		c.inC = c.kI
		c.stride = [2]int{1 + rng.IntN(3), 1 + rng.IntN(3)}
		c.kDil = [2]int{1 + rng.IntN(2), 1}
		c.lo = [2]int{rng.IntN(3), rng.IntN(3)}
		hi := [2]int{rng.IntN(3), rng.IntN(3)}
		c.outH = (c.inH+c.lo[0]+hi[0]-(c.kH-1)*c.kDil[0]-1)/c.stride[0] + 1
		c.outW = (c.inW+c.lo[1]+hi[1]-c.kW)/c.stride[1] + 1
		if c.outH <= 0 || c.outW <= 0 {
			continue
		}
		c.inSC, c.inSW = 1, c.kI
		c.inSH = c.inW * c.inSW
		c.inSB = c.inH * c.inSH
		c.in = make([]float32, c.batch*c.inSB)
		for j := range c.in {
			c.in[j] = float32(j + 1)
		}
		m, k := c.batch*c.outH*c.outW, c.kH*c.kW*c.kI
		r0 := rng.IntN(m)
		rows := 1 + rng.IntN(m-r0)
		k0 := rng.IntN(k)
		cols := 1 + rng.IntN(k-k0)
		got, want := make([]float32, rows*cols), make([]float32, rows*cols)
		for j := range got {
			got[j], want[j] = -1, -1 // every value must be written
		}
		c.gatherRuns(got, r0, rows, k0, cols)
		for r := range rows {
			b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
			c.gatherRow(want[r*cols:(r+1)*cols], b, yx/c.outW, yx%c.outW, k0, 0)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("case %d (%+v, rows [%d, %d), columns [%d, %d)):\n got %v\nwant %v", i, c, r0, r0+rows, k0, k0+cols, got, want)
		}
	}
}
