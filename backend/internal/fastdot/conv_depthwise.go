package fastdot

import (
	"sync/atomic"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// depthwise1x1 is depthwise for a 1x1 kernel (a zero Pad, internal/sgpoly's: the kernel is
// ones, the input dilated by the interior padding) over output rows [lo, hi): each output
// position is its input position's channels times the kernel, or zeros in a hole or the padding.
func (c *conv2D) depthwise1x1(lo, hi int) {
	ch := c.kO
	w := make([]float32, ch)
	for o := range w {
		w[o] = c.ker[o*c.kSO]
	}
	// The input offset each output row and column reads, -1 in a hole or the padding.
	offsets := func(n, stride, lo, dil, in, inStride int) []int {
		off := make([]int, n)
		for i := range off {
			p := i*stride - lo
			if p < 0 || p%dil != 0 || p/dil >= in {
				off[i] = -1
				continue
			}
			off[i] = p / dil * inStride
		}
		return off
	}
	ys := offsets(c.outH, c.stride[0], c.lo[0], c.inDil[0], c.inH, c.inSH)
	xs := offsets(c.outW, c.stride[1], c.lo[1], c.inDil[1], c.inW, c.inSW)
	b, yx := lo/(c.outH*c.outW), lo%(c.outH*c.outW)
	y, x := yx/c.outW, yx%c.outW
	for p := lo; p < hi; p++ {
		dst := b*c.outSB + y*c.outSH + x*c.outSW
		if ys[y] < 0 && x == 0 && p+c.outW <= hi && c.outSC == 1 && c.outSW == ch {
			// A whole output row in a hole (every other row of max pooling's gradient): cleared at once.
			clear(c.out[dst : dst+c.outW*ch])
			p += c.outW - 1
			if y++; y == c.outH {
				y = 0
				b++
			}
			continue
		}
		hole := ys[y] < 0 || xs[x] < 0
		src := b*c.inSB + ys[y] + xs[x]
		switch {
		case c.inSC == 1 && c.outSC == 1 && hole:
			clearRun(c.out[dst : dst+ch])
		case c.inSC == 1 && c.outSC == 1:
			out := c.out[dst : dst+ch]
			for o, v := range c.in[src : src+ch] {
				out[o] = v*w[o] + 0 // 0 + x*w, as the convolution's sum starts: +0 for -0
			}
		default:
			for o := range ch {
				v := float32(0)
				if !hole {
					v += c.in[src+o*c.inSC] * w[o]
				}
				c.out[dst+o*c.outSC] = v
			}
		}
		if x++; x == c.outW {
			x = 0
			if y++; y == c.outH {
				y = 0
				b++
			}
		}
	}
}

// depthwisePositions is depthwise over output positions (b, y, x) [lo, hi), one position's
// channels at a time: the general case.
func (c *conv2D) depthwisePositions(lo, hi int) { c.depthwiseAt(lo, hi, c.depthwiseScratch()) }

// depthwiseScratch is depthwiseAt's scratch: a position's sums, and its weights gathered where
// the kernel's output channels are not contiguous.
type depthwiseScratch struct{ acc, w []float32 }

func (c *conv2D) depthwiseScratch() depthwiseScratch {
	s := depthwiseScratch{acc: make([]float32, c.kO)}
	if c.kSO != 1 {
		s.w = make([]float32, c.kO)
	}
	return s
}

// depthwiseAt is depthwisePositions with its scratch given (a caller's loop allocates it once).
func (c *conv2D) depthwiseAt(lo, hi int, s depthwiseScratch) {
	ch := c.kO
	acc, w := s.acc, s.w
	for r := lo; r < hi; r++ {
		b, yx := r/(c.outH*c.outW), r%(c.outH*c.outW)
		y, x := yx/c.outW, yx%c.outW
		clear(acc)
		for ky := range c.kH {
			iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
			if iy < 0 || iy%c.inDil[0] != 0 || iy/c.inDil[0] >= c.inH {
				continue
			}
			for kx := range c.kW {
				ix := x*c.stride[1] + kx*c.kDil[1] - c.lo[1]
				if ix < 0 || ix%c.inDil[1] != 0 || ix/c.inDil[1] >= c.inW {
					continue
				}
				src := b*c.inSB + iy/c.inDil[0]*c.inSH + ix/c.inDil[1]*c.inSW
				kb := c.tapOff(ky, kx)
				wt := w
				if c.kSO == 1 {
					wt = c.ker[kb : kb+ch]
				} else {
					for o := range ch {
						w[o] = c.ker[kb+o*c.kSO]
					}
				}
				switch {
				case c.inSC == 1 && ch >= 32:
					sgemm.MulAcc(c.in[src:src+ch], wt, acc)
				case c.inSC == 1: // few channels (a zero Pad's kernel of ones): the call costs more than the loop
					in := c.in[src : src+ch]
					for o, v := range in {
						acc[o] += v * wt[o]
					}
				default:
					for o := range ch {
						acc[o] += c.in[src+o*c.inSC] * wt[o]
					}
				}
			}
		}
		dst := b*c.outSB + y*c.outSH + x*c.outSW
		if c.outSC == 1 {
			copy(c.out[dst:dst+ch], acc)
		} else {
			for o, v := range acc {
				c.out[dst+o*c.outSC] = v
			}
		}
	}
}

// depthwise computes a convolution with one input channel per group (MobileNet's): each output
// channel is its channel's input times its own kernel, accumulated tap by tap along the channels.
func (c *conv2D) depthwise() {
	ch := c.kO
	rows, work := c.batch*c.outH*c.outW, c.depthwisePositions
	switch {
	case c.kH == 1 && c.kW == 1:
		work = c.depthwise1x1
	case c.fits3x3() && !rowsForTest.Load():
		rows = c.batch * c.outH
		work = c.depthwise3x3Rows()
	case c.rowwise():
		// Whole output rows: tasks split the batch's rows (b, y), not positions.
		rows = c.batch * c.outH
		work = c.depthwiseRows(work)
	}
	halves(rows, 1, c.batch*c.outH*c.outW*ch*c.kH*c.kW >= 1<<16, work)
}

// rowwise says depthwise can take a whole output row per tap: channels contiguous in the input,
// output and kernel, consecutive output columns reading consecutive input columns (stride 1
// along the row, no input dilation).
func (c *conv2D) rowwise() bool {
	return c.inSC == 1 && c.inSW == c.kO && c.outSC == 1 && c.outSW == c.kO && c.kSO == 1 &&
		c.stride[1] == 1 && c.inDil == [2]int{1, 1}
}

// depthwiseRows is depthwise over output rows (b, y) [lo, hi) when rowwise: each tap's
// products for a whole row are one run, input columns x+off times the tap's kernel repeated
// along the row, added to the row's sums in place. Every sum takes the same taps in the same
// order as position by position, with the same operation (MulAcc's FMA from 32 channels, a
// multiply and an add below), so the bits are the same; only the calls per position are gone.
// perPosition serves rows too short to gain (it takes positions, not rows).
func (c *conv2D) depthwiseRows(perPosition func(lo, hi int)) func(lo, hi int) {
	ch, w := c.kO, c.outW
	if w < 4 {
		return func(lo, hi int) { perPosition(lo*w, hi*w) }
	}
	// Rows are taken a chunk of cw positions at a time, every tap over the chunk before the
	// next: the chunk's sums, inputs and repeated kernel stay in L1 (a whole row of MobileNet's
	// first layers is 43 KB per operand). Each tap's kernel is repeated along a chunk.
	cw := max(1, min(w, depthwiseChunk/ch))
	taps := c.kH * c.kW
	tiled := make([]float32, taps*cw*ch)
	for t := range taps {
		kb := c.tapOff(t/c.kW, t%c.kW)
		for x := range cw {
			copy(tiled[(t*cw+x)*ch:(t*cw+x+1)*ch], c.ker[kb:kb+ch])
		}
	}
	c.epiApplied = c.epi != nil
	return func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, y := r/c.outH, r%c.outH
			dst := b*c.outSB + y*c.outSH
			acc := c.out[dst : dst+w*ch] // the row's sums, in place (rowwise: contiguous)
			clear(acc)
			for xa := 0; xa < w; xa += cw {
				xb := min(w, xa+cw)
				for ky := range c.kH {
					iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
					if iy < 0 || iy >= c.inH {
						continue
					}
					for kx := range c.kW {
						off := kx*c.kDil[1] - c.lo[1] // output column x reads input column x+off
						x0, x1 := max(xa, -off), min(xb, c.inW-off)
						if x0 >= x1 {
							continue
						}
						n := (x1 - x0) * ch
						src := b*c.inSB + iy*c.inSH + (x0+off)*ch
						in, sums := c.in[src:src+n], acc[x0*ch:x0*ch+n]
						kt := tiled[(ky*c.kW+kx)*cw*ch:][:n]
						if ch >= 32 {
							sgemm.MulAcc(in, kt, sums)
							continue
						}
						for i, v := range in {
							sums[i] += v * kt[i]
						}
					}
				}
				if c.epi != nil { // the chunk's sums are final: the epilogue while they are in L1
					c.epi.applyRun(acc[xa*ch : xb*ch])
				}
			}
		}
	}
}

// depthwiseChunk is the most values of a row depthwiseRows takes at a time (8 KB per operand).
const depthwiseChunk = 2048

// rowsForTest makes 3x3 depthwise convolutions run as before sgemm.Depthwise3x3 (tests compare).
var rowsForTest atomic.Bool

// depthwise3x3Calls counts the convolutions run on sgemm.Depthwise3x3.
var depthwise3x3Calls atomic.Int64

// fits3x3 reports whether depthwise can run on sgemm.Depthwise3x3: a 3x3 kernel, undilated, its
// channels contiguous in the input, the output and the kernel, a multiple of 16 and at least 32
// (where MulAcc, whose sums it repeats, ran), on a CPU with the kernel.
func (c *conv2D) fits3x3() bool {
	ch := c.kO
	return sgemm.Depthwise3x3Channels() == 16 && c.kH == 3 && c.kW == 3 && c.kDil == [2]int{1, 1} &&
		c.inDil == [2]int{1, 1} && c.inSC == 1 && c.inSW == ch && c.outSC == 1 && c.outSW == ch && c.kSO == 1 &&
		ch >= 32 && ch%16 == 0
}

// depthwise3x3Rows is depthwise over output rows (b, y) [lo, hi) for a fits3x3 convolution (any
// stride): the positions whose nine taps lie inside the input on sgemm.Depthwise3x3, 16 channels
// at a time with the taps' weights in registers (MobileNet's: a tap's MulAcc loaded and stored
// the sums once per tap), the others by depthwiseAt (its scratch allocated once per call); the same sums in the same order.
func (c *conv2D) depthwise3x3Rows() func(lo, hi int) {
	depthwise3x3Calls.Add(1)
	ch, s, left := c.kO, c.stride[1], c.lo[1]
	blocks := ch / 16
	kb := make([]float32, blocks*9*16) // per block of 16 channels, the 9 taps' weights
	for blk := range blocks {
		for t := range 9 {
			copy(kb[(blk*9+t)*16:][:16], c.ker[c.tapOff(t/3, t%3)+blk*16:])
		}
	}
	// Output columns [x0, x1) read inputs x*s-left .. x*s-left+2, all inside the row.
	x0 := (left + s - 1) / s
	x1 := min(c.outW, (c.inW-3+left)/s+1)
	c.epiApplied = c.epi != nil
	return func(lo, hi int) {
		scratch := c.depthwiseScratch()
		for r := lo; r < hi; r++ {
			b, y := r/c.outH, r%c.outH
			iy := y*c.stride[0] - c.lo[0]
			first := r * c.outW // the position index of (b, y, 0)
			dst := b*c.outSB + y*c.outSH
			if iy < 0 || iy+2 >= c.inH || x0 >= x1 {
				c.depthwiseAt(first, first+c.outW, scratch)
			} else {
				if x0 > 0 {
					c.depthwiseAt(first, first+x0, scratch)
				}
				for blk := range blocks {
					var in [3]int
					for ky := range in {
						in[ky] = b*c.inSB + (iy+ky)*c.inSH + (x0*s-left)*ch + blk*16
					}
					sgemm.Depthwise3x3(x1-x0, c.in, in, ch, s*ch, kb[blk*9*16:], c.out, dst+x0*ch+blk*16, ch)
				}
				if x1 < c.outW {
					c.depthwiseAt(first+x1, first+c.outW, scratch)
				}
			}
			if c.epi != nil { // the row is final: the epilogue while it is in cache
				c.epi.applyRun(c.out[dst : dst+c.outW*ch])
			}
		}
	}
}
