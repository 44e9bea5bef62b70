package fastdot

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// DeepLift's rescale rule at a ReLU (package nn's rescale), on a batch of inputs followed by their
// references, is built from a dozen ops: each half of the activation's input x and output y
// sliced and subtracted (dx, dy), |dx| compared with a small bound, a safe divisor, the product
// v dy over both halves divided by it, and a Where between that and the ordinary rule's value
// (plain). On ResNet-50 that is a quarter of a DeepLift call: ten passes over every ReLU's
// activations, each from memory. Fuse, as a graph is compiled, rewrites that Where into
// one node reading x, y, v and plain once (and, when plain is a RangeWhere over y and v read by
// nothing else, testing its range too): the same operations in the same order on each value,
// so the same bits.

// rescaleWhere is the data of a rewritten Where: inputs x, y and v (and plain, unless inline),
// each [2, half...] as a batch of inputs then their references; the rule moves where
// |x - x_ref| >= eps. inline, when not nil, is plain's own range test over y, v and onFalse.
type rescaleWhere struct {
	eps     float32
	inline  *rangeWhere
	onFalse float32
}

// rescaleCalls counts the rewritten nodes run; rescaleOff (tests) rewrites none.
var (
	rescaleCalls atomic.Int64
	rescaleOff   atomic.Bool
)

// fuseRescale rewrites each Where of the rescale rule's shape among the nodes the outputs use.
func fuseRescale(outputs []backends.Op) {
	if !installed.Load() || rescaleOff.Load() {
		return
	}
	order, uses, ok := graphUses(outputs)
	if !ok {
		return
	}
	for _, w := range order {
		m, ok := matchRescale(w)
		if !ok {
			continue
		}
		data := &rescaleWhere{eps: m.eps}
		inputs := []*simplego.Node{m.x, m.y, m.v, m.plain}
		// plain inline: a RangeWhere(y, v, scalar) read by this Where alone (through a Reshape
		// or not).
		p := m.plain
		if uses[m.plainOuter] == 1 && (p == m.plainOuter || uses[p] == 1) && nodeOp(p) == backends.OpTypeWhere {
			if r, ok := nodeValueOf[*rangeWhere](p); ok {
				pin := nodeInputs(p)
				if len(pin) == 3 && pin[0] == m.y && pin[1] == m.v {
					if f, ok := scalarConstant(pin[2]); ok {
						data.inline, data.onFalse = r, f
						inputs = inputs[:3]
					}
				}
			}
		}
		setNodeInputs(w, inputs)
		setNodeData(w, data)
	}
}

// rescaleMatch is what matchRescale found: the activation's input x and output y, the gradient
// v arriving at y, the ordinary rule's value plain (plainOuter: as the Where reads it, maybe
// reshaped), all float32 of the Where's size, and the bound eps.
type rescaleMatch struct {
	x, y, v, plain, plainOuter *simplego.Node
	eps                        float32
}

// matchRescale reports whether w is, on float32 values of n = 2 h,
//
//	Where(Broadcast(moved), Div(Mul(v, dy), Where(moved, dx, 1)), plain)
//	moved = GreaterOrEqual(Abs(dx), eps), dx = Sub(Slice(x, 0:h), Slice(x, h:n)), dy likewise of y
//
// (Reshapes between them aside), the graph package nn builds for the rescale rule.
func matchRescale(w *simplego.Node) (m rescaleMatch, ok bool) {
	ws := nodeShape(w)
	if nodeOp(w) != backends.OpTypeWhere || ws.DType != dtypes.Float32 || ws.Rank() < 2 || ws.Dimensions[0] != 2 {
		return m, false
	}
	if d, _ := nodeValue(w); d != nil {
		return m, false // a Where of fastdot's own
	}
	size := ws.Size()
	in := nodeInputs(w)
	if len(in) != 3 || nodeOp(in[0]) != backends.OpTypeBroadcastInDim || nodeOp(in[1]) != backends.OpTypeDiv {
		return m, false
	}
	moved := only(in[0])
	dx, eps, ok := matchMoved(moved)
	if !ok {
		return m, false
	}
	div := nodeInputs(in[1])
	if len(div) != 2 || nodeOp(div[0]) != backends.OpTypeMul || nodeOp(div[1]) != backends.OpTypeWhere {
		return m, false
	}
	if d, _ := nodeValue(div[1]); d != nil {
		return m, false
	}
	safe := nodeInputs(div[1])
	if len(safe) != 3 || safe[0] != moved || unreshaped(safe[1]) != dx {
		return m, false
	}
	if one, ok := scalarConstant(safe[2]); !ok || one != 1 {
		return m, false
	}
	mul := nodeInputs(div[0])
	if len(mul) != 2 {
		return m, false
	}
	v, dy := unreshaped(mul[0]), unreshaped(mul[1])
	x, ok1 := halvesDifference(dx)
	y, ok2 := halvesDifference(dy)
	plain := unreshaped(in[2])
	if !ok1 || !ok2 || !sized(x, size) || !sized(y, size) || !sized(v, size) || !sized(plain, size) {
		return m, false
	}
	// The halves' values broadcast over both halves the way the exec reads them: [1, rest...]
	// against [2, rest...], the broadcast's axes in order.
	full := ws.Dimensions
	half := append([]int{1}, full[1:]...)
	for _, n := range []*simplego.Node{moved, mul[1], div[1]} {
		if !slices.Equal(nodeShape(n).Dimensions, half) {
			return m, false
		}
	}
	for _, n := range []*simplego.Node{in[0], in[1], in[2], div[0], mul[0]} {
		if !slices.Equal(nodeShape(n).Dimensions, full) {
			return m, false
		}
	}
	if axes, ok := nodeValueOf[[]int](in[0]); !ok || !inOrder(axes, len(full)) {
		return m, false
	}
	return rescaleMatch{x: x, y: y, v: v, plain: plain, plainOuter: in[2], eps: eps}, true
}

// inOrder reports whether axes are 0, 1, ..., n-1.
func inOrder(axes []int, n int) bool {
	if len(axes) != n {
		return false
	}
	for i, a := range axes {
		if a != i {
			return false
		}
	}
	return true
}

// matchMoved reports whether moved is GreaterOrEqual(Abs(dx), eps), eps a float32 scalar
// constant, and returns dx (unreshaped).
func matchMoved(moved *simplego.Node) (dx *simplego.Node, eps float32, ok bool) {
	if moved == nil || nodeOp(moved) != backends.OpTypeGreaterOrEqual {
		return nil, 0, false
	}
	in := nodeInputs(moved)
	if len(in) != 2 || nodeOp(in[0]) != backends.OpTypeAbs {
		return nil, 0, false
	}
	eps, ok = scalarConstant(in[1])
	return unreshaped(only(in[0])), eps, ok && !math.IsNaN(float64(eps))
}

// halvesDifference reports whether d is Sub(Slice(x, 0:h), Slice(x, h:2h)) along x's first
// axis (every other axis whole), and returns x.
func halvesDifference(d *simplego.Node) (*simplego.Node, bool) {
	if d == nil || nodeOp(d) != backends.OpTypeSub {
		return nil, false
	}
	in := nodeInputs(d)
	if len(in) != 2 {
		return nil, false
	}
	x0, lo, ok0 := firstAxisSlice(in[0])
	x1, hi, ok1 := firstAxisSlice(in[1])
	if !ok0 || !ok1 || x0 != x1 || lo != 0 {
		return nil, false
	}
	if n := nodeShape(x0).Dimensions[0]; hi != n/2 || n%2 != 0 {
		return nil, false
	}
	return x0, true
}

// firstAxisSlice reports whether s is a Slice of a float32 x keeping x's first axis from start
// on (to its end, or to start's end when start is 0: halves) and every other axis whole, stride 1.
func firstAxisSlice(s *simplego.Node) (x *simplego.Node, start int, ok bool) {
	if nodeOp(s) != backends.OpTypeSlice {
		return nil, 0, false
	}
	x = only(s)
	d, found := nodeData(s)
	if x == nil || !found {
		return nil, 0, false
	}
	starts, ok1 := field[[]int](d, "starts")
	limits, ok2 := field[[]int](d, "limits")
	strides, ok3 := field[[]int](d, "strides")
	xd := nodeShape(x).Dimensions
	if !ok1 || !ok2 || !ok3 || nodeShape(x).DType != dtypes.Float32 || len(xd) == 0 || len(starts) != len(xd) ||
		len(limits) != len(xd) || len(strides) != len(xd) {
		return nil, 0, false
	}
	for a := range xd {
		whole := starts[a] == 0 && limits[a] == xd[a]
		if strides[a] != 1 || a > 0 && !whole {
			return nil, 0, false
		}
	}
	if 2*(limits[0]-starts[0]) != xd[0] {
		return nil, 0, false
	}
	return x, starts[0], true
}

// exec runs a rewritten Where: for each value i of the first half and its reference at h+i,
//
//	dx = x[i] - x[h+i], dy = y[i] - y[h+i]
//	out[j] = |dx| >= eps ? (v[j] dy) / dx : plain[j]   for j = i, h+i
//
// plain[j] = lo < y[j] (< hi) ? v[j] : onFalse when inline. Each index is read before it is
// written, so the output may take any input's buffer.
func (r *rescaleWhere) exec(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	outShape := nodeShape(node)
	n := outShape.Size()
	want := 4
	if r.inline != nil {
		want = 3
	}
	if len(inputs) != want || len(owned) != want || n%2 != 0 {
		return nil, fmt.Errorf("fastdot: a rescale node with %d inputs", len(inputs))
	}
	vals := make([][]float32, want)
	for i, b := range inputs {
		v, ok := flat(b).([]float32)
		if !ok || len(v) != n {
			return nil, fmt.Errorf("fastdot: the operands of a rescale node are not the float32 tensors it was built for")
		}
		vals[i] = v
	}
	out := outputBuffer(backend, outShape, inputs, owned, []int{0, 1, 2, 3}[:want], nil)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != n {
		return nil, fmt.Errorf("fastdot: the output buffer of a rescale node is not a []float32 of %d", n)
	}
	rescaleCalls.Add(1)
	x, y, v := vals[0], vals[1], vals[2]
	h, eps := n/2, r.eps
	if in := r.inline; in != nil {
		lo, hi, upper, f := in.lo, in.hi, in.hasHi, r.onFalse
		parallelRange(h, func(a, b int) {
			for i := a; i < b; i++ {
				j := h + i
				if ok, q0, q1 := rescaled(x[i], x[j], y[i], y[j], v[i], v[j], eps); ok {
					o[i], o[j] = q0, q1
				} else {
					o[i], o[j] = pick(inRange(y[i], lo, hi, upper), v[i], f), pick(inRange(y[j], lo, hi, upper), v[j], f)
				}
			}
		})
		return out, nil
	}
	p := vals[3]
	parallelRange(h, func(a, b int) {
		for i := a; i < b; i++ {
			j := h + i
			if ok, q0, q1 := rescaled(x[i], x[j], y[i], y[j], v[i], v[j], eps); ok {
				o[i], o[j] = q0, q1
			} else {
				o[i], o[j] = p[i], p[j]
			}
		}
	})
	return out, nil
}

// rescaled is the rule for an input (x0, y0, v0) and its reference (x1, y1, v1): whether
// |x0 - x1| >= eps, and (v dy) / dx for each.
func rescaled(x0, x1, y0, y1, v0, v1, eps float32) (moved bool, q0, q1 float32) {
	dx, dy := x0-x1, y0-y1
	return abs(dx) >= eps, float32(v0*dy) / dx, float32(v1*dy) / dx
}
