package fastdot

import (
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Views: ops whose output is a view of one operand, each output element a copy of an operand
// element (Slice, BroadcastInDim, Transpose). They run as copyView, in parallel, where simplego
// steps an index iterator one element at a time on one goroutine.

// Slice of float32 (max pooling's strided window views, im2col's patches): rows of the last
// axis copied (or gathered at its stride) in parallel, where simplego steps one element at a time
// through an index iterator on one goroutine.
func installSlice() {
	install(backends.OpTypeSlice, trySlice)
}

// viewOperand is a view op's one float32 operand and simplego's parameters of its node.
func viewOperand(node *simplego.Node, inputs []*simplego.Buffer) (x []float32, data any, ok bool) {
	if len(inputs) != 1 {
		return nil, nil, false
	}
	if x, ok = flat(inputs[0]).([]float32); !ok {
		return nil, nil, false
	}
	data, ok = nodeValue(node)
	return x, data, ok && data != nil
}

func trySlice(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	x, data, ok := viewOperand(node, inputs)
	if !ok {
		return nil, false
	}
	d := reflect.ValueOf(data)
	if d.Kind() != reflect.Pointer || d.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	starts, ok1 := field[[]int](d.Elem(), "starts")
	strides, ok2 := field[[]int](d.Elem(), "strides")
	xs, err := backend.BufferShape(inputs[0])
	outShape := nodeShape(node)
	rank := xs.Rank()
	if !ok1 || !ok2 || err != nil || rank == 0 || len(starts) != rank || len(strides) != rank || outShape.Rank() != rank || len(x) != xs.Size() {
		return nil, false
	}
	od, is := outShape.Dimensions, xs.Strides()
	for a := range rank {
		if strides[a] < 1 || starts[a] < 0 || od[a] > 0 && starts[a]+(od[a]-1)*strides[a] >= xs.Dimensions[a] {
			return nil, false
		}
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() {
		return nil, false
	}
	base, st := 0, make([]int, rank)
	for a := range rank {
		base += starts[a] * is[a]
		st[a] = strides[a] * is[a]
	}
	copyView(o, x, od, base, st)
	return out, true
}

// copyView writes into o (dimensions od, row-major) the view of x whose element (i_0, ..., i_n)
// is x[base + sum_a i_a*st[a]]: each row of the last axis copied (st 1), filled with one value
// (st 0) or gathered at its stride, in parallel. Slice, BroadcastInDim and Transpose are such
// views. Rows narrower than narrowRow (an image's 3 channels last) are gathered a block of the
// last two axes at a time, so the offset arithmetic is paid per block, not per row.
func copyView(o, x []float32, od []int, base int, st []int) {
	rank := len(od)
	width := od[rank-1]
	if width == 0 || len(o) == 0 {
		return
	}
	step := st[rank-1]
	if width < narrowRow && step > 1 && rank >= 2 {
		copyNarrowView(o, x, od, base, st)
		return
	}
	parallelRange(len(o), func(lo, hi int) {
		for r := lo / width; r*width < hi; r++ { // output rows overlapping [lo, hi)
			src, rem := base, r
			for a := rank - 2; a >= 0; a-- {
				src += rem % od[a] * st[a]
				rem /= od[a]
			}
			c0, c1 := max(lo-r*width, 0), min(hi-r*width, width)
			row := o[r*width+c0 : r*width+c1]
			switch step {
			case 0:
				v := x[src]
				for i := range row {
					row[i] = v
				}
			case 1:
				copy(row, x[src+c0:])
			default:
				for i := range row {
					row[i] = x[src+(c0+i)*step]
				}
			}
		}
	})
}

// narrowRow is the row width under which copyView gathers blocks of rows.
const narrowRow = 8

// copyNarrowView is copyView for rows of the last axis narrower than narrowRow, gathered at a
// stride: blocks of the last two axes, split between the cores by block.
func copyNarrowView(o, x []float32, od []int, base int, st []int) {
	rank := len(od)
	width, rows := od[rank-1], od[rank-2]
	step, rowStep := st[rank-1], st[rank-2]
	block := width * rows
	parallelRange(len(o), func(lo, hi int) {
		// The blocks that start in [lo, hi).
		for b := (lo + block - 1) / block; b*block < hi; b++ {
			src, rem := base, b
			for a := rank - 3; a >= 0; a-- {
				src += rem % od[a] * st[a]
				rem /= od[a]
			}
			dst := o[b*block : (b+1)*block]
			for r := range rows {
				s := src + r*rowStep
				for i := range width {
					dst[r*width+i] = x[s+i*step]
				}
			}
		}
	})
}

// Transpose of float32 (an NCHW image batch to the NHWC the networks compute in, and its
// gradient back): the operand viewed with its strides permuted.
func installTranspose() {
	install(backends.OpTypeTranspose, tryTranspose)
}

func tryTranspose(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	x, permutation, ok := axesOperand(node, inputs) // the output's axis a is the operand's permutation[a]
	if !ok {
		return nil, false
	}
	xs, err := backend.BufferShape(inputs[0])
	outShape := nodeShape(node)
	rank := xs.Rank()
	if err != nil || rank == 0 || len(permutation) != rank || outShape.Rank() != rank || len(x) != xs.Size() {
		return nil, false
	}
	is := xs.Strides()
	st := make([]int, rank)
	seen := make([]bool, rank)
	for a, from := range permutation {
		if from < 0 || from >= rank || seen[from] || outShape.Dimensions[a] != xs.Dimensions[from] {
			return nil, false
		}
		seen[from] = true
		st[a] = is[from]
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() {
		return nil, false
	}
	copyView(o, x, outShape.Dimensions, 0, st)
	return out, true
}

// BroadcastInDim of float32 (batch norm's statistics and biases spread over [B, H, W, C], a
// scalar filling a tensor): each output row of the last axis is a copy of an operand row or
// one value repeated, in parallel, where simplego steps an index iterator on one goroutine.
func installBroadcast() {
	install(backends.OpTypeBroadcastInDim, tryBroadcastInDim)
}

func tryBroadcastInDim(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	if len(inputs) == 1 {
		if _, ok := flat(inputs[0]).([]bool); ok {
			return tryTileBool(backend, node, inputs)
		}
	}
	x, axes, ok := axesOperand(node, inputs)
	if !ok {
		return nil, false
	}
	outShape := nodeShape(node)
	od := outShape.Dimensions
	from, ok := broadcastStrides(backend, inputs[0], len(x), axes, outShape)
	if !ok {
		return nil, false
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() {
		return nil, false
	}
	if tile(o, x, od, from) {
		return out, true
	}
	copyView(o, x, od, 0, from)
	return out, true
}

// tryTileBool broadcasts a bool operand when that repeats it whole along leading axes (DeepLift's
// test of each input against its reference, over the inputs and the references).
func tryTileBool(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool) {
	x := flat(inputs[0]).([]bool)
	data, ok := nodeValue(node)
	axes, ok2 := data.([]int)
	outShape := nodeShape(node)
	from, ok3 := broadcastStrides(backend, inputs[0], len(x), axes, outShape)
	if !ok || !ok2 || !ok3 {
		return nil, false
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]bool)
	if !ok || len(o) != outShape.Size() || !tile(o, x, outShape.Dimensions, from) {
		return nil, false
	}
	return out, true
}

// broadcastStrides checks a broadcast of operand in (n values, its axes mapped to the output's
// axes) to outShape, and returns from: from[a] is the operand's stride along output axis a, 0
// where the output repeats it.
func broadcastStrides(backend *simplego.Backend, in *simplego.Buffer, n int, axes []int, outShape shapes.Shape) (from []int, ok bool) {
	xs, err := backend.BufferShape(in)
	rank := outShape.Rank()
	if err != nil || len(axes) != xs.Rank() || rank == 0 || n != xs.Size() || n == 0 {
		return nil, false
	}
	od, xst := outShape.Dimensions, xs.Strides()
	from = make([]int, rank)
	for i, a := range axes {
		if a < 0 || a >= rank || xs.Dimensions[i] != od[a] && xs.Dimensions[i] != 1 {
			return nil, false
		}
		if xs.Dimensions[i] == od[a] && od[a] > 1 {
			from[a] = xst[i]
		}
	}
	return from, true
}

// tile fills o with copies of x when the broadcast repeats the whole operand along leading axes
// (batch norm's per-channel statistics over [B, H, W, C]): a doubling copy on each core's range
// instead of a row at a time. It reports false, writing nothing, for any other broadcast.
func tile[T float32 | bool](o, x []T, od, from []int) bool {
	blk, a := 1, len(od)-1
	for ; a >= 0 && (from[a] == blk || od[a] == 1); a-- {
		blk *= od[a]
	}
	for ; a >= 0; a-- {
		if from[a] != 0 {
			return false
		}
	}
	if blk != len(x) || len(o)%blk != 0 {
		return false
	}
	parallelRange(len(o), func(lo, hi int) { repeatInto(o[lo:hi], x, lo%blk) })
	return true
}

// repeatInto fills seg with x repeated, starting at x's element phase: one period copied, then
// doubling copies of what is filled.
func repeatInto[T float32 | bool](seg, x []T, phase int) {
	n := copy(seg, x[phase:])
	n += copy(seg[n:], x[:phase]) // now one whole period of x, from the phase
	for n < len(seg) {
		n += copy(seg[n:], seg[:n])
	}
}

// Concatenate of float32 (a pooling's padding, a kernel reversed tap by tap): each operand's
// block of every outer index copied into place, blocks split between the cores, where simplego
// copies them one after the other on one goroutine.
func installConcatenate() {
	install(backends.OpTypeConcatenate, tryConcatenate)
}

func tryConcatenate(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	data, ok := nodeValue(node)
	axis, ok2 := data.(int)
	outShape := nodeShape(node)
	rank := outShape.Rank()
	if !ok || !ok2 || len(inputs) == 0 || axis < 0 || axis >= rank {
		return nil, false
	}
	od := outShape.Dimensions
	outer, inner := 1, 1
	for _, d := range od[:axis] {
		outer *= d
	}
	for _, d := range od[axis+1:] {
		inner *= d
	}
	// Operand i's block per outer index: runs[i] values, at offs[i] in the output's row.
	xs := make([][]float32, len(inputs))
	runs, offs := make([]int, len(inputs)), make([]int, len(inputs))
	row := 0
	for i, in := range inputs {
		x, ok := flat(in).([]float32)
		s, err := backend.BufferShape(in)
		if !ok || err != nil || s.Rank() != rank || len(x) != s.Size() {
			return nil, false
		}
		xs[i], runs[i], offs[i] = x, s.Dimensions[axis]*inner, row
		row += runs[i]
		if len(x) != outer*runs[i] {
			return nil, false
		}
	}
	if row != od[axis]*inner {
		return nil, false
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() {
		return nil, false
	}
	// Tasks: (outer index, operand) blocks, in order; split in two halves of the tasks when the
	// output is large.
	tasks := outer * len(inputs)
	copyBlocks := func(t0, t1 int) {
		for t := t0; t < t1; t++ {
			k, i := t/len(inputs), t%len(inputs)
			copy(o[k*row+offs[i]:k*row+offs[i]+runs[i]], xs[i][k*runs[i]:(k+1)*runs[i]])
		}
	}
	halves(tasks, 1, len(o) >= parallelFrom, copyBlocks)
	return out, true
}
