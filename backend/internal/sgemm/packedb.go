package sgemm

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// PackedB is the right-hand side B[k, n] of many products, packed once for the register kernel:
// panels of kc rows, each in nr-column slivers. A convolution packs its kernel matrix once and
// multiplies every tile of patches by it, in parallel, with MulAdd.
type PackedB struct {
	k, n     int
	mr, nr   int // the register tile it was packed for
	slivers  int
	data     []float32
	buf      *[]float32
	released atomic.Bool
	// ldb is B's row stride where B is read where it lies (InPlaceB), its rows from data[0]; 0
	// where it was packed.
	ldb int
}

// PackB packs B (k x n), in parallel. Release returns its memory for reuse.
func PackB(k, n int, b Matrix) (*PackedB, error) { return packBRuns(workers(), 0, k, n, oneRun(k, b)) }

// PackBSerial is PackB on the calling goroutine only, for callers that run many products in
// parallel themselves.
func PackBSerial(k, n int, b Matrix) (*PackedB, error) { return packBRuns(1, 0, k, n, oneRun(k, b)) }

// oneRun is the k rows of b as one run.
func oneRun(k int, b Matrix) Runs {
	return Runs{Data: b.Data, Offs: []int{b.Off}, Run: max(k, 1), RowStride: b.RowStride, ColStride: b.ColStride}
}

// Runs is a matrix whose rows come in runs of Run rows: row p starts at Offs[p/Run] +
// (p%Run)*RowStride, and its columns are ColStride apart (PackBColumnRuns reads it with the
// roles of rows and columns exchanged). A convolution's kernel as a [taps*channels, out] matrix
// is one whose taps are not one stride apart (an input gradient's: the forward kernel reversed,
// its channel axes swapped); packing it as runs saves a copy.
type Runs struct {
	Data                      []float32
	Offs                      []int
	Run, RowStride, ColStride int
}

// PackBRuns packs rows [p0, p0+k) of b (n columns), in parallel, as PackB does.
func PackBRuns(p0, k, n int, b Runs) (*PackedB, error) { return packBRuns(workers(), p0, k, n, b) }

// packBRuns is PackBRuns on w goroutines.
func packBRuns(w, p0, k, n int, b Runs) (*PackedB, error) {
	if err := packable(k, n); err != nil {
		return nil, err
	}
	if b.Run <= 0 || p0 < 0 || (p0+k+b.Run-1)/b.Run > len(b.Offs) {
		return nil, fmt.Errorf("sgemm: rows [%d, %d) of B outside its %d runs of %d", p0, p0+k, len(b.Offs), b.Run)
	}
	for r := p0 / b.Run; r*b.Run < p0+k; r++ {
		rows := min((r+1)*b.Run, p0+k) - max(r*b.Run, p0)
		first := max(r*b.Run, p0) - r*b.Run
		m := Matrix{Data: b.Data, Off: b.Offs[r] + first*b.RowStride, RowStride: b.RowStride, ColStride: b.ColStride}
		if err := m.check("B", rows, n); err != nil {
			return nil, err
		}
	}
	return packPanels(w, k, n, func(dst []float32, pc, depth, j int) {
		// The panel's rows, one run at a time: a run is a strided matrix whose row p0+pc+q
		// is at Off + (p0+pc+q)*RowStride.
		for q := 0; q < depth; {
			p := p0 + pc + q
			r := p / b.Run
			rows := min(depth-q, (r+1)*b.Run-p)
			m := Matrix{Data: b.Data, Off: b.Offs[r] - r*b.Run*b.RowStride, RowStride: b.RowStride, ColStride: b.ColStride}
			packB(dst[q*nr:], m, p, rows, j*nr, n)
			q += rows
		}
	}), nil
}

// InPlaceB is PackBRuns without the packing: MulAdd reads rows [p0, p0+k) of b where they lie,
// in the same order of sums (so with the same bits). A product of few rows of A reads each of
// B's values once or a few times, and packing B would cost more than the product saves; a
// convolution at batch 1 is one. It reports false where the kernel cannot read b so: on CPUs
// without the AVX-512 kernel, where the rows are not one run, columns not contiguous, or n not a
// multiple of the kernel's 32 columns.
func InPlaceB(p0, k, n int, b Runs) (*PackedB, bool) {
	if !available || mr != 12 || packable(k, n) != nil || n%nr != 0 || b.ColStride != 1 || b.Run <= 0 || p0 < 0 ||
		p0/b.Run != (p0+k-1)/b.Run || p0/b.Run >= len(b.Offs) || b.RowStride < n {
		return nil, false
	}
	r := p0 / b.Run
	m := Matrix{Data: b.Data, Off: b.Offs[r] + (p0-r*b.Run)*b.RowStride, RowStride: b.RowStride, ColStride: 1}
	if m.check("B", k, n) != nil {
		return nil, false
	}
	return &PackedB{k: k, n: n, mr: mr, nr: nr, slivers: n / nr, data: b.Data[m.Off:], ldb: b.RowStride}, true
}

// PackBColumnRuns packs b (k x n) whose columns, not rows, come in runs of b.Run: column j
// starts at Offs[j/Run] + (j%Run)*ColStride, and its rows are RowStride apart. A strided
// convolution's input gradient multiplies by every kernel tap at once, the taps' kernels side
// by side as [channels, taps*out]; packing them where they lie saves copying them side by side.
func PackBColumnRuns(k, n int, b Runs) (*PackedB, error) {
	if err := packable(k, n); err != nil {
		return nil, err
	}
	if b.Run <= 0 || (n+b.Run-1)/b.Run > len(b.Offs) {
		return nil, fmt.Errorf("sgemm: %d columns of B outside its %d runs of %d", n, len(b.Offs), b.Run)
	}
	for r := 0; r*b.Run < n; r++ {
		m := Matrix{Data: b.Data, Off: b.Offs[r], RowStride: b.RowStride, ColStride: b.ColStride}
		if err := m.check("B", k, min(b.Run, n-r*b.Run)); err != nil {
			return nil, err
		}
	}
	return packPanels(workers(), k, n, func(dst []float32, pc, depth, j int) {
		cols := min(nr, n-j*nr)
		if cols < nr {
			clear(dst[:depth*nr])
		}
		// The sliver's columns, one run at a time.
		for c := j * nr; c < j*nr+cols; {
			r := c / b.Run
			seg := min(j*nr+cols, (r+1)*b.Run) - c
			m := Matrix{Data: b.Data, Off: b.Offs[r] + (c-r*b.Run)*b.ColStride, RowStride: b.RowStride, ColStride: b.ColStride}
			packColumns(dst[c-j*nr:], m, pc, depth, seg)
			c += seg
		}
	}), nil
}

// packable says why a k x n matrix cannot be packed here, or nil.
func packable(k, n int) error {
	if !available {
		return fmt.Errorf("sgemm: this CPU lacks AVX2/FMA")
	}
	if k <= 0 || n <= 0 {
		return fmt.Errorf("sgemm: PackB of an empty %dx%d matrix", k, n)
	}
	return nil
}

// packPanels packs a k x n matrix on w goroutines, one task per panel of kc rows and sliver of
// nr columns: sliver(dst, pc, depth, j) writes rows [pc, pc+depth) of sliver j into dst.
func packPanels(w, k, n int, sliver func(dst []float32, pc, depth, j int)) *PackedB {
	slivers := (n + nr - 1) / nr
	pb := &PackedB{k: k, n: n, mr: mr, nr: nr, slivers: slivers, buf: getPanel(k * slivers * nr)}
	pb.data = *pb.buf
	panels := (k + kc - 1) / kc
	parallel(w, panels*slivers, func(_, t int) {
		pc, j := t/slivers*kc, t%slivers
		depth := min(kc, k-pc)
		sliver(pb.data[pc*slivers*nr+j*depth*nr:], pc, depth, j)
	})
	return pb
}

// maxMR is the most rows of a register tile (the AVX-512 kernel's).
const maxMR = 12

// edgePool holds the scratch for A's last rows padded to mr (MulAdd's, one per call).
var edgePool = sync.Pool{New: func() any { return new([maxMR * kc]float32) }}

// tilePool holds MulAddSegments' tiles for slivers cut short.
var tilePool = sync.Pool{New: func() any { return new([maxTile]float32) }}

// Release returns the packed panels to the pool; pb must not be used after.
func (pb *PackedB) Release() {
	if pb != nil && !pb.released.Swap(true) {
		if pb.buf != nil {
			panelPool.Put(pb.buf)
		}
		pb.data = nil
	}
}

// Columns is the columns of B in slivers [s0, s1).
func (pb *PackedB) Columns(s0, s1 int) (c0, c1 int) { return s0 * pb.nr, min(pb.n, s1*pb.nr) }

// Slivers is the number of column slivers (nr columns each) B was packed into: MulAdd's
// column range is given in slivers.
func (pb *PackedB) Slivers() int { return pb.slivers }

// MulAdd computes C[0:m, cols] += A[0:m, 0:depth] · B[p0:p0+depth, cols] on the calling
// goroutine, for the columns of slivers [s0, s1); with accumulate false it stores the product,
// C = A·B, so that a first panel need not clear C. A is row-major with row stride lda and is read
// in place (not packed); p0 must be a multiple of KC and depth at most KC, or reach B's last row.
// C is row-major: element (i, j) is c[cOff+i*ldc+j]. Callers split rows and slivers among
// goroutines themselves.
func (pb *PackedB) MulAdd(m int, a []float32, lda, p0, depth, s0, s1 int, c []float32, cOff, ldc int, accumulate bool) error {
	return pb.MulAddSegments(m, a, lda, nil, 0, nil, p0, depth, s0, s1, c, cOff, ldc, accumulate)
}

// Segment is a run of reduction columns of a sliver of rows, read where it lies: row i of the
// sliver's run is Len values from Off + i*stride of the source (MulAddSegments).
type Segment struct{ Off, Len int }

// MaxSegments is the most runs a sliver's panel may come in.
const MaxSegments = 16

// InPlaceSlivers reports whether MulAddSegments reads row slivers in runs (the AVX-512 kernel
// does; elsewhere every row must be in A), and how many rows a sliver has.
func InPlaceSlivers() (ok bool, rows int) { return available && mr == 12, mr }

// MulAddSegments is MulAdd where the row slivers given segments read their rows of A from src
// in runs instead: sliver s (rows [s*mr, s*mr+mr), mr from InPlaceSlivers, whole slivers only)
// with segs[s] non-nil reads, run after run, Len columns of row i from src[Off + i*lds:]; the
// runs' lengths add up to depth, at most MaxSegments of them. The other rows are A's. An
// implicit im2col: a convolution's patches read where they lie in its input, each sliver's sums
// those of the same patches gathered into A.
func (pb *PackedB) MulAddSegments(m int, a []float32, lda int, src []float32, lds int, segs [][]Segment, p0, depth, s0, s1 int, c []float32, cOff, ldc int, accumulate bool) error {
	switch {
	case pb.data == nil:
		return fmt.Errorf("sgemm: PackedB used after Release")
	case pb.mr != mr || pb.nr != nr:
		return fmt.Errorf("sgemm: PackedB packed for another register kernel")
	case p0 < 0 || p0%kc != 0 || depth <= 0 || depth > kc || p0+depth > pb.k || (depth < kc && p0+depth != pb.k):
		return fmt.Errorf("sgemm: panel [%d, %d) is not one of B's %d-row panels of %d rows", p0, p0+depth, kc, pb.k)
	case s0 < 0 || s1 > pb.slivers || s0 > s1:
		return fmt.Errorf("sgemm: slivers [%d, %d) outside [0, %d)", s0, s1, pb.slivers)
	case m < 0 || lda < depth:
		return fmt.Errorf("sgemm: A of %d rows with stride %d < depth %d", m, lda, depth)
	}
	if m == 0 || s0 == s1 {
		return nil
	}
	if err := (Matrix{a, 0, lda, 1}).check("A", m, depth); err != nil {
		return err
	}
	if err := checkSegments(m, src, lds, segs, depth); err != nil {
		return err
	}
	lastCol := min(pb.n, s1*nr)
	if err := (Matrix{c, cOff + s0*nr, ldc, 1}).check("C", m, lastCol-s0*nr); err != nil {
		return err
	}
	// Sliver j of the panel starts at pb.data[first + j*next], its rows ldb apart: packed, the
	// panel's slivers one after the other; in place, B's own rows.
	first, next, ldb := p0*pb.slivers*nr, depth*nr, nr
	if pb.ldb != 0 {
		first, next, ldb = p0*pb.ldb, nr, pb.ldb
	}
	// Sums of a sliver cut short (the last rows or columns) go to a pooled tile, taken only when
	// there are such slivers: zeroing a tile on every call cost 2% of MobileNetV2's forward.
	var tile *[maxTile]float32
	if m%mr != 0 || s1*nr > pb.n {
		tile = tilePool.Get().(*[maxTile]float32)
		defer tilePool.Put(tile)
	}
	var edge []float32 // the last rows of A, padded to mr with zeros (pooled: one per call made 7% of a backward pass)
	if m%mr != 0 {
		buf := edgePool.Get().(*[maxMR * kc]float32)
		defer edgePool.Put(buf)
		edge = buf[:mr*depth]
		row := m - m%mr
		for i := range m % mr {
			copy(edge[i*depth:(i+1)*depth], a[(row+i)*lda:(row+i)*lda+depth])
		}
		clear(edge[m%mr*depth:])
	}
	var runs [MaxSegments]segment
	for j := s0; j < s1; j++ {
		col := j * nr
		cols := min(nr, pb.n-col)
		bs := &pb.data[first+j*next]
		for s, row := 0, 0; row < m; s, row = s+1, row+mr {
			r := min(mr, m-row)
			dst, ldd, add := &c[cOff+row*ldc+col], ldc, accumulate
			inTile := r < mr || cols < nr
			if inTile {
				dst, ldd, add = &tile[0], nr, false
			}
			if s < len(segs) && segs[s] != nil {
				for i, g := range segs[s] {
					runs[i] = segment{&src[g.Off], g.Len}
				}
				kernel12x32g(&runs[0], len(segs[s]), lds, bs, ldb, dst, ldd, add)
			} else {
				as, la := &a[row*lda], lda
				if r < mr {
					as, la = &edge[0], depth
				}
				if ldb == nr {
					kernelStrided(depth, as, la, bs, dst, ldd, add)
				} else {
					runs[0] = segment{as, depth}
					kernel12x32g(&runs[0], 1, la, bs, ldb, dst, ldd, add)
				}
			}
			if !inTile {
				continue
			}
			for ii := range r {
				dst := c[cOff+(row+ii)*ldc+col : cOff+(row+ii)*ldc+col+cols]
				src := tile[ii*nr : ii*nr+cols]
				if !accumulate {
					copy(dst, src)
					continue
				}
				for jj, v := range src {
					dst[jj] += v
				}
			}
		}
	}
	return nil
}

// checkSegments says what is wrong with MulAddSegments' runs, or nil.
func checkSegments(m int, src []float32, lds int, segs [][]Segment, depth int) error {
	ok, rows := InPlaceSlivers()
	for s, runs := range segs {
		if runs == nil {
			continue
		}
		switch {
		case !ok:
			return fmt.Errorf("sgemm: no kernel reads row slivers in runs on this CPU")
		case (s+1)*rows > m:
			return fmt.Errorf("sgemm: runs for sliver %d, past the %d rows", s, m)
		case len(runs) > MaxSegments:
			return fmt.Errorf("sgemm: %d runs for sliver %d, more than %d", len(runs), s, MaxSegments)
		case lds < 0:
			return fmt.Errorf("sgemm: negative stride %d of the runs' rows", lds)
		}
		total := 0
		for _, g := range runs {
			if g.Len <= 0 || g.Off < 0 || g.Off+(rows-1)*lds+g.Len > len(src) {
				return fmt.Errorf("sgemm: run %+v of sliver %d (row stride %d) outside its %d values", g, s, lds, len(src))
			}
			total += g.Len
		}
		if total != depth {
			return fmt.Errorf("sgemm: sliver %d's runs have %d columns, not the panel's %d", s, total, depth)
		}
	}
	return nil
}

// KC is the depth of B's panels: MulAdd multiplies one panel at a time.
const KC = kc

// Workers is the number of goroutines a multiply uses (SetWorkers), for callers that split
// their own work with Parallel.
func Workers() int { return workers() }

// Parallel runs fn(worker, task) for tasks 0..n-1 on at most w goroutines; worker < w tells
// each goroutine's scratch apart.
func Parallel(w, n int, fn func(worker, task int)) { parallel(w, n, fn) }
