// Package sgemm multiplies float32 matrices with AVX2/FMA kernels written in Go assembly: a packed,
// blocked matrix multiply (a 6x16 register tile, as in BLIS, or 12x32 with AVX-512) for general shapes, and
// vectorized dot products and axpys for matrix-vector shapes (fully connected layers at batch 1),
// which packing would only slow down. It runs on all cores with goroutines.
//
// It exists because the pure-Go GoMLX backend's DotGeneral is scalar Go; see internal/fastdot,
// which routes that backend's float32 DotGeneral here.
package sgemm

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Matrix is a strided view of a matrix: element (i, j) is Data[Off + i*RowStride + j*ColStride].
type Matrix struct {
	Data                 []float32
	Off                  int
	RowStride, ColStride int
}

func (x Matrix) at(i, j int) float32 { return x.Data[x.Off+i*x.RowStride+j*x.ColStride] }

// t returns the transposed view.
func (x Matrix) t() Matrix { return Matrix{x.Data, x.Off, x.ColStride, x.RowStride} }

// check returns an error if a rows x cols view reaches outside Data or has negative strides.
func (x Matrix) check(name string, rows, cols int) error {
	if x.RowStride < 0 || x.ColStride < 0 || x.Off < 0 {
		return fmt.Errorf("sgemm: %s: negative stride or offset", name)
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	if last := x.Off + (rows-1)*x.RowStride + (cols-1)*x.ColStride; last >= len(x.Data) {
		return fmt.Errorf("sgemm: %s: %dx%d view with strides (%d, %d) at %d reaches %d, past %d elements",
			name, rows, cols, x.RowStride, x.ColStride, x.Off, last, len(x.Data))
	}
	return nil
}

// The register tile: mr x nr elements of C that kernel accumulates. AVX2 CPUs use kernel6x16;
// AVX-512 CPUs kernel12x32, twice the lanes and four times the accumulators. Both sum each
// element over the same panels of kc in the same order, so they give the same bits.
var (
	mr, nr        = 6, 16
	kernel        = kernel6x16
	kernelStrided = kernel6x16s // A read in place with a row stride
)

// maxTile is the largest mr*nr, the size of the scratch tile for C's edges.
const maxTile = 12 * 32

func init() { useAVX512(hasAVX512) }

// Kernel names the instruction set of the matrix multiply's register kernel: "AVX-512" or
// "AVX2/FMA" (or "none" where available is false).
func Kernel() string {
	switch {
	case !available:
		return "none"
	case nr == 32:
		return "AVX-512"
	}
	return "AVX2/FMA"
}

// useAVX512 selects the register kernel (tests run both).
func useAVX512(on bool) {
	if on {
		mr, nr, kernel, kernelStrided = 12, 32, kernel12x32, kernel12x32s
		return
	}
	mr, nr, kernel, kernelStrided = 6, 16, kernel6x16, kernel6x16s
}

const (
	// kc is the depth of a packed panel: a sliver of B (16-32 KB) stays in L1. It is also the
	// longest chain of float32 sums before a panel's result is added to C: 768 ran the zoo's
	// convolutions 5-15% faster, but its longer sums moved DeepLift and LRP on a random-weight
	// VGG-16 past the parity bound against Captum and Zennit (1.2-2.6% of the largest value,
	// against 1%), so the panels stay short.
	kc = 256
	mc = 96 // rows of a packed block of A (96 KB, in L2); a multiple of every mr

	// smallWork is the multiply-add count under which plain loops beat packing.
	smallWork = 32 * 1024
	// thinRows is the largest row count (or column count) handled as matrix-vector products.
	thinRows = 4
	// A product of up to thickRows rows with a B of at least bigB elements and wideB columns is
	// handled as matrix-vector products too: packing B (VGG's fc6, 100M weights, at batch 8)
	// would cost more than the product.
	thickRows, bigB, wideB = 16, 1 << 20, 256
)

// workerCount is the number of goroutines a multiply uses; 0 means runtime.GOMAXPROCS(0). Each
// multiply reads it once (workers), so a change mid-multiply cannot mismatch its buffers.
var workerCount atomic.Int32

// SetWorkers sets the number of goroutines a multiply uses; 0 means runtime.GOMAXPROCS(0).
func SetWorkers(n int) { workerCount.Store(int32(max(n, 0))) }

func workers() int {
	if w := workerCount.Load(); w > 0 {
		return int(w)
	}
	return runtime.GOMAXPROCS(0)
}

// MulAcc computes y[i] += x[i] * w[i] (a depthwise convolution's tap over the channels), with
// the FMA kernel where available. The slices must be of one length.
func MulAcc(x, w, y []float32) {
	if len(x) != len(y) || len(w) != len(y) {
		panic(fmt.Sprintf("sgemm.MulAcc: lengths %d, %d, %d differ", len(x), len(w), len(y)))
	}
	if len(y) == 0 {
		return
	}
	if !available {
		for i, v := range x {
			y[i] += v * w[i]
		}
		return
	}
	mulAcc(len(y), &x[0], &w[0], &y[0])
}

// Elementwise computes o[i] = a[i] op b[i] for op '+', '-' or '*', with the AVX2 kernels where
// available (bit for bit the same as the scalar operations). o may be a or b.
func Elementwise(op byte, a, b, o []float32) {
	n := len(o)
	if len(a) != n || len(b) != n {
		panic(fmt.Sprintf("sgemm.Elementwise: lengths %d, %d, %d differ", len(a), len(b), n))
	}
	if n == 0 {
		return
	}
	if !available {
		for i := range o {
			o[i] = scalarOp(op, a[i], b[i])
		}
		return
	}
	switch op {
	case '+':
		addVV(n, &a[0], &b[0], &o[0])
	case '-':
		subVV(n, &a[0], &b[0], &o[0])
	case '*':
		mulVV(n, &a[0], &b[0], &o[0])
	default:
		panic(fmt.Sprintf("sgemm.Elementwise: unknown op %q", op))
	}
}

// ElementwiseScalar computes o[i] = a[i] op s for op '+', '-', '*', or 'M' and 'm': Go's max and
// min (NaN propagates; max(-0, +0) is +0, min(-0, +0) is -0), see Elementwise.
func ElementwiseScalar(op byte, a []float32, s float32, o []float32) {
	n := len(o)
	if len(a) != n {
		panic(fmt.Sprintf("sgemm.ElementwiseScalar: lengths %d, %d differ", len(a), n))
	}
	if n == 0 {
		return
	}
	if !available {
		for i := range o {
			o[i] = scalarOp(op, a[i], s)
		}
		return
	}
	switch op {
	case '+':
		addVS(n, &a[0], s, &o[0])
	case '-':
		subVS(n, &a[0], s, &o[0])
	case '*':
		mulVS(n, &a[0], s, &o[0])
	case 'M', 'm':
		// The instructions return s for a zero a[i] equal to a zero s; Go's max wants +0 and
		// min -0 there, which they give unless s is the other zero.
		if s == 0 && math.Signbit(float64(s)) == (op == 'M') {
			for i := range o {
				o[i] = scalarOp(op, a[i], s)
			}
			return
		}
		if op == 'M' {
			maxVS(n, &a[0], s, &o[0])
		} else {
			minVS(n, &a[0], s, &o[0])
		}
	default:
		panic(fmt.Sprintf("sgemm.ElementwiseScalar: unknown op %q", op))
	}
}

func scalarOp(op byte, x, y float32) float32 {
	switch op {
	case '+':
		return x + y
	case '-':
		return x - y
	case '*':
		return x * y
	case 'M':
		return max(x, y)
	case 'm':
		return min(x, y)
	}
	panic(fmt.Sprintf("sgemm: unknown op %q", op))
}

// MulAdd computes C += A·B, where A is m x k, B is k x n, and C is the m x n row-major matrix
// c[cOff + i*ldc + j]. It requires available; views are bounds-checked first.
func MulAdd(m, n, k int, a, b Matrix, c []float32, cOff, ldc int) error {
	if err := checkMulAdd(m, n, k, a, b, c, cOff, ldc); err != nil || m == 0 || n == 0 || k == 0 {
		return err
	}
	mulAdd(m, n, k, a, b, c, cOff, ldc)
	return nil
}

// MulAddSerial is MulAdd on the calling goroutine only, for callers that run many products in
// parallel themselves.
func MulAddSerial(m, n, k int, a, b Matrix, c []float32, cOff, ldc int) error {
	if err := checkMulAdd(m, n, k, a, b, c, cOff, ldc); err != nil || m == 0 || n == 0 || k == 0 {
		return err
	}
	mulAddOn(1, m, n, k, a, b, c, cOff, ldc)
	return nil
}

func checkMulAdd(m, n, k int, a, b Matrix, c []float32, cOff, ldc int) error {
	if !available {
		return fmt.Errorf("sgemm: this CPU lacks AVX2/FMA")
	}
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("sgemm: negative size %dx%dx%d", m, n, k)
	}
	if err := a.check("A", m, k); err != nil {
		return err
	}
	if err := b.check("B", k, n); err != nil {
		return err
	}
	return (Matrix{c, cOff, ldc, 1}).check("C", m, n)
}

func mulAdd(m, n, k int, a, b Matrix, c []float32, cOff, ldc int) {
	mulAddOn(workers(), m, n, k, a, b, c, cOff, ldc)
}

// The ways mulAddOn multiplies, by shape and layout (route).
const (
	routeNaive  = iota // plain loops
	routeThin          // axpys or dot products along B
	routeThinT         // the transposed product, thin
	routePacked        // the packed register kernel
)

// route is the way mulAddOn computes an m x n x k product of these views.
func route(m, n, k int, a, b Matrix) int {
	switch {
	case m*n*k <= smallWork:
		return routeNaive
	case (m <= thinRows || m <= thickRows && n >= wideB && k*n >= bigB) && (b.ColStride == 1 || b.RowStride == 1):
		return routeThin
	case n <= thinRows && (a.ColStride == 1 || a.RowStride == 1):
		return routeThinT
	}
	return routePacked
}

// Packs reports whether MulAdd (or MulAddSerial) computes an m x n x k product of these views
// with the packed register kernel: each element of C plus, panel of KC by panel in order, its
// panel's sum of products (an FMA chain from zero). PackedB.MulAdd adds the same panel sums, so
// a product made of its calls over the same panels gives the same bits.
func Packs(m, n, k int, a, b Matrix) bool { return route(m, n, k, a, b) == routePacked }

// mulAddOn is mulAdd on w goroutines.
func mulAddOn(w, m, n, k int, a, b Matrix, c []float32, cOff, ldc int) {
	switch route(m, n, k, a, b) {
	case routeNaive:
		naive(m, n, k, a, b, c, cOff, ldc)
	case routeThin:
		thin(w, m, n, k, a, b, c, cOff, ldc)
	case routeThinT:
		// C^T = B^T A^T: compute it row-major in a scratch matrix, then add it transposed.
		t := make([]float32, n*m)
		thin(w, n, m, k, b.t(), a.t(), t, 0, m)
		for i := range m {
			for j := range n {
				c[cOff+i*ldc+j] += t[j*m+i]
			}
		}
	default:
		packed(w, m, n, k, a, b, c, cOff, ldc)
	}
}

func naive(m, n, k int, a, b Matrix, c []float32, cOff, ldc int) {
	for i := range m {
		for j := range n {
			var s float32
			for p := range k {
				s += a.at(i, p) * b.at(p, j)
			}
			c[cOff+i*ldc+j] += s
		}
	}
}

// parallel runs fn(worker, task) for tasks 0..n-1 on at most workers goroutines: the caller and
// members of the team (team.go), or new goroutines when the team is busy. A panic in any of them
// continues on the caller's goroutine.
func parallel(workers, n int, fn func(worker, task int)) {
	w := min(workers, n)
	if w <= 1 {
		for t := range n {
			fn(0, t)
		}
		return
	}
	if !teamParallel(w, n, fn) {
		spawnParallel(w, n, fn)
	}
}

// PanicInWorkersForTest makes the next tasks of parallel's worker goroutines (not the caller's)
// panic while on: tests use it to show that such a panic becomes an error of the call that ran
// it.
func PanicInWorkersForTest(on bool) { panicInWorkers.Store(on) }

var panicInWorkers atomic.Bool

// Available reports whether this CPU runs the SIMD kernels (AVX2 and FMA).
func Available() bool { return available }

// thin handles few rows (see thinRows, thickRows) with B contiguous along rows (axpy) or columns (dot products).
func thin(w, m, n, k int, a, b Matrix, c []float32, cOff, ldc int) {
	const chunk = 2048 // columns per task: C's rows stay in L1/L2
	tasks := (n + chunk - 1) / chunk
	if tasks < 4*w {
		tasks = min(n/16+1, 4*w)
	}
	per := (n + tasks - 1) / tasks
	if b.ColStride == 1 {
		parallel(w, tasks, func(_, t int) {
			j0, j1 := t*per, min(n, (t+1)*per)
			if j0 >= j1 {
				return
			}
			for p := range k {
				brow := &b.Data[b.Off+p*b.RowStride+j0]
				for i := range m {
					if alpha := a.at(i, p); alpha != 0 {
						axpy(j1-j0, alpha, brow, &c[cOff+i*ldc+j0])
					}
				}
			}
		})
		return
	}
	// b.RowStride == 1: column j of B is contiguous. Make A's rows contiguous too.
	rows := make([][]float32, m)
	for i := range m {
		if a.ColStride == 1 {
			rows[i] = a.Data[a.Off+i*a.RowStride : a.Off+i*a.RowStride+k]
			continue
		}
		rows[i] = make([]float32, k)
		for p := range k {
			rows[i][p] = a.at(i, p)
		}
	}
	parallel(w, tasks, func(_, t int) {
		j0, j1 := t*per, min(n, (t+1)*per)
		for j := j0; j < j1; j++ {
			bcol := &b.Data[b.Off+j*b.ColStride]
			for i := range m {
				c[cOff+i*ldc+j] += dot(k, &rows[i][0], bcol)
			}
		}
	})
}

var panelPool sync.Pool // *[]float32 scratch for packed panels

func getPanel(size int) *[]float32 {
	if p, ok := panelPool.Get().(*[]float32); ok && cap(*p) >= size {
		*p = (*p)[:size]
		return p
	}
	s := make([]float32, size)
	return &s
}

// packed is the blocked multiply: for each depth panel of kc, B is packed into nr-column slivers,
// then tasks of (block of mc rows of A, range of slivers) pack their A block into mr-row slivers and
// run the register kernel over every (A sliver, B sliver) pair.
func packed(w, m, n, k int, a, b Matrix, c []float32, cOff, ldc int) {
	nSlivers := (n + nr - 1) / nr
	mBlocks := (m + mc - 1) / mc
	jChunks := 1
	if mBlocks < 3*w {
		jChunks = min(nSlivers, (3*w+mBlocks-1)/mBlocks)
	}
	slPer := (nSlivers + jChunks - 1) / jChunks
	jChunks = (nSlivers + slPer - 1) / slPer

	bpBuf := getPanel(kc * nSlivers * nr)
	defer panelPool.Put(bpBuf)
	bp := *bpBuf
	apBufs := make([]*[]float32, w)
	for i := range apBufs {
		apBufs[i] = getPanel(kc * (mc + mr))
	}
	defer func() {
		for _, p := range apBufs {
			panelPool.Put(p)
		}
	}()

	for pc := 0; pc < k; pc += kc {
		depth := min(kc, k-pc)
		parallel(w, nSlivers, func(_, j int) { packB(bp[j*depth*nr:(j+1)*depth*nr], b, pc, depth, j*nr, n) })
		parallel(w, mBlocks*jChunks, func(worker, task int) {
			ib, jc := task/jChunks, task%jChunks
			i0 := ib * mc
			rows := min(mc, m-i0)
			ap := *apBufs[worker]
			aSlivers := (rows + mr - 1) / mr
			packA(ap[:aSlivers*depth*mr], a, i0, rows, pc, depth)
			var tile [maxTile]float32
			for j := jc * slPer; j < min(nSlivers, (jc+1)*slPer); j++ {
				col := j * nr
				cols := min(nr, n-col)
				bs := &bp[j*depth*nr]
				for s := range aSlivers {
					row := i0 + s*mr
					r := min(mr, m-row)
					as := &ap[s*depth*mr]
					if r == mr && cols == nr {
						kernel(depth, as, bs, &c[cOff+row*ldc+col], ldc)
						continue
					}
					clear(tile[:mr*nr])
					kernel(depth, as, bs, &tile[0], nr)
					for ii := range r {
						dst := c[cOff+(row+ii)*ldc+col : cOff+(row+ii)*ldc+col+cols]
						for jj := range dst {
							dst[jj] += tile[ii*nr+jj]
						}
					}
				}
			}
		})
	}
}

// packB writes B[pc:pc+depth, col:col+nr] into dst as depth rows of nr, zero-padded past n.
func packB(dst []float32, b Matrix, pc, depth, col, n int) {
	cols := min(nr, n-col)
	if cols < nr {
		clear(dst[:depth*nr])
	}
	b.Off += col * b.ColStride
	packColumns(dst, b, pc, depth, cols)
}

// packColumns writes B[pc:pc+depth, 0:cols] into the first cols columns of depth packed rows
// of nr: element (p, jj) to dst[p*nr+jj]. The rest of each row is left as it is.
func packColumns(dst []float32, b Matrix, pc, depth, cols int) {
	if b.ColStride == 1 {
		for p := range depth {
			src := b.Data[b.Off+(pc+p)*b.RowStride:]
			copy(dst[p*nr:p*nr+cols], src[:cols])
		}
		return
	}
	jj := 0
	if b.RowStride == 1 {
		jj = packBTransposed(dst, b.Data, b.Off+pc, b.ColStride, depth, cols)
	}
	for ; jj < cols; jj++ {
		base := b.Off + pc*b.RowStride + jj*b.ColStride
		for p := range depth {
			dst[p*nr+jj] = b.Data[base+p*b.RowStride]
		}
	}
}

// packBTransposed packs the columns of B that lie contiguously (rows 1 apart; column j at
// off+j*cs), eight at a time: each pass reads eight runs of depth and writes eight consecutive
// floats of every packed row, where one column at a time writes one float per row. It returns
// the columns packed, a multiple of 8; packColumns packs the rest.
func packBTransposed(dst, data []float32, off, cs, depth, cols int) int {
	jj := 0
	for ; jj+8 <= cols; jj += 8 {
		base := off + jj*cs
		s0 := data[base : base+depth]
		s1 := data[base+cs:][:len(s0)]
		s2 := data[base+2*cs:][:len(s0)]
		s3 := data[base+3*cs:][:len(s0)]
		s4 := data[base+4*cs:][:len(s0)]
		s5 := data[base+5*cs:][:len(s0)]
		s6 := data[base+6*cs:][:len(s0)]
		s7 := data[base+7*cs:][:len(s0)]
		for p := range s0 {
			d := dst[p*nr+jj : p*nr+jj+8 : p*nr+jj+8]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
			d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
		}
	}
	return jj
}

// packA writes A[i0:i0+rows, pc:pc+depth] into dst as mr-row slivers, each depth columns of mr,
// zero-padded past the last row.
func packA(dst []float32, a Matrix, i0, rows, pc, depth int) {
	slivers := (rows + mr - 1) / mr
	for s := range slivers {
		d := dst[s*depth*mr : (s+1)*depth*mr]
		r := min(mr, rows-s*mr)
		if r < mr {
			clear(d)
		}
		for ii := range r {
			base := a.Off + (i0+s*mr+ii)*a.RowStride + pc*a.ColStride
			if a.ColStride == 1 {
				src := a.Data[base : base+depth]
				for p, v := range src {
					d[p*mr+ii] = v
				}
				continue
			}
			for p := range depth {
				d[p*mr+ii] = a.Data[base+p*a.ColStride]
			}
		}
	}
}
