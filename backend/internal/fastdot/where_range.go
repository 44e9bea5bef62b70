package fastdot

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// A ReLU rule's backward pass is Where(0 < y, v, 0) (and y < 6 for ReLU6): a comparison writing
// a mask, a second and a LogicalAnd for ReLU6, then Where reading it; two to four passes.
// RangeWhere builds it as one Where node of its own, whose condition is a range of a float32
// operand tested as it is read: the same comparisons, so the same bits, in one pass; the mask's
// nodes are left unused, and simplego does not run unused nodes.

// rangeWhere is the data of a node made by RangeWhere: inputs x, onTrue and onFalse; the
// condition lo < x, and x < hi with hasHi.
type rangeWhere struct {
	lo, hi float32
	hasHi  bool
}

// rangeWhereCalls counts the nodes run; rangeWhereOff (tests) builds none.
var (
	rangeWhereCalls atomic.Int64
	rangeWhereOff   atomic.Bool
)

// installWhere makes Where's executor run RangeWhere's and FuseRescale's nodes, and the others as
// tryWhere does.
func installWhere() {
	install(backends.OpTypeWhere, tryWhere)
	plain := nodeExecutors[backends.OpTypeWhere]
	nodeExecutors[backends.OpTypeWhere] = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		if data, _ := nodeValue(node); data != nil {
			switch r := data.(type) {
			case *rangeWhere:
				return guarded(backends.OpTypeWhere, r.exec)(backend, node, inputs, owned)
			case *rescaleWhere:
				return guarded(backends.OpTypeWhere, r.exec)(backend, node, inputs, owned)
			}
		}
		return plain(backend, node, inputs, owned)
	}
}

// RangeWhere builds Where(lo < x, onTrue, onFalse), or Where(lo < x && x < hi, ...) with hasHi,
// as one node; x, onTrue and onFalse float32 of one shape, or onTrue or onFalse scalars. ok is
// false, adding nothing, for anything else.
func RangeWhere(b backends.Builder, x backends.Op, lo, hi float32, hasHi bool, onTrue, onFalse backends.Op) (backends.Op, bool) {
	sb, ok1 := b.(*simplego.Builder)
	xn, ok2 := x.(*simplego.Node)
	tn, ok3 := onTrue.(*simplego.Node)
	fn, ok4 := onFalse.(*simplego.Node)
	if !installed.Load() || rangeWhereOff.Load() || !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, false
	}
	xs := nodeShape(xn)
	if xs.DType != dtypes.Float32 {
		return nil, false
	}
	for _, s := range []*simplego.Node{tn, fn} {
		if ss := nodeShape(s); ss.DType != dtypes.Float32 || !ss.Equal(xs) && ss.Rank() != 0 {
			return nil, false
		}
	}
	n := newNode(sb, backends.OpTypeWhere, xs, xn, tn, fn)
	setNodeData(n, &rangeWhere{lo: lo, hi: hi, hasHi: hasHi})
	return n, true
}

// inRange is lo < v (and v < hi with upper) as 0 or 1.
func inRange(v, lo, hi float32, upper bool) byte {
	c := byteOf(lo < v)
	if upper {
		c &= byteOf(v < hi)
	}
	return c
}

// byteOf is b as 0 or 1.
func byteOf(b bool) byte { return *(*byte)(unsafe.Pointer(&b)) }

// exec runs a RangeWhere node.
func (r *rangeWhere) exec(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	outShape := nodeShape(node)
	n := outShape.Size()
	if len(inputs) != 3 || len(owned) != 3 {
		return nil, fmt.Errorf("fastdot: a range Where node with %d inputs", len(inputs))
	}
	x, ok0 := flat(inputs[0]).([]float32)
	t, ok1 := flat(inputs[1]).([]float32)
	f, ok2 := flat(inputs[2]).([]float32)
	if !ok0 || !ok1 || !ok2 || len(x) != n || (len(t) != n && len(t) != 1) || (len(f) != n && len(f) != 1) {
		return nil, fmt.Errorf("fastdot: the operands of a range Where node are not the float32 tensors it was built for")
	}
	rangeWhereCalls.Add(1)
	out := outputBuffer(backend, outShape, inputs, owned, []int{1, 2, 0}, []bool{true, len(t) == n, len(f) == n})
	o, ok := flat(out).([]float32)
	if !ok || len(o) != n {
		return nil, fmt.Errorf("fastdot: the output buffer of a range Where node is not a []float32 of %d", n)
	}
	// A scalar operand is read at index i&0.
	tm, fm := 0, 0
	if len(t) == n {
		tm = -1
	}
	if len(f) == n {
		fm = -1
	}
	lo, hi, upper := r.lo, r.hi, r.hasHi
	if tm == -1 && fm == 0 { // Where(mask, v, 0): the vector kernel
		parallelRange(n, func(a, b int) { sgemm.RangeSelect(x[a:b], t[a:b], f[0], lo, hi, upper, o[a:b]) })
		return out, nil
	}
	parallelRange(n, func(a, b int) {
		// The comparisons as bytes (SETcc, no branch on the data: a ReLU's mask is a coin toss).
		for i := a; i < b; i++ {
			o[i] = pick(inRange(x[i], lo, hi, upper), t[i&tm], f[i&fm])
		}
	})
	return out, nil
}
