package fastdot

import (
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// A batch norm at inference is x*scale + shift, per channel, and a ReLU (or ReLU6) usually
// follows: four passes over the activation (Mul, Add, Max, Min), each reading and writing all of
// it. NewAffine and ClampAffine build them, as they are requested, into one node of their own
// that makes one pass (sgemm.Affine, the same bits); the nodes they replace are left unused, and
// simplego does not run unused nodes. Where an intermediate value is used too (a layer a method
// reads, a gradient's mask), its node runs as well, and there are still fewer passes.

// affine is the data of a node made by NewAffine or ClampAffine: inputs x, scale and shift,
// scale and shift with x's rank, 1 everywhere but the last axis, channels there.
type affine struct {
	channels int
	clamp    sgemm.Clamp
}

// affineOp is the op type of affine nodes: batch norm at inference, which simplego does not
// implement and GoMLX's graph never asks of it (package nn builds batch norm from Mul and Add).
const affineOp = backends.OpTypeBatchNormForInference

// affineCalls counts the affine nodes run; affineOff (tests) builds none.
var (
	affineCalls atomic.Int64
	affineOff   atomic.Bool
)

func installAffine() { nodeExecutors[affineOp] = guarded(affineOp, execAffine) }

// nodeOp and nodeInputs read a simplego node's op type and inputs (zero values, and so no
// fusion, were simplego to change them).
func nodeOp(n *simplego.Node) backends.OpType {
	op, _ := field[backends.OpType](reflect.ValueOf(n).Elem(), "opType")
	return op
}

func nodeInputs(n *simplego.Node) []*simplego.Node {
	in, _ := field[[]*simplego.Node](reflect.ValueOf(n).Elem(), "inputs")
	return in
}

// perChannel reports whether s is a float32 [1, ..., 1, C] of x's rank against float32 x of
// last axis C.
func perChannel(x, s shapes.Shape) bool {
	r := x.Rank()
	if x.DType != dtypes.Float32 || s.DType != dtypes.Float32 || r < 2 || s.Rank() != r || s.Dimensions[r-1] != x.Dimensions[r-1] {
		return false
	}
	for _, d := range s.Dimensions[:r-1] {
		if d != 1 {
			return false
		}
	}
	return true
}

// NewAffine builds Add(mul, shift), with mul a Mul of an activation x by a per-channel scale and
// shift per-channel, as one node computing x*scale + shift; ok is false, adding nothing, for
// anything else.
func NewAffine(b backends.Builder, mul, shift backends.Op) (op backends.Op, ok bool) {
	sb, ok1 := b.(*simplego.Builder)
	mn, ok2 := mul.(*simplego.Node)
	sn, ok3 := shift.(*simplego.Node)
	if !installed.Load() || affineOff.Load() || !ok1 || !ok2 || !ok3 || nodeOp(mn) != backends.OpTypeMul {
		return nil, false
	}
	in := nodeInputs(mn)
	if len(in) != 2 {
		return nil, false
	}
	x, s := in[0], in[1]
	xs, ss := nodeShape(x), nodeShape(s)
	if !perChannel(xs, ss) {
		x, s, xs, ss = s, x, ss, xs // scale * x: the same products
	}
	if !perChannel(xs, ss) || !perChannel(xs, nodeShape(sn)) || !nodeShape(mn).Equal(xs) {
		return nil, false
	}
	n := newNode(sb, affineOp, xs, x, s, sn)
	setNodeData(n, &affine{channels: xs.Dimensions[xs.Rank()-1]})
	return n, true
}

// ClampAffine builds Max(op, bound) (isMax) or Min(op, bound), op an affine node and bound a
// scalar, as one node: op's affine map clamped. ok is false, adding nothing, where op is no
// affine node, where it is clamped on that side already (or, for Max, on either: Max comes
// first), or where the kernel would not give Go's max or min.
func ClampAffine(b backends.Builder, op backends.Op, bound float32, isMax bool) (backends.Op, bool) {
	sb, ok1 := b.(*simplego.Builder)
	n, ok2 := op.(*simplego.Node)
	if !installed.Load() || !ok1 || !ok2 || nodeOp(n) != affineOp {
		return nil, false
	}
	data, _ := nodeValue(n)
	a, ok := data.(*affine)
	if !ok {
		return nil, false
	}
	c := a.clamp
	switch {
	case isMax && !c.HasLo && !c.HasHi:
		c.Lo, c.HasLo = bound, true
	case !isMax && !c.HasHi:
		c.Hi, c.HasHi = bound, true
	default:
		return nil, false
	}
	if !c.Exact() {
		return nil, false
	}
	in := nodeInputs(n)
	m := newNode(sb, affineOp, nodeShape(n), in...)
	setNodeData(m, &affine{channels: a.channels, clamp: c})
	return m, true
}

// execAffine runs an affine node: the activation a stretch of whole rows of channels at a time,
// against scale and shift repeated over the stretch, in place when it owns the activation.
func execAffine(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	data, _ := nodeValue(node)
	if ca, ok := data.(*convAffine); ok {
		return ca.exec(backend, node, inputs)
	}
	a, ok := data.(*affine)
	if !ok || len(inputs) != 3 || len(owned) != 3 {
		return nil, fmt.Errorf("fastdot: an affine node not made by NewAffine")
	}
	x, ok1 := flat(inputs[0]).([]float32)
	s, ok2 := flat(inputs[1]).([]float32)
	sh, ok3 := flat(inputs[2]).([]float32)
	c := a.channels
	if !ok1 || !ok2 || !ok3 || c <= 0 || len(s) != c || len(sh) != c || len(x)%c != 0 || len(x) != nodeShape(node).Size() {
		return nil, fmt.Errorf("fastdot: the operands of an affine node are not the float32 tensors it was built for")
	}
	affineCalls.Add(1)
	out := outputBuffer(backend, nodeShape(node), inputs, owned, []int{0}, nil)
	o, ok := flat(out).([]float32)
	if !ok || len(o) != len(x) {
		return nil, fmt.Errorf("fastdot: the output buffer of an affine node is not a []float32 of %d", len(x))
	}
	newEpilogue(s, sh, a.clamp).apply(x, o)
	return out, nil
}

// epilogue is an affine map per channel, clamped, applied to channels-last values.
type epilogue struct {
	scale, shift []float32 // per channel
	clamp        sgemm.Clamp
	st, bt       []float32 // scale and shift repeated over a stretch of whole rows, about 16 KB
}

func newEpilogue(scale, shift []float32, clamp sgemm.Clamp) *epilogue {
	c := len(scale)
	rows := max(1, affineStretch/c)
	e := &epilogue{scale: scale, shift: shift, clamp: clamp, st: make([]float32, rows*c), bt: make([]float32, rows*c)}
	for r := range rows {
		copy(e.st[r*c:(r+1)*c], scale)
		copy(e.bt[r*c:(r+1)*c], shift)
	}
	return e
}

// apply sets o = x*scale + shift, clamped, for x rows of channels (o may be x), on two cores.
func (e *epilogue) apply(x, o []float32) {
	width := len(e.st)
	halves(len(x), width, len(x) >= parallelFrom, func(lo, hi int) {
		for i := lo; i < hi; i += width {
			j := min(hi, i+width)
			sgemm.Affine(x[i:j], e.st[:j-i], e.bt[:j-i], o[i:j], e.clamp)
		}
	})
}

// applyRun applies the map in place to x, whole rows of channels, on the calling goroutine.
func (e *epilogue) applyRun(x []float32) {
	width := len(e.st)
	for i := 0; i < len(x); i += width {
		j := min(len(x), i+width)
		sgemm.Affine(x[i:j], e.st[:j-i], e.bt[:j-i], x[i:j], e.clamp)
	}
}

// applyRows applies the map in place to rows [r0, r1) of x (ld apart), channels [c0, c1).
func (e *epilogue) applyRows(x []float32, ld, r0, r1, c0, c1 int) {
	sgemm.AffineRows(x, r0*ld+c0, ld, r1-r0, e.scale[c0:c1], e.shift[c0:c1], e.clamp)
}

// affineStretch is the number of values execAffine passes to the kernel at a time.
const affineStretch = 4096
