package fastdot

import (
	"sync/atomic"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// The convolutions of gradients, each with a path of its own: a kernel's gradient (a reduction
// over every position of the batch) and an input's gradient through a strided convolution (a
// convolution of a dilated input).

// reducesPositions reports whether the convolution is a kernel gradient's (GoMLX's and
// fastvjp's form: the input's batch and channel axes swapped, the output gradient as the kernel,
// whose "taps" are the forward's output positions): few output rows (the forward kernel's taps
// times its input channels), a reduction over every position of the batch, and a kernel whose
// (batch, position) index merges into one stride, as a channels-last output gradient's does.
func (c *conv2D) reducesPositions() bool {
	taps := c.kH * c.kW
	m := c.batch * c.outH * c.outW
	return c.groups == 1 && !c.flipped && c.inDil == [2]int{1, 1} && taps >= 64 && m*c.kO <= 1<<20 &&
		c.kSW == c.kO*c.kSO && c.kSH == c.kW*c.kSW && c.kSI == c.kH*c.kSH
}

// Kernel gradients: slices of the reduction, each a partial sum of its own, added in order.
const (
	gradSlices   = 8    // fixed, so that the sums do not depend on the number of cores
	gradPanelMax = 2048 // reduction rows gathered at a time
)

// kernelGradient computes a convolution whose reduction runs over every position of the batch
// (see reducesPositions) as a product with the reduction outermost: with r = (y, x, b) an output
// row and q = (i, ky, kx) a reduction index, out[r, o] = sum_q X[q, r] K[q, o], where X[q, ·],
// the inputs tap q reads for every output row, is gathered in contiguous runs along b (the
// forward's channels), and K[q, ·] is a row of the kernel (the output gradient at one position).
// The reduction is cut into gradSlices slices computed in parallel into partial sums, which are
// then added in slice order.
func (c *conv2D) kernelGradient() error {
	if c.gradientPacks() && !panelsForTest.Load() {
		return c.kernelGradientTransposed()
	}
	m := c.batch * c.outH * c.outW // rows, ordered (y, x, b)
	n := c.kO
	taps := c.kH * c.kW
	k := c.kI * taps
	per := (k + gradSlices - 1) / gradSlices
	partials := make([]float32, gradSlices*n*m) // partial s: [n, m], the transposed product
	var firstErr atomic.Pointer[error]
	sgemm.Parallel(sgemm.Workers(), gradSlices, func(_, s int) {
		q0, q1 := s*per, min(k, (s+1)*per)
		if q0 >= q1 {
			return
		}
		x := getScratch(min(gradPanelMax, q1-q0) * m)
		defer scratchPool.Put(x)
		part := partials[s*n*m : (s+1)*n*m]
		for p0 := q0; p0 < q1; p0 += gradPanelMax {
			rows := min(gradPanelMax, q1-p0)
			panel := (*x)[:rows*m]
			for q := range rows {
				c.gatherTap(panel[q*m:(q+1)*m], p0+q)
			}
			// part[o, r] += sum_q K[q, o] X[q, r]: A = K^T (n x rows), B = the panel (rows x m).
			a, b := c.panelView()
			a.Off, b.Data = p0/taps*c.kSI+p0%taps*c.kSW, panel
			if err := sgemm.MulAddSerial(n, m, rows, a, b, part, 0, m); err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
		}
	})
	if e := firstErr.Load(); e != nil {
		return *e
	}
	c.storeSlices(partials, m, n, 1, m) // partial s: [n, m]
	return nil
}

// storeSlices adds the slices' partial products in slice order and writes the sums to the
// output: row r = (y, x, b) of the product is output position (b, y, x), and element (r, o) of a
// partial is at r*rs + o*os.
func (c *conv2D) storeSlices(partials []float32, m, n, rs, os int) {
	size := m * n
	sum := partials[:size]
	for s := 1; s < gradSlices; s++ {
		sgemm.Elementwise('+', sum, partials[s*size:(s+1)*size], sum)
	}
	for r := range m {
		yx, b := r/c.batch, r%c.batch
		dst := b*c.outSB + yx/c.outW*c.outSH + yx%c.outW*c.outSW
		for o := range n {
			c.out[dst+o*c.outSC] = sum[r*rs+o*os]
		}
	}
}

// panelsForTest makes kernelGradient multiply as the panels' products even where
// kernelGradientTransposed would: tests compare the two bit for bit.
var panelsForTest atomic.Bool

var transposedCalls atomic.Int64

// panelView is the product kernelGradient runs on a panel of rows reduction indices: A = K^T
// (n x rows, read from the kernel where it lies) times B = the gathered panel (rows x m).
func (c *conv2D) panelView() (a, b sgemm.Matrix) {
	m := c.batch * c.outH * c.outW
	return sgemm.Matrix{Data: c.ker, RowStride: c.kSO, ColStride: c.kSW}, sgemm.Matrix{RowStride: m, ColStride: 1}
}

// gradientPacks reports whether every panel's product of kernelGradient runs on the packed
// register kernel (sgemm.Packs), whose sums kernelGradientTransposed reproduces.
func (c *conv2D) gradientPacks() bool {
	m := c.batch * c.outH * c.outW
	k := c.kI * c.kH * c.kW
	per := (k + gradSlices - 1) / gradSlices
	for q0 := 0; q0 < k; q0 += per {
		q1 := min(k, q0+per)
		for p0 := q0; p0 < q1; p0 += gradPanelMax {
			rows := min(gradPanelMax, q1-p0)
			a, b := c.panelView()
			if !sgemm.Packs(c.kO, m, rows, a, b) {
				return false
			}
		}
	}
	return true
}

// kernelGradientTransposed computes kernelGradient's product transposed, out^T[r, o] = sum_q
// X[q, r] K[q, o], over the same slices and panels: each row of X^T is gathered along q in runs
// of the forward's output rows (one copy per run for a single input channel) and read in place
// by the register kernel, and K's rows (the output gradient at a position, contiguous) are packed
// as B. The panels' product instead packed K^T by transposing it and gathered X a reduction
// index at a time, a few values per call. Every element adds the same panel sums of
// sgemm.KC products in the same order (a product's factors commute exactly), so the bits are
// kernelGradient's own.
func (c *conv2D) kernelGradientTransposed() error {
	transposedCalls.Add(1)
	m := c.batch * c.outH * c.outW // rows of the transposed product, ordered (y, x, b)
	n := c.kO
	k := c.kI * c.kH * c.kW
	per := (k + gradSlices - 1) / gradSlices
	partials := make([]float32, gradSlices*m*n) // partial s: [m, n]
	var firstErr atomic.Pointer[error]
	fail := func(err error) { firstErr.CompareAndSwap(nil, &err) }
	sgemm.Parallel(sgemm.Workers(), gradSlices, func(_, s int) {
		q0, q1 := s*per, min(k, (s+1)*per)
		if q0 >= q1 {
			return
		}
		x := getScratch(m * min(gradPanelMax, q1-q0))
		defer scratchPool.Put(x)
		part := partials[s*m*n : (s+1)*m*n]
		for p0 := q0; p0 < q1; p0 += gradPanelMax {
			rows := min(gradPanelMax, q1-p0)
			xt := (*x)[:m*rows] // X^T: [m, rows]
			for yx := range c.outH * c.outW {
				c.gatherReductionRows(xt, rows, yx, p0)
			}
			kb, err := sgemm.PackBSerial(rows, n, sgemm.Matrix{Data: c.ker, Off: p0 * c.kSW, RowStride: c.kSW, ColStride: c.kSO})
			if err != nil {
				fail(err)
				return
			}
			for p := 0; p < rows; p += sgemm.KC {
				d := min(sgemm.KC, rows-p)
				if err := kb.MulAdd(m, xt[p:], rows, p, d, 0, kb.Slivers(), part, 0, n, true); err != nil {
					kb.Release()
					fail(err)
					return
				}
			}
			kb.Release()
		}
	})
	if e := firstErr.Load(); e != nil {
		return *e
	}
	c.storeSlices(partials, m, n, n, 1) // partial s: [m, n]
	return nil
}

// gatherReductionRows writes X[q0:q0+rows, r] into row r of xt (rows apart) for the c.batch
// output rows r = (y, x, b) of output position yx = (y, x): for each reduction index q = (i,
// ky, kx), the input channel i at the position tap (ky, kx) reads from output position (y, x)
// of batch b, zeros in padding. Consecutive kx read positions kDil[1] apart along the input's
// width, so each row is gathered in runs of up to kW values, and the batch's rows of a run read
// one block of the input (contiguous for a channels-last forward input), which stays in cache
// from the first row to the last.
func (c *conv2D) gatherReductionRows(xt []float32, rows, yx, q0 int) {
	taps := c.kH * c.kW
	y, x := yx/c.outW, yx%c.outW
	step := c.kDil[1]
	s := step * c.inSW
	for j := 0; j < rows; {
		q := q0 + j
		i, t := q/taps, q%taps
		ky, kx0 := t/c.kW, t%c.kW
		n := min(c.kW-kx0, rows-j)
		iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
		// Input column ix0 + u*step for the run's u-th value: valid for u in [lo, hi).
		ix0 := x*c.stride[1] + kx0*step - c.lo[1]
		lo, hi := 0, 0
		if iy >= 0 && iy < c.inH {
			if ix0 < 0 {
				lo = min(n, (-ix0+step-1)/step)
			}
			if ix0 < c.inW {
				hi = min(n, (c.inW-1-ix0)/step+1)
			}
			hi = max(hi, lo)
		}
		src0 := i*c.inSC + iy*c.inSH + (ix0+lo*step)*c.inSW
		b := 0
		if c.inSB == 1 && hi > lo {
			// Eight channels at a time: a run of eight consecutive values is read per position.
			for ; b+8 <= c.batch; b += 8 {
				off := (yx*c.batch+b)*rows + j
				var d [8][]float32
				for e := range d {
					d[e] = xt[off+e*rows : off+e*rows+n]
					clearRun(d[e][:lo])
					clearRun(d[e][hi:])
					d[e] = d[e][lo:hi]
				}
				d0, d1, d2, d3, d4, d5, d6, d7 := d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
				d1, d2, d3 = d1[:len(d0)], d2[:len(d0)], d3[:len(d0)]
				d4, d5, d6, d7 = d4[:len(d0)], d5[:len(d0)], d6[:len(d0)], d7[:len(d0)]
				src := src0 + b
				for u := range d0 {
					v := c.in[src+u*s : src+u*s+8 : src+u*s+8]
					d0[u], d1[u], d2[u], d3[u] = v[0], v[1], v[2], v[3]
					d4[u], d5[u], d6[u], d7[u] = v[4], v[5], v[6], v[7]
				}
			}
		}
		for ; b < c.batch; b++ {
			off := (yx*c.batch+b)*rows + j
			seg := xt[off : off+n]
			clearRun(seg[:lo])
			clearRun(seg[hi:])
			if lo == hi {
				continue
			}
			src := src0 + b*c.inSB
			if run := seg[lo:hi]; s == 1 {
				copy(run, c.in[src:src+len(run)])
			} else {
				for u := range run {
					run[u] = c.in[src+u*s]
				}
			}
		}
		j += n
	}
}

// gatherTap writes X[q, ·] into row: for reduction index q = (i, ky, kx), the input channel i at
// the position tap (ky, kx) reads from each output row (y, x, b), zeros in padding.
func (c *conv2D) gatherTap(row []float32, q int) {
	taps := c.kH * c.kW
	i, t := q/taps, q%taps
	ky, kx := t/c.kW, t%c.kW
	line := c.outW * c.batch
	for y := range c.outH {
		segs := row[y*line : (y+1)*line]
		iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
		if iy < 0 || iy >= c.inH {
			clear(segs)
			continue
		}
		base := i*c.inSC + iy*c.inSH
		for x := range c.outW {
			seg := segs[x*c.batch : (x+1)*c.batch]
			ix := x*c.stride[1] + kx*c.kDil[1] - c.lo[1]
			switch src := base + ix*c.inSW; {
			case ix < 0 || ix >= c.inW:
				clearRun(seg)
			case c.inSB == 1 || c.batch == 1:
				copyRun(seg, c.in[src:src+c.batch])
			default:
				for b := range seg {
					seg[b] = c.in[src+b*c.inSB]
				}
			}
		}
	}
}

// transposed computes a convolution of a dilated input (the input gradient of a strided
// convolution) by scattering instead of gathering: each input position times each kernel tap
// adds into the one output position it reaches, so the dilation's holes (three quarters of the
// patches for a stride of 2) cost nothing. Output position i of a tap k reads dilated input
// position i + k*kDil - lo, which holds input p where that equals p*inDil.
func (c *conv2D) transposed() error {
	n, taps := c.kO, c.kH*c.kW
	m := c.batch * c.inH * c.inW
	clear(c.out)
	if m == 0 || n == 0 || c.kI == 0 {
		return nil
	}
	// Every tap's kernel side by side, B[ci, tap*n+co]: one product per tile of input rows
	// gives all the taps' contributions, and a narrow output (an image's 3 channels, the input
	// gradient of a network's stem) still fills the register tile's columns. Packed from where
	// the kernel lies: tap's columns are a run starting at its offset.
	wide := taps * n
	offs := make([]int, taps)
	for tap := range taps {
		offs[tap] = c.tapOff(tap/c.kW, tap%c.kW)
	}
	pb, err := sgemm.PackBColumnRuns(c.kI, wide, sgemm.Runs{Data: c.ker, Offs: offs, Run: n, RowStride: c.kSI, ColStride: c.kSO})
	if err != nil {
		return err
	}
	defer pb.Release()
	mt := min(m, max(64, tileFloats/max(wide, c.kI)))
	tmp := getScratch(mt * wide)
	defer scratchPool.Put(tmp)
	direct := c.inSC == 1 && c.inSW == c.inC && c.inSH == c.inW*c.inSW && c.inSB == c.inH*c.inSH
	var rowsBuf *[]float32
	if !direct {
		rowsBuf = getScratch(mt * c.kI)
		defer scratchPool.Put(rowsBuf)
	}
	hw := c.inH * c.inW
	for r0 := 0; r0 < m; r0 += mt {
		rows := min(mt, m-r0)
		a, aOff, lda := c.in, r0*c.inC, c.inC
		if !direct {
			buf := (*rowsBuf)[:rows*c.kI]
			for r := range rows {
				b, p := (r0+r)/hw, (r0+r)%hw
				src := b*c.inSB + p/c.inW*c.inSH + p%c.inW*c.inSW
				for ci := range c.kI {
					buf[r*c.kI+ci] = c.in[src+ci*c.inSC]
				}
			}
			a, aOff, lda = buf, 0, c.kI
		}
		t := (*tmp)[:rows*wide]
		w := sgemm.Workers()
		split := splitProduct(rows, pb.Slivers(), w)
		var firstErr atomic.Pointer[error]
		sgemm.Parallel(w, split.tasks(), func(_, task int) {
			i0, brows, s0, s1 := split.task(task)
			for p := 0; p < c.kI; p += sgemm.KC {
				err := pb.MulAdd(brows, a[aOff+i0*lda+p:], lda, p, min(sgemm.KC, c.kI-p), s0, s1, t, i0*wide, wide, p > 0)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
		if e := firstErr.Load(); e != nil {
			return *e
		}
		// Output rows of either parity take their contributions from kernel rows of one parity
		// each when the input is dilated by an even step: one goroutine each, in disjoint rows.
		if c.inDil[0]%2 == 0 && c.kH >= 2 && c.kDil[0]%2 == 1 && rows*wide >= parallelFrom && w >= 2 {
			sgemm.Parallel(2, 2, func(_, parity int) { c.scatterTaps(t, r0, rows, wide, parity) })
		} else {
			c.scatterTaps(t, r0, rows, wide, -1)
		}
	}
	return nil
}

// scatterTaps adds rows [r0, r0+rows) of transposed's product t (row r: input position r's
// contribution to every tap, wide = taps x kO values) into the output positions they reach.
// It runs a tap at a time along a run of input positions of one image row, the bounds worked
// out once per run; each output position still receives its contributions in the order of
// (input position, tap), the scalar scatter's (for a fixed output position and input row, a
// larger input column is reached only through a larger tap column), so the sums do not depend
// on the tiling or the number of cores. A parity of 0 or 1 limits it to the output rows of that
// parity (-1: every row).
func (c *conv2D) scatterTaps(t []float32, r0, rows, wide, parity int) {
	n, hw := c.kO, c.inH*c.inW
	dy, dx := c.inDil[0], c.inDil[1]
	for r := 0; r < rows; {
		g := r0 + r
		bi, p := g/hw, g%hw
		iy, ix0 := p/c.inW, p%c.inW
		ix1 := min(c.inW, ix0+rows-r) // this run: input columns [ix0, ix1) of row iy
		for tap := range c.kH * c.kW {
			ky, kx := tap/c.kW, tap%c.kW
			oy := iy*dy - ky*c.kDil[0] + c.lo[0]
			if oy < 0 || oy >= c.outH || parity >= 0 && oy&1 != parity {
				continue
			}
			// Output column ix*dx + off for input column ix: in [0, outW) for ix in [lo, hi).
			off := c.lo[1] - kx*c.kDil[1]
			lo, hi := ix0, ix1
			if off < 0 {
				lo = max(lo, (-off+dx-1)/dx)
			}
			if last := c.outW - 1 - off; last < 0 {
				hi = lo
			} else {
				hi = min(hi, last/dx+1)
			}
			if lo >= hi {
				continue
			}
			dst := bi*c.outSB + oy*c.outSH + (lo*dx+off)*c.outSW
			src := (r+lo-ix0)*wide + tap*n
			step := dx * c.outSW
			if c.outSC == 1 {
				for range hi - lo {
					out, in := c.out[dst:dst+n], t[src:src+n]
					for co, v := range in {
						out[co] += v
					}
					dst, src = dst+step, src+wide
				}
				continue
			}
			for range hi - lo {
				for co, v := range t[src : src+n] {
					c.out[dst+co*c.outSC] += v
				}
				dst, src = dst+step, src+wide
			}
		}
		r += ix1 - ix0
	}
}
