package fastdot

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// ConvCalls counts ConvGenerals run here; ConvFallbacks those handed back to simplego.
var convCalls, convFallbacks atomic.Int64

// convOriginal is simplego's own ConvGeneral executor.
var convOriginal executor

// convParams is what execConvGeneral needs of simplego's convNode.
type convParams struct {
	axes                    backends.ConvolveAxesConfig
	strides                 []int
	paddings                [][2]int
	inputDil, kernelDil     []int
	channelGroups, batchGrp int
}

// field reads the unexported field name of struct value v as a T; false if it is missing or of
// another type.
func field[T any](v reflect.Value, name string) (T, bool) {
	var zero T
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() || !f.CanAddr() {
		return zero, false
	}
	return *(*T)(unsafe.Pointer(f.UnsafeAddr())), true
}

// convFieldNames are the convNode fields read; a test renames one to force the fallback.
var convFieldNames = [7]string{"axes", "strides", "paddings", "inputDilations", "kernelDilations", "channelGroupCount", "batchGroupCount"}

func convNodeParams(n *simplego.Node) (convParams, bool) {
	d, found := nodeData(n)
	if !found {
		return convParams{}, false
	}
	return convParamsOf(d)
}

// convParamsOf reads a ConvGeneral node's parameters from its data struct d.
func convParamsOf(d reflect.Value) (convParams, bool) {
	var p convParams
	var ok [7]bool
	p.axes, ok[0] = field[backends.ConvolveAxesConfig](d, convFieldNames[0])
	p.strides, ok[1] = field[[]int](d, convFieldNames[1])
	p.paddings, ok[2] = field[[][2]int](d, convFieldNames[2])
	p.inputDil, ok[3] = field[[]int](d, convFieldNames[3])
	p.kernelDil, ok[4] = field[[]int](d, convFieldNames[4])
	p.channelGroups, ok[5] = field[int](d, convFieldNames[5])
	p.batchGrp, ok[6] = field[int](d, convFieldNames[6])
	for _, o := range ok {
		if !o {
			return convParams{}, false
		}
	}
	return p, true
}

func execConvGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	out, handled, err := tryConvGeneral(backend, node, inputs, false)
	if handled {
		convCalls.Add(1)
		return out, err
	}
	convFallbacks.Add(1)
	return convOriginal(backend, node, inputs, owned)
}

// conv2D is one ConvGeneral with two spatial axes, its operands as flat data and strides.
type conv2D struct {
	in, ker, out []float32

	batch, inC, inH, inW       int // input: batch, channels, spatial (undilated)
	inSB, inSC, inSH, inSW     int // input strides
	kI, kO, kH, kW             int // kernel: input channels (per group), output channels, spatial
	kSI, kSO, kSH, kSW         int // kernel strides
	outH, outW                 int
	outSB, outSC, outSH, outSW int

	stride, lo, inDil, kDil [2]int
	groups                  int
	// flipped: the kernel is read reversed along both spatial axes (a flippedConvOp node's).
	flipped bool
	// epi, when set, is applied to the output (a convAffine node's): by the paths that can, to
	// each tile as it is finished (epiApplied), else to the whole output at the end.
	epi        *epilogue
	epiApplied bool
}

// tapOff is the offset in the kernel of tap (ky, kx).
func (c *conv2D) tapOff(ky, kx int) int {
	if c.flipped {
		ky, kx = c.kH-1-ky, c.kW-1-kx
	}
	return ky*c.kSH + kx*c.kSW
}

// tryConvGeneral runs a ConvGeneral node (its kernel reversed along both spatial axes where
// flipped); handled is false where it cannot, and the caller falls back.
func tryConvGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, flipped bool) (*simplego.Buffer, bool, error) {
	p, ok := convNodeParams(node)
	if !ok {
		return nil, false, nil
	}
	return convolve(backend, p, nodeShape(node), inputs, flipped, nil)
}

// convolve runs a ConvGeneral of parameters p and output shape outShape on inputs (input and
// kernel), its kernel reversed where flipped, and applies epi to its output where epi is not
// nil; handled is false where it cannot.
func convolve(backend *simplego.Backend, p convParams, outShape shapes.Shape, inputs []*simplego.Buffer, flipped bool, epi *epilogue) (*simplego.Buffer, bool, error) {
	if len(inputs) != 2 {
		return nil, false, nil
	}
	in, ok1 := flat(inputs[0]).([]float32)
	ker, ok2 := flat(inputs[1]).([]float32)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	if p.batchGrp > 1 || len(p.axes.InputSpatial) != 2 || len(p.axes.KernelSpatial) != 2 || len(p.axes.OutputSpatial) != 2 {
		return nil, false, nil
	}
	inShape, err1 := backend.BufferShape(inputs[0])
	kerShape, err2 := backend.BufferShape(inputs[1])
	if err1 != nil || err2 != nil || inShape.Rank() != 4 || kerShape.Rank() != 4 || outShape.Rank() != 4 {
		return nil, false, nil
	}
	ax := p.axes
	id, kd, od := inShape.Dimensions, kerShape.Dimensions, outShape.Dimensions
	is, ks, os := inShape.Strides(), kerShape.Strides(), outShape.Strides()
	c := conv2D{in: in, ker: ker,
		batch: id[ax.InputBatch], inC: id[ax.InputChannels], inH: id[ax.InputSpatial[0]], inW: id[ax.InputSpatial[1]],
		inSB: is[ax.InputBatch], inSC: is[ax.InputChannels], inSH: is[ax.InputSpatial[0]], inSW: is[ax.InputSpatial[1]],
		kI: kd[ax.KernelInputChannels], kO: kd[ax.KernelOutputChannels], kH: kd[ax.KernelSpatial[0]], kW: kd[ax.KernelSpatial[1]],
		kSI: ks[ax.KernelInputChannels], kSO: ks[ax.KernelOutputChannels], kSH: ks[ax.KernelSpatial[0]], kSW: ks[ax.KernelSpatial[1]],
		outH: od[ax.OutputSpatial[0]], outW: od[ax.OutputSpatial[1]],
		outSB: os[ax.OutputBatch], outSC: os[ax.OutputChannels], outSH: os[ax.OutputSpatial[0]], outSW: os[ax.OutputSpatial[1]],
		groups: max(p.channelGroups, 1), flipped: flipped, epi: epi,
	}
	for i := range 2 {
		c.stride[i], c.inDil[i], c.kDil[i] = 1, 1, 1
		if i < len(p.strides) && p.strides[i] > 0 {
			c.stride[i] = p.strides[i]
		}
		if i < len(p.paddings) {
			c.lo[i] = p.paddings[i][0]
		}
		if i < len(p.inputDil) && p.inputDil[i] > 0 {
			c.inDil[i] = p.inputDil[i]
		}
		if i < len(p.kernelDil) && p.kernelDil[i] > 0 {
			c.kDil[i] = p.kernelDil[i]
		}
	}
	if od[ax.OutputBatch] != c.batch || od[ax.OutputChannels] != c.kO || c.kO%c.groups != 0 || c.kI*c.groups != c.inC {
		return nil, false, nil
	}
	outBuf := backend.NewBuffer(outShape)
	out, ok := flat(outBuf).([]float32)
	if !ok || len(out) != outShape.Size() {
		return nil, true, fmt.Errorf("fastdot: output buffer of ConvGeneral %s is not a []float32 of %d", outShape, outShape.Size())
	}
	c.out = out
	var err error
	switch {
	case c.groups > 1 && c.kI == 1 && c.kO == c.groups:
		c.depthwise()
	case c.groups == 1 && (c.inDil[0] > 1 || c.inDil[1] > 1) && c.stride == [2]int{1, 1}:
		err = c.transposed()
	case c.reducesPositions():
		err = c.kernelGradient()
	default:
		err = c.im2col()
	}
	if err != nil {
		return nil, true, fmt.Errorf("fastdot: ConvGeneral %s * %s: %w", inShape, kerShape, err)
	}
	if epi != nil && !c.epiApplied {
		epi.apply(out, out)
	}
	return outBuf, true, nil
}

const (
	// tileFloats bounds the scratch tiles of products written to an output of another layout
	// (im2col) and of a scattered convolution's per-tap products (transposed).
	tileFloats = 1 << 20
	// maxKChunk is the most reduction rows of the kernel matrix packed at once: VGG's 3x3x512,
	// whole for every forward convolution of the zoo (a multiple of sgemm.KC).
	maxKChunk = 4608
)

var scratchPool sync.Pool // *[]float32

func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// im2col computes the convolution group by group as sgemm products of patch tiles [rows =
// output positions (b, y, x), columns = reduction (ky, kx, ci)] with the kernel matrix [k, n].
// The kernel matrix is packed once per chunk of maxKChunk reduction rows; the output rows are
// split into blocks run in parallel, each gathering its patches one panel of sgemm.KC columns at
// a time into a scratch tile that stays in cache, multiplied in place (not packed again).
func (c *conv2D) im2col() error {
	m := c.batch * c.outH * c.outW
	n := c.kO / c.groups
	k := c.kH * c.kW * c.kI
	if m == 0 || n == 0 || k == 0 {
		clear(c.out)
		return nil
	}
	// Every output element is written by its first panel's product (stored, not added), so the
	// output is not cleared first. Output rows are one strided matrix when (b, y, x) merge into
	// one index and channels are contiguous: C = out[row*ldc + col]. Otherwise products go to a
	// scratch tile of mt rows, then into the output at its layout.
	direct := c.outSC == 1 && c.outSW == c.kO && c.outSH == c.outW*c.outSW && c.outSB == c.outH*c.outSH
	mt := m
	var tmp *[]float32
	if !direct {
		mt = min(m, max(64, tileFloats/n))
		tmp = getScratch(mt * n)
		defer scratchPool.Put(tmp)
	}
	w := sgemm.Workers()
	patches := make([]*[]float32, w)
	for i := range patches {
		patches[i] = getScratch(maxRowBlock * sgemm.KC)
	}
	defer func() {
		for _, p := range patches {
			scratchPool.Put(p)
		}
	}()
	// The kernel as a [k, n] matrix of group g: one run of rows per tap, (ky, kx) at its strides
	// and ci at kSI (a gradient's reversed kernel with its channels swapped is packed from there
	// as it lies), or a single run where (ky, kx, ci) merge into one index (HWIO, the forward
	// pass, and every 1x1 kernel).
	merged := c.kH*c.kW == 1 || !c.flipped && c.kSW == c.kI*c.kSI && c.kSH == c.kW*c.kSW
	for g := range c.groups {
		goff := g * n * c.kSO
		ker := sgemm.Runs{Data: c.ker, Offs: []int{goff}, Run: k, RowStride: c.kSI, ColStride: c.kSO}
		if !merged {
			ker.Run, ker.Offs = c.kI, make([]int, c.kH*c.kW)
			for tap := range ker.Offs {
				ker.Offs[tap] = goff + c.tapOff(tap/c.kW, tap%c.kW)
			}
		}
		// The epilogue on each tile as its last panel is added, where tiles are the output's.
		var epi *epilogue
		if c.epi != nil && direct && c.groups == 1 && !c.kernelRowsFit(ker, m, n) {
			epi, c.epiApplied = c.epi, true
		}
		for r0 := 0; r0 < m; r0 += mt {
			rows := min(mt, m-r0)
			cData, cOff, ldc := c.out, r0*c.kO+g*n, c.kO
			if !direct {
				cData, cOff, ldc = (*tmp)[:rows*n], 0, n
			}
			if c.kernelRowsFit(ker, rows, n) {
				if err := c.multiplyKernelRows(ker, r0, rows, k, n, cData, cOff, ldc); err != nil {
					return err
				}
			} else {
				for k0 := 0; k0 < k; k0 += maxKChunk {
					depth := min(maxKChunk, k-k0)
					last := epi
					if k0+depth < k {
						last = nil
					}
					if err := c.multiplyChunk(ker, patches, r0, rows, k0, depth, n, g, cData, cOff, ldc, last); err != nil {
						return err
					}
				}
			}
			if !direct {
				c.scatter(cData, r0, rows, g, n)
			}
		}
	}
	return nil
}

// inPlaceBRows is the most output rows of a product that reads the kernel matrix where it lies
// (sgemm.InPlaceB) rather than packing it: few rows read each kernel value a few times, and
// packing cost more than it saved (ResNet-50 at batch 1: 49-784 rows; BenchmarkInPlaceB).
const inPlaceBRows = 1024

var (
	inPlaceKernelCalls atomic.Int64
	// packBForTest makes every convolution pack its kernel matrix: tests compare the two.
	packBForTest atomic.Bool
)

// maxRowBlock is the most output rows a task gathers: a panel of patches (96 x KC floats,
// 96 KB) stays in L2 while every kernel sliver passes over it.
const maxRowBlock = 96

// productSplit cuts a product of rows x slivers into tasks for w workers: blocks of at most
// maxRowBlock rows, and when there are too few blocks to keep the workers busy, ranges of
// slivers too.
type productSplit struct{ rows, rb, slivers, slPer, jChunks int }

func splitProduct(rows, slivers, w int) productSplit {
	blocks := (rows + maxRowBlock - 1) / maxRowBlock
	rb := (rows + blocks - 1) / blocks // even blocks: 196 rows are 66+66+64, not 96+96+4
	jChunks := 1
	if blocks < 3*w {
		jChunks = min(slivers, (3*w+blocks-1)/blocks)
	}
	slPer := (slivers + jChunks - 1) / jChunks
	return productSplit{rows: rows, rb: rb, slivers: slivers, slPer: slPer, jChunks: (slivers + slPer - 1) / slPer}
}

func (s productSplit) tasks() int { return (s.rows + s.rb - 1) / s.rb * s.jChunks }

// task is task t's rows [i0, i0+rows) and slivers [s0, s1).
func (s productSplit) task(t int) (i0, rows, s0, s1 int) {
	ib, jc := t/s.jChunks, t%s.jChunks
	i0 = ib * s.rb
	return i0, min(s.rb, s.rows-i0), jc * s.slPer, min(s.slivers, (jc+1)*s.slPer)
}

// multiplyChunk adds the products of output rows [r0, r0+rows) over reduction columns [k0,
// k0+depth) into C: the kernel matrix's rows for the chunk are packed once, and tasks of
// (block of rows, range of kernel slivers) run on sgemm's workers.
func (c *conv2D) multiplyChunk(ker sgemm.Runs, patches []*[]float32, r0, rows, k0, depth, n, g int, cData []float32, cOff, ldc int, epi *epilogue) error {
	pb, ok := (*sgemm.PackedB)(nil), false
	if rows <= inPlaceBRows && !packBForTest.Load() {
		pb, ok = sgemm.InPlaceB(k0, depth, n, ker)
	}
	if ok {
		inPlaceKernelCalls.Add(1)
	}
	if !ok {
		var err error
		if pb, err = sgemm.PackBRuns(k0, depth, n, ker); err != nil {
			return err
		}
	}
	defer pb.Release()
	w := len(patches)
	split := splitProduct(rows, pb.Slivers(), w)
	pointwise := c.kH == 1 && c.kW == 1 && c.stride == [2]int{1, 1} && c.lo == [2]int{} && c.inDil == [2]int{1, 1} &&
		c.outH == c.inH && c.outW == c.inW &&
		c.inSC == 1 && c.inSW == c.inC && c.inSH == c.inW*c.inSW && c.inSB == c.inH*c.inSH
	inPlace, sliver := sgemm.InPlaceSlivers()
	inPlace = inPlace && !pointwise && c.runsLayout() && !gatherForTest.Load()
	var runs []*sliverRuns
	if inPlace {
		runs = make([]*sliverRuns, w)
		for i := range runs {
			runs[i] = newSliverRuns(maxRowBlock / sliver)
		}
	}
	var firstErr atomic.Pointer[error]
	sgemm.Parallel(w, split.tasks(), func(worker, t int) {
		i0, brows, s0, s1 := split.task(t)
		patch := *patches[worker]
		for p := 0; p < depth; p += sgemm.KC {
			d := min(sgemm.KC, depth-p)
			a, lda := patch, d
			var segs [][]sgemm.Segment
			switch {
			case pointwise:
				// A 1x1 convolution's patches are its input rows: read them in place.
				a, lda = c.in[(r0+i0)*c.inC+g*c.kI+k0+p:], c.inC
			case inPlace:
				segs = c.patchesInPlace(patch[:brows*d], runs[worker], r0+i0, brows, k0+p, d, sliver)
			default:
				c.gather(patch[:brows*d], r0+i0, brows, k0+p, d, g)
			}
			if err := pb.MulAddSegments(brows, a, lda, c.in, c.stride[1]*c.kI, segs, p, d, s0, s1, cData, cOff+i0*ldc, ldc, k0+p > 0); err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
		}
		if epi != nil { // the tile's sums are final: the epilogue while they are in cache
			c0, c1 := pb.Columns(s0, s1)
			epi.applyRows(cData[cOff:], ldc, i0, i0+brows, c0, c1)
		}
	})
	if e := firstErr.Load(); e != nil {
		return *e
	}
	return nil
}

// gather writes the patches of output rows [r0, r0+rows) and reduction columns [k0, k0+cols)
// of group g into dst (row-major, cols wide).
func (c *conv2D) gather(dst []float32, r0, rows, k0, cols, g int) {
	if c.runsLayout() {
		c.gatherRuns(dst, r0, rows, k0, cols)
		return
	}
	for r := range rows {
		b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
		c.gatherRow(dst[r*cols:(r+1)*cols], b, yx/c.outW, yx%c.outW, k0, g)
	}
}

// runsLayout reports whether the input is ungrouped, channels-last and not dilated along its
// width (nor its kernel): each kernel row's taps then read one run of kW*kI consecutive inputs.
func (c *conv2D) runsLayout() bool {
	return c.groups == 1 && c.inSC == 1 && c.inSW == c.kI && c.kDil[1] == 1 && c.inDil == [2]int{1, 1}
}

// gatherRuns is gather for a runsLayout input: each kernel row's taps read one run of kW*kI
// consecutive inputs. Rows are taken an image row
// of output positions at a time and each kernel row's run once for all of them, so the position
// arithmetic is paid per image row rather than per output row.
func (c *conv2D) gatherRuns(dst []float32, r0, rows, k0, cols int) {
	run := c.kW * c.kI // the columns of one kernel row
	for r := 0; r < rows; {
		b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
		y, x := yx/c.outW, yx%c.outW
		n := min(rows-r, c.outW-x) // output rows left in this image row
		for ky := k0 / run; ky*run < k0+cols; ky++ {
			c0, c1 := max(k0, ky*run), min(k0+cols, (ky+1)*run) // the run's columns in the panel
			off, w := c0-ky*run, c1-c0                          // and within the run
			iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
			first := r*cols + c0 - k0
			if iy < 0 || iy >= c.inH {
				for i := range n {
					clearRun(dst[first+i*cols : first+i*cols+w])
				}
				continue
			}
			src := b*c.inSB + iy*c.inSH + off
			for i := range n {
				d := dst[first+i*cols : first+i*cols+w]
				ix := (x+i)*c.stride[1] - c.lo[1] // the input column of tap kx = 0
				if ix >= 0 && ix+c.kW <= c.inW {
					s := src + ix*c.kI
					copyRun(d, c.in[s:s+w])
					continue
				}
				// At the image's edge: the taps outside it read zeros.
				for j := 0; j < w; {
					kx := (off + j) / c.kI
					seg := d[j:min(w, (kx+1)*c.kI-off)]
					if col := ix + kx; col < 0 || col >= c.inW {
						clearRun(seg)
					} else {
						s := src + ix*c.kI + j
						copyRun(seg, c.in[s:s+len(seg)])
					}
					j += len(seg)
				}
			}
		}
		r += n
	}
}

// gatherRow fills row with the reduction columns k0.. of output position (b, y, x): for each tap
// (ky, kx), the kI input channels of group g at the input position it reads, zeros in padding
// and in the holes of a dilated input.
func (c *conv2D) gatherRow(row []float32, b, y, x, k0, g int) {
	col := 0
	ci0 := k0 % c.kI
	tap := k0 / c.kI
	base := b*c.inSB + g*c.kI*c.inSC
	// A row of taps reads one contiguous run when channels and positions are contiguous
	// (channels-last, ungrouped, no dilation): copied at once rather than tap by tap.
	runs := c.inSC == 1 && c.inSW == c.kI && c.kDil[1] == 1 && c.inDil == [2]int{1, 1}
	for ; col < len(row); tap++ {
		ky, kx := tap/c.kW, tap%c.kW
		if runs && kx == 0 && ci0 == 0 && len(row)-col >= c.kW*c.kI {
			iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
			ix := x*c.stride[1] - c.lo[1]
			if iy >= 0 && iy < c.inH && ix >= 0 && ix+c.kW <= c.inW {
				n := c.kW * c.kI
				src := base + iy*c.inSH + ix*c.inSW
				copyRun(row[col:col+n], c.in[src:src+n])
				col += n
				tap += c.kW - 1
				continue
			}
		}
		cnt := min(c.kI-ci0, len(row)-col)
		seg := row[col : col+cnt]
		iy := y*c.stride[0] + ky*c.kDil[0] - c.lo[0]
		ix := x*c.stride[1] + kx*c.kDil[1] - c.lo[1]
		if iy < 0 || ix < 0 || iy%c.inDil[0] != 0 || ix%c.inDil[1] != 0 || iy/c.inDil[0] >= c.inH || ix/c.inDil[1] >= c.inW {
			clearRun(seg)
		} else {
			src := base + iy/c.inDil[0]*c.inSH + ix/c.inDil[1]*c.inSW + ci0*c.inSC
			switch {
			case c.inSC == 1:
				copyRun(seg, c.in[src:src+cnt])
			default:
				s := c.inSC
				for i := range seg {
					seg[i] = c.in[src+i*s]
				}
			}
		}
		col += cnt
		ci0 = 0
	}
}

// shortRun is the longest run of values copied or cleared by a loop rather than a call to copy or
// clear, which costs more for the few channels of a first layer (or of max pooling's gradient).
const shortRun = 8

// copyRun is copy(dst, src) for a run of consecutive values, short runs by a loop.
func copyRun(dst, src []float32) {
	if len(dst) > shortRun {
		copy(dst, src)
		return
	}
	for i := range dst {
		dst[i] = src[i]
	}
}

// clearRun is clear(dst) for a run of consecutive values, short runs by a loop.
func clearRun(dst []float32) {
	if len(dst) > shortRun {
		clear(dst)
		return
	}
	for i := range dst {
		dst[i] = 0
	}
}

// scatter writes a tile's products (rows x n, row-major) into the output at its layout.
func (c *conv2D) scatter(tile []float32, r0, rows, g, n int) {
	for r := range rows {
		b, yx := (r0+r)/(c.outH*c.outW), (r0+r)%(c.outH*c.outW)
		dst := b*c.outSB + yx/c.outW*c.outSH + yx%c.outW*c.outSW + g*n*c.outSC
		src := tile[r*n : (r+1)*n]
		for co, v := range src {
			c.out[dst+co*c.outSC] = v
		}
	}
}
