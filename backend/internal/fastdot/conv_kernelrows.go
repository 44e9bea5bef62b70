package fastdot

import (
	"sync/atomic"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// A convolution's product transposed: out^T = K^T · P^T. An input gradient's kernel matrix
// K[(tap, o), i] is the forward kernel with its channel axes swapped, stored with the reduction
// contiguous: im2col packs it as B, a transposition of the whole kernel on every call (ResNet-50's
// last stages at batch 1: kernels of up to 2048 x 512 for 49 output positions). Transposed, the
// kernel's rows are A's, read where they lie tap by tap (sgemm's row slivers in runs), and the
// patches, the smaller operand, are packed as B. Each output is the same sum over the same panels
// in the same order as im2col's, so the bits are the same.

var kernelRowsCalls atomic.Int64

// kernelRowsFit reports whether a product of rows output positions and n channels, over a
// kernel matrix ker, is better run transposed: the kernel is stored transposed (columns apart,
// reduction contiguous within a tap, in runs of at least 32 so that a panel has few runs), the
// patches are at most two of the register tile's 32 columns and fewer than the kernel's columns,
// and the AVX-512 kernel reads slivers in runs. (ResNet-50's input gradients at batch 1, with
// BenchmarkKernelRows: 49 positions 1.1-1.5x faster transposed; 196 as fast or slower.)
func (c *conv2D) kernelRowsFit(ker sgemm.Runs, rows, n int) bool {
	ok, _ := sgemm.InPlaceSlivers()
	return ok && c.groups == 1 && ker.RowStride == 1 && ker.ColStride > 1 && ker.Run >= 32 &&
		rows <= kernelRowsMax && rows < n && !packBForTest.Load()
}

// kernelRowsMax is the most output positions of a convolution run transposed.
const kernelRowsMax = 64

// multiplyKernelRows computes output rows [r0, r0+rows) of the im2col product (n channels, k
// reduction columns) transposed, into C (row-major, ldc apart, from cOff).
func (c *conv2D) multiplyKernelRows(ker sgemm.Runs, r0, rows, k, n int, cData []float32, cOff, ldc int) error {
	_, sliver := sgemm.InPlaceSlivers()
	outT := getScratch(n * rows) // out^T: n x rows
	defer scratchPool.Put(outT)
	patches := getScratch(rows * min(k, maxKChunk))
	defer scratchPool.Put(patches)
	w := sgemm.Workers()
	tails := make([]*[]float32, w) // the last rows of A, past its whole slivers
	for i := range tails {
		tails[i] = getScratch(maxRowBlock * sgemm.KC)
	}
	defer func() {
		for _, t := range tails {
			scratchPool.Put(t)
		}
	}()
	segs := make([][]sgemm.Segment, w*maxRowBlock/sliver)
	backing := make([]sgemm.Segment, len(segs)*sgemm.MaxSegments)
	pointwise := c.kH == 1 && c.kW == 1 && c.stride == [2]int{1, 1} && c.lo == [2]int{} &&
		c.outH == c.inH && c.outW == c.inW && c.inSC == 1 && c.inSW == c.inC && c.inSH == c.inW*c.inSW && c.inSB == c.inH*c.inSH
	kernelRowsCalls.Add(1)
	for k0 := 0; k0 < k; k0 += maxKChunk {
		depth := min(maxKChunk, k-k0)
		// P^T (depth x rows), packed: the patches' columns k0.. as rows.
		p := sgemm.Matrix{Data: c.in, Off: r0*c.inC + k0, RowStride: 1, ColStride: c.inC}
		if !pointwise {
			c.gather((*patches)[:rows*depth], r0, rows, k0, depth, 0)
			p = sgemm.Matrix{Data: *patches, RowStride: 1, ColStride: depth}
		}
		pb, err := sgemm.PackB(depth, rows, p)
		if err != nil {
			return err
		}
		blocks := (n + maxRowBlock - 1) / maxRowBlock
		jChunks := min(pb.Slivers(), max(1, (3*w+blocks-1)/blocks))
		slPer := (pb.Slivers() + jChunks - 1) / jChunks
		jChunks = (pb.Slivers() + slPer - 1) / slPer
		var firstErr atomic.Pointer[error]
		sgemm.Parallel(w, blocks*jChunks, func(worker, t int) {
			i0 := t / jChunks * maxRowBlock
			brows := min(maxRowBlock, n-i0)
			s0 := t % jChunks * slPer
			s1 := min(pb.Slivers(), s0+slPer)
			whole := brows / sliver
			tail := *tails[worker]
			for pc := 0; pc < depth; pc += sgemm.KC {
				d := min(sgemm.KC, depth-pc)
				runs := segs[worker*maxRowBlock/sliver:][:whole]
				for s := range runs {
					runs[s] = kernelRuns(backing[(worker*maxRowBlock/sliver+s)*sgemm.MaxSegments:][:0:sgemm.MaxSegments], ker, k0+pc, d, i0+s*sliver)
				}
				for i := whole * sliver; i < brows; i++ {
					row := tail[i*d : (i+1)*d]
					var rowRuns [sgemm.MaxSegments]sgemm.Segment
					for _, g := range kernelRuns(rowRuns[:0], ker, k0+pc, d, i0+i) {
						copy(row, c.ker[g.Off:g.Off+g.Len])
						row = row[g.Len:]
					}
				}
				if err := pb.MulAddSegments(brows, tail, d, c.ker, ker.ColStride, runs, pc, d, s0, s1, *outT, i0*rows, rows, k0+pc > 0); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
		pb.Release()
		if e := firstErr.Load(); e != nil {
			return *e
		}
	}
	transposeInto(cData, cOff, ldc, *outT, rows, n)
	return nil
}

// transposeInto writes the transpose of src (n x rows, row-major) into dst's rows x n block at
// off, rows ldd apart, in 16 x 16 tiles: a column at a time would write rows whose stride is
// often a multiple of 4 KB (2048 channels), all in one set of the L1 cache.
func transposeInto(dst []float32, off, ldd int, src []float32, rows, n int) {
	const tile = 16
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(rows, i0+tile)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(n, j0+tile)
			for i := i0; i < i1; i++ {
				d := dst[off+i*ldd+j0 : off+i*ldd+j1]
				for j := range d {
					d[j] = src[(j0+j)*rows+i]
				}
			}
		}
	}
}

// kernelRuns appends to runs the runs of kernel matrix ker's column col (row col of K^T) over
// reduction rows [k0, k0+cols): one per tap, where the reduction is contiguous.
func kernelRuns(runs []sgemm.Segment, ker sgemm.Runs, k0, cols, col int) []sgemm.Segment {
	for q := k0; q < k0+cols; {
		r := q / ker.Run
		l := min(k0+cols, (r+1)*ker.Run) - q
		runs = append(runs, sgemm.Segment{Off: ker.Offs[r] + (q-r*ker.Run)*ker.RowStride + col*ker.ColStride, Len: l})
		q += l
	}
	return runs
}
