package fastdot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// TestDepthwiseRowsMatchPositions: a depthwise convolution taken a whole output row per tap
// (depthwiseRows) gives the same bits as position by position (depthwisePositions), for channel
// counts under and over MulAcc's threshold and not a multiple of a vector, padding, a stride
// down the rows, kernel dilation, rows too short to gain, rows taken in several chunks, and sizes
// run on one goroutine and on two; and a stride along the rows is not taken row by row.
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
		{1, 5, 70, 64, 3, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, true}, // rows of three chunks
		{1, 6, 50, 96, 3, [2]int{1, 1}, [2]int{2, 2}, [2]int{2, 2}, true}, // chunks, dilated taps
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

// TestScatterTapsMatchesRows: the strided convolution's input gradient scatter (transposed's
// scatterTaps, a tap at a time along runs of input columns) gives the same bits as adding each
// product row's taps in order, position by position, for the ResNet stem's geometry, a stride
// of 2 with a 3x3 kernel and one of 1x1, kernel dilation, padding that cuts off whole taps, a
// channels-first output, and products handed over in chunks that end inside an image row; whole
// and in two halves by the output row's parity.
func TestScatterTapsMatchesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name              string
		batch, h, w, n, k int
		inDil, kDil, lo   [2]int
		outH, outW        int
		channelsFirst     bool
		chunk             int
	}{
		{"ResNet stem", 2, 11, 12, 3, 7, [2]int{2, 2}, [2]int{1, 1}, [2]int{3, 3}, 22, 24, false, 1 << 20},
		{"3x3 stride 2, chunks inside rows", 2, 7, 9, 5, 3, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, 14, 18, false, 5},
		{"1x1 stride 2, an odd output", 1, 6, 5, 4, 1, [2]int{2, 2}, [2]int{1, 1}, [2]int{0, 0}, 11, 8, false, 7},
		{"kernel dilation 2, stride 3", 1, 5, 6, 2, 3, [2]int{3, 3}, [2]int{2, 2}, [2]int{2, 1}, 15, 17, false, 4},
		{"taps cut off by padding", 1, 4, 4, 3, 5, [2]int{2, 1}, [2]int{1, 1}, [2]int{0, 4}, 7, 4, false, 3},
		{"channels first", 2, 5, 5, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, 10, 10, true, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := conv2D{batch: tc.batch, inH: tc.h, inW: tc.w, kO: tc.n, kH: tc.k, kW: tc.k,
				outH: tc.outH, outW: tc.outW, inDil: tc.inDil, kDil: tc.kDil, lo: tc.lo}
			if tc.channelsFirst {
				c.outSB, c.outSC, c.outSH, c.outSW = tc.n*tc.outH*tc.outW, tc.outH*tc.outW, tc.outW, 1
			} else {
				c.outSB, c.outSC, c.outSH, c.outSW = tc.outH*tc.outW*tc.n, 1, tc.outW*tc.n, tc.n
			}
			taps, m := tc.k*tc.k, tc.batch*tc.h*tc.w
			wide := taps * tc.n
			prod := make([]float32, m*wide)
			for i := range prod {
				prod[i] = float32(rng.NormFloat64())
			}
			// Every output row at once, and the rows of either parity apart (transposed's two
			// goroutines).
			all := make([]float32, tc.batch*tc.outH*tc.outW*tc.n)
			halves := make([]float32, len(all))
			for _, run := range []struct {
				out      []float32
				parities []int
			}{{all, []int{-1}}, {halves, []int{0, 1}}} {
				c.out = run.out
				for r0 := 0; r0 < m; r0 += tc.chunk {
					rows := min(tc.chunk, m-r0)
					for _, parity := range run.parities {
						c.scatterTaps(prod[r0*wide:(r0+rows)*wide], r0, rows, wide, parity)
					}
				}
			}
			want := make([]float32, len(all))
			reached := 0
			for r := range m {
				bi, p := r/(tc.h*tc.w), r%(tc.h*tc.w)
				for tap := range taps {
					ky, kx := tap/tc.k, tap%tc.k
					oy := p/tc.w*tc.inDil[0] - ky*tc.kDil[0] + tc.lo[0]
					ox := p%tc.w*tc.inDil[1] - kx*tc.kDil[1] + tc.lo[1]
					if oy < 0 || ox < 0 || oy >= tc.outH || ox >= tc.outW {
						continue
					}
					reached++
					for co := range tc.n {
						want[bi*c.outSB+oy*c.outSH+ox*c.outSW+co*c.outSC] += prod[r*wide+tap*tc.n+co]
					}
				}
			}
			if reached == 0 || reached == m*taps {
				t.Fatalf("%d of %d taps reach the output: the case tests no clipping or nothing", reached, m*taps)
			}
			for i := range want {
				if math.Float32bits(all[i]) != math.Float32bits(want[i]) || math.Float32bits(halves[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d: %v, by parity %v, row by row %v", i, all[i], halves[i], want[i])
				}
			}
		})
	}
}

// TestDepthwise3x3MatchesPositions: 3x3 depthwise convolutions on sgemm.Depthwise3x3 (inside
// positions) give the bits of position by position (MulAcc tap after tap), for strides of 1 and
// 2 along either axis, no, even and uneven padding, 32 to 144 channels, rows with no inside
// position, a reversed kernel (an input gradient's) and an epilogue.
func TestDepthwise3x3MatchesPositions(t *testing.T) {
	if sgemm.Depthwise3x3Channels() == 0 {
		t.Skip("no AVX-512 depthwise kernel")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		batch, h, w, ch int
		stride          [2]int
		lo, hi          [2]int // padding before and after (the output's size follows)
		flipped, epi    bool
	}{
		{2, 9, 11, 32, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, false, false},
		{1, 12, 13, 48, [2]int{2, 2}, [2]int{1, 1}, [2]int{1, 1}, false, false},
		{1, 12, 12, 144, [2]int{2, 2}, [2]int{0, 0}, [2]int{1, 1}, false, true},
		{1, 10, 9, 32, [2]int{1, 2}, [2]int{0, 0}, [2]int{0, 0}, true, false},
		{2, 7, 2, 64, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, false, false}, // no inside column
		{1, 15, 17, 96, [2]int{2, 1}, [2]int{2, 1}, [2]int{0, 2}, true, true},
	} {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			outH := (tc.h+tc.lo[0]+tc.hi[0]-3)/tc.stride[0] + 1
			outW := (tc.w+tc.lo[1]+tc.hi[1]-3)/tc.stride[1] + 1
			c := conv2D{
				in: make([]float32, tc.batch*tc.h*tc.w*tc.ch), ker: make([]float32, 9*tc.ch),
				batch: tc.batch, inC: tc.ch, inH: tc.h, inW: tc.w,
				inSB: tc.h * tc.w * tc.ch, inSC: 1, inSH: tc.w * tc.ch, inSW: tc.ch,
				kI: 1, kO: tc.ch, kH: 3, kW: 3, kSI: tc.ch, kSO: 1, kSH: 3 * tc.ch, kSW: tc.ch,
				outH: outH, outW: outW, outSB: outH * outW * tc.ch, outSC: 1, outSH: outW * tc.ch, outSW: tc.ch,
				stride: tc.stride, lo: tc.lo, inDil: [2]int{1, 1}, kDil: [2]int{1, 1}, groups: tc.ch, flipped: tc.flipped,
			}
			for i := range c.in {
				c.in[i] = float32(rng.NormFloat64())
				if i%13 == 0 {
					c.in[i] = 0
				}
			}
			for i := range c.ker {
				c.ker[i] = float32(rng.NormFloat64())
			}
			var e *epilogue
			if tc.epi {
				s, b := make([]float32, tc.ch), make([]float32, tc.ch)
				for i := range s {
					s[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				}
				e = newEpilogue(s, b, sgemm.Clamp{Lo: 0, HasLo: true, Hi: 6, HasHi: true})
			}
			if !c.fits3x3() {
				t.Fatal("not run on the 3x3 kernel")
			}
			got := make([]float32, tc.batch*outH*outW*tc.ch)
			c.out, c.epi = got, e
			before := depthwise3x3Calls.Load()
			c.depthwise()
			if depthwise3x3Calls.Load() == before {
				t.Fatal("depthwise3x3Rows did not run")
			}
			if e != nil && !c.epiApplied {
				t.Fatal("the epilogue was not applied by rows")
			}
			want := make([]float32, len(got))
			c.out, c.epi = want, nil
			c.depthwisePositions(0, tc.batch*outH*outW)
			if e != nil {
				e.apply(want, want)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d of %d: %v, position by position %v", i, len(want), got[i], want[i])
				}
			}
		})
	}
}
