package fastdot

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// ReduceSum of float32 over a run of consecutive axes: leading ones (batch norm's statistics and
// gradients, a bias's gradient: [B, H, W, C] to [C]), all of them, or middle ones (global average
// pooling: [B, H, W, C] to [B, C]). For each output block, rows are added in order, so each sum is
// the same sequence of additions as simplego's loop (bit for bit; a training run stays
// reproducible), without its per-element index iterator; output blocks are independent and split
// between two cores.
func installReduce() {
	install(backends.OpTypeReduceSum, tryReduceSum)
}

func tryReduceSum(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	x, axes, ok := axesOperand(node, inputs)
	if !ok {
		return nil, false
	}
	xs, err := backend.BufferShape(inputs[0])
	if err != nil || len(axes) == 0 || len(axes) > xs.Rank() {
		return nil, false
	}
	for i, a := range axes { // consecutive axes, in order
		if a != axes[0]+i {
			return nil, false
		}
	}
	dims := xs.Dimensions
	outer, rows, width := 1, 1, 1
	for _, d := range dims[:axes[0]] {
		outer *= d
	}
	for _, d := range dims[axes[0] : axes[0]+len(axes)] {
		rows *= d
	}
	for _, d := range dims[axes[0]+len(axes):] {
		width *= d
	}
	outShape := nodeShape(node)
	if outShape.Size() != outer*width || width == 0 || len(x) != outer*rows*width {
		return nil, false
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outer*width {
		return nil, false
	}
	blocks := func(lo, hi int) {
		for b := lo; b < hi; b++ {
			sumRows(o[b*width:(b+1)*width], x[b*rows*width:(b+1)*rows*width])
		}
	}
	halves(outer, 1, len(x) >= parallelFrom, blocks)
	return out, true
}

// axesOperand is the one float32 operand of an op whose node data is a list of axes (ReduceSum's,
// BroadcastInDim's) and the axes; ok is false for any other op.
func axesOperand(node *simplego.Node, inputs []*simplego.Buffer) (x []float32, axes []int, ok bool) {
	x, data, found := viewOperand(node, inputs)
	axes, ok = data.([]int)
	return x, axes, found && ok
}

// sumRows sets o to the sum of the rows of x (len(o) wide), each column added in row order.
func sumRows(o, x []float32) {
	if len(o) < 64 { // few columns (batch norm's channels): a call per row costs more than the loops
		sumColumns(o, x)
		return
	}
	clear(o)
	for r := 0; r < len(x); r += len(o) {
		sgemm.Elementwise('+', o, x[r:r+len(o)], o)
	}
}

// sumColumns adds the rows of x (len(o) wide) into o, each column in row order as simplego does,
// eight columns at a time in registers.
func sumColumns(o, x []float32) {
	w := len(o)
	c0 := 0
	for ; c0+8 <= w; c0 += 8 {
		var a0, a1, a2, a3, a4, a5, a6, a7 float32
		for r := c0; r+8 <= len(x); r += w {
			s := x[r : r+8 : r+8]
			a0 += s[0]
			a1 += s[1]
			a2 += s[2]
			a3 += s[3]
			a4 += s[4]
			a5 += s[5]
			a6 += s[6]
			a7 += s[7]
		}
		d := o[c0 : c0+8 : c0+8]
		d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = a0, a1, a2, a3, a4, a5, a6, a7
	}
	for ; c0 < w; c0++ {
		var a float32
		for r := c0; r < len(x); r += w {
			a += x[r]
		}
		o[c0] = a
	}
}
