package fastdot

import (
	"fmt"
	"math"
	"sync/atomic"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// Max pooling over the spatial axes of NHWC float32 (nn's MaxPool2D): ReduceWindow's max, which
// simplego steps through an index iterator, and its gradient, SelectAndScatterMax, which simplego
// lacks: sgpoly built it from nine slices, comparisons, selections and padded sums, and a max
// pooling's backward cost more than the convolution before it. Here it is a node of its own
// (NewSelectAndScatterMax, which sgpoly calls), run by an executor of this file.

//go:linkname newNode github.com/gomlx/gomlx/backends/simplego.(*Builder).newNode
func newNode(b *simplego.Builder, opType backends.OpType, shape shapes.Shape, inputs ...*simplego.Node) *simplego.Node

// poolWindow is a window over axes 1 and 2 of a rank-4 tensor: kh x kw taps, strides sh, sw, and
// the padding before and after each axis (where the window reads nothing).
type poolWindow struct {
	kh, kw, sh, sw int
	pad            [2][2]int
}

// spatialWindow reads a window given per axis (strides nil: the window's size) as a poolWindow;
// false unless it spans one element of axes 0 and 3, pads only axes 1 and 2, and does not dilate.
func spatialWindow(window, strides []int, paddings [][2]int, dilations ...[]int) (poolWindow, bool) {
	if len(strides) == 0 {
		strides = window
	}
	if len(window) != 4 || len(strides) != 4 || window[0] != 1 || window[3] != 1 || strides[0] != 1 || strides[3] != 1 {
		return poolWindow{}, false
	}
	if len(paddings) != 0 && (len(paddings) != 4 || paddings[0] != [2]int{} || paddings[3] != [2]int{}) {
		return poolWindow{}, false
	}
	for _, d := range dilations {
		for _, v := range d {
			if v != 1 {
				return poolWindow{}, false
			}
		}
	}
	w := poolWindow{kh: window[1], kw: window[2], sh: strides[1], sw: strides[2]}
	if len(paddings) == 4 {
		w.pad = [2][2]int{paddings[1], paddings[2]}
	}
	for _, p := range w.pad {
		if p[0] < 0 || p[1] < 0 || p[0] >= w.kh && p[0] >= w.kw {
			return poolWindow{}, false
		}
	}
	return w, w.kh > 0 && w.kw > 0 && w.sh > 0 && w.sw > 0
}

// outputSize is the number of windows over h x w values.
func (w poolWindow) outputSize(h, wd int) (ho, wo int) {
	n := func(n, k, s int) int {
		if n < k {
			return 0
		}
		return (n-k)/s + 1
	}
	return n(h+w.pad[0][0]+w.pad[0][1], w.kh, w.sh), n(wd+w.pad[1][0]+w.pad[1][1], w.kw, w.sw)
}

// taps appends to buf the offsets in x (rows of c values, [B, h, wd, c]) of the taps of window
// (bi, oy, ox) that fall inside x, in row-major tap order, and returns it.
func (w poolWindow) taps(buf []int, bi, oy, ox, h, wd, c int) []int {
	buf = buf[:0]
	for ky := range w.kh {
		y := oy*w.sh + ky - w.pad[0][0]
		if y < 0 || y >= h {
			continue
		}
		for kx := range w.kw {
			if x := ox*w.sw + kx - w.pad[1][0]; x >= 0 && x < wd {
				buf = append(buf, ((bi*h+y)*wd+x)*c)
			}
		}
	}
	return buf
}

// poolCalls counts the max poolings and SelectAndScatterMax nodes run here.
var poolCalls atomic.Int64

func installPool() {
	install(backends.OpTypeReduceWindow, tryMaxWindow)
	nodeExecutors[backends.OpTypeSelectAndScatterMax] = guarded(backends.OpTypeSelectAndScatterMax, execSelectAndScatterMax)
}

// tryMaxWindow runs a ReduceWindow max over the spatial axes: each output row (C values) the
// running max of the window's rows in row-major tap order, with Go's max (sgemm.MaxTaps, 16
// channels a step), as nn's running Max over the window's views computed it.
func tryMaxWindow(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
	if len(inputs) != 1 {
		return nil, false
	}
	x, ok := flat(inputs[0]).([]float32)
	p, ok0 := nodeData(node)
	if !ok || !ok0 {
		return nil, false
	}
	op, ok1 := field[backends.ReduceOpType](p, "reductionType")
	window, ok2 := field[[]int](p, "windowDimensions")
	strides, ok3 := field[[]int](p, "strides")
	base, ok4 := field[[]int](p, "baseDilations")
	dil, ok5 := field[[]int](p, "windowDilations")
	pads, ok6 := field[[][2]int](p, "paddings")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || op != backends.ReduceOpMax {
		return nil, false
	}
	w, ok := spatialWindow(window, strides, pads, base, dil)
	xs, err := backend.BufferShape(inputs[0])
	outShape := nodeShape(node)
	if !ok || err != nil || xs.Rank() != 4 || len(x) != xs.Size() || outShape.Rank() != 4 {
		return nil, false
	}
	b, h, wd, c := xs.Dimensions[0], xs.Dimensions[1], xs.Dimensions[2], xs.Dimensions[3]
	ho, wo := w.outputSize(h, wd)
	if od := outShape.Dimensions; od[0] != b || od[1] != ho || od[2] != wo || od[3] != c || ho*wo == 0 {
		return nil, false
	}
	out := backend.NewBuffer(outShape)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() {
		return nil, false
	}
	poolCalls.Add(1)
	windows := b * ho * wo
	halves(windows, 1, len(o) >= parallelFrom, func(w0, w1 int) {
		offs := make([]int, 0, w.kh*w.kw)
		for r := w0; r < w1; r++ {
			row := o[r*c : (r+1)*c]
			offs = w.taps(offs, r/(ho*wo), r/wo%ho, r%wo, h, wd, c)
			if len(offs) == 0 { // all padding: the max's identity
				for i := range row {
					row[i] = float32(math.Inf(-1))
				}
				continue
			}
			sgemm.MaxTaps(x, offs, row)
		}
	})
	return out, true
}

// selectScatter is the data of a SelectAndScatterMax node made by NewSelectAndScatterMax.
type selectScatter struct{ window poolWindow }

// NewSelectAndScatterMax adds to b (simplego's builder) a SelectAndScatterMax of float32 operand
// [B, H, W, C] and source over a window of the spatial axes (padded or not), run by this
// package's executor; ok is false, adding nothing, for anything else (sgpoly then builds it from
// other ops).
func NewSelectAndScatterMax(b backends.Builder, operand, source backends.Op, window, strides []int, paddings [][2]int) (op backends.Op, ok bool) {
	sb, ok1 := b.(*simplego.Builder)
	on, ok2 := operand.(*simplego.Node)
	sn, ok3 := source.(*simplego.Node)
	w, ok4 := spatialWindow(window, strides, paddings)
	if !installed.Load() || !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, false
	}
	xs, ss := nodeShape(on), nodeShape(sn)
	if xs.DType != dtypes.Float32 || ss.DType != dtypes.Float32 || xs.Rank() != 4 || ss.Rank() != 4 {
		return nil, false
	}
	d, sd := xs.Dimensions, ss.Dimensions
	if ho, wo := w.outputSize(d[1], d[2]); sd[0] != d[0] || sd[3] != d[3] || sd[1] != ho || sd[2] != wo {
		return nil, false
	}
	n := newNode(sb, backends.OpTypeSelectAndScatterMax, xs, on, sn)
	setNodeData(n, &selectScatter{window: w})
	return n, true
}

// execSelectAndScatterMax adds each window's source value into the operand position of the
// window's first largest value (row-major taps: PyTorch's and XLA's choice on ties), windows in
// order, so that each position sums its values in the order nn's running Max's gradient did.
func execSelectAndScatterMax(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, error) {
	data, _ := nodeValue(node)
	sel, ok := data.(*selectScatter)
	if !ok || len(inputs) != 2 {
		return nil, fmt.Errorf("fastdot: a SelectAndScatterMax node not made by NewSelectAndScatterMax")
	}
	x, ok1 := flat(inputs[0]).([]float32)
	src, ok2 := flat(inputs[1]).([]float32)
	xs, err1 := backend.BufferShape(inputs[0])
	ss, err2 := backend.BufferShape(inputs[1])
	if !ok1 || !ok2 || err1 != nil || err2 != nil || len(x) != xs.Size() || len(src) != ss.Size() {
		return nil, fmt.Errorf("fastdot: SelectAndScatterMax's operands are not the float32 tensors the node was built for")
	}
	w := sel.window
	b, h, wd, c := xs.Dimensions[0], xs.Dimensions[1], xs.Dimensions[2], xs.Dimensions[3]
	ho, wo := ss.Dimensions[1], ss.Dimensions[2]
	out := backend.NewBuffer(xs)
	o := flat(out).([]float32)
	clear(o)
	poolCalls.Add(1)
	// Each goroutine takes half of the images (the channels of one image), so that each output
	// position receives its values in window order.
	scatter := func(b0, b1, c0, c1 int) {
		// The largest value so far per channel, as bits: the comparisons then select with
		// conditional moves, not branches (which the ties and near-ties of activations make
		// unpredictable).
		best := make([]uint32, c1-c0)
		arg := make([]int, c1-c0) // the winning tap's offset in x, per channel
		offs := make([]int, 0, w.kh*w.kw)
		for r := b0 * ho * wo; r < b1*ho*wo; r++ {
			offs = w.taps(offs, r/(ho*wo), r/wo%ho, r%wo, h, wd, c)
			if len(offs) == 0 {
				continue // all padding: no value to receive the gradient
			}
			for i, v := range x[offs[0]+c0 : offs[0]+c1] {
				best[i], arg[i] = math.Float32bits(v), offs[0]
			}
			for _, off := range offs[1:] {
				xs := x[off+c0 : off+c1]
				bs, as := best[:len(xs)], arg[:len(xs)]
				for i, v := range xs {
					bb, a, vb := bs[i], as[i], math.Float32bits(v)
					if v > math.Float32frombits(bb) {
						bb, a = vb, off
					}
					bs[i], as[i] = bb, a
				}
			}
			for i, v := range src[r*c+c0 : r*c+c1] {
				o[arg[i]+c0+i] += v
			}
		}
	}
	large := len(o) >= parallelFrom
	if b >= 2 {
		halves(b, 1, large, func(b0, b1 int) { scatter(b0, b1, 0, c) })
	} else {
		halves(c, 1, large && c >= 2, func(c0, c1 int) { scatter(0, b, c0, c1) })
	}
	return out, nil
}
