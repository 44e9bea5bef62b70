package fastdot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDepthwiseRowsMatchPositions: a depthwise convolution taken a whole output row per tap
// (depthwiseRows) gives the same bits as position by position (depthwisePositions), for channel
// counts under and over MulAcc's threshold and not a multiple of a vector, padding, a stride
// down the rows, kernel dilation, rows too short to gain, and sizes run on one goroutine and on
// two; and a stride along the rows is not taken row by row.
func TestDepthwiseRowsMatchPositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		batch, h, w, ch, k int
		stride, dil, pad   [2]int
		rowwise            bool
	}{
		{2, 9, 11, 12, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true},
		{2, 9, 11, 32, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true},
		{1, 12, 10, 40, 3, [2]int{2, 1}, [2]int{1, 1}, [2]int{1, 1}, true},
		{1, 12, 10, 96, 3, [2]int{1, 1}, [2]int{2, 2}, [2]int{2, 2}, true},
		{2, 30, 30, 96, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true}, // two goroutines
		{1, 8, 3, 32, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true},   // rows of 3
		{1, 7, 9, 16, 5, [2]int{1, 1}, [2]int{1, 1}, [2]int{0, 0}, true},
		{1, 12, 10, 40, 3, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, false},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			outH := (tc.h+2*tc.pad[0]-(tc.k-1)*tc.dil[0]-1)/tc.stride[0] + 1
			outW := (tc.w+2*tc.pad[1]-(tc.k-1)*tc.dil[1]-1)/tc.stride[1] + 1
			c := conv2D{
				in: make([]float32, tc.batch*tc.h*tc.w*tc.ch), ker: make([]float32, tc.k*tc.k*tc.ch),
				batch: tc.batch, inC: tc.ch, inH: tc.h, inW: tc.w,
				inSB: tc.h * tc.w * tc.ch, inSC: 1, inSH: tc.w * tc.ch, inSW: tc.ch,
				kI: 1, kO: tc.ch, kH: tc.k, kW: tc.k, kSI: tc.ch, kSO: 1, kSH: tc.k * tc.ch, kSW: tc.ch,
				outH: outH, outW: outW, outSB: outH * outW * tc.ch, outSC: 1, outSH: outW * tc.ch, outSW: tc.ch,
				stride: tc.stride, lo: tc.pad, inDil: [2]int{1, 1}, kDil: tc.dil, groups: tc.ch,
			}
			for i := range c.in {
				c.in[i] = float32(rng.NormFloat64())
			}
			for i := range c.ker {
				c.ker[i] = float32(rng.NormFloat64())
			}
			if c.rowwise() != tc.rowwise {
				t.Fatalf("rowwise %v, want %v", c.rowwise(), tc.rowwise)
			}
			got := make([]float32, tc.batch*outH*outW*tc.ch)
			c.out = got
			c.depthwise()
			want := make([]float32, len(got))
			c.out = want
			c.depthwisePositions(0, tc.batch*outH*outW)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d: %v, position by position %v", i, got[i], want[i])
				}
			}
		})
	}
}
