package fastdot

import (
	"encoding/binary"
	"math"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

// simplego's float32 Add, Sub, Mul, Div, Max and Min broadcast through a per-element index iterator: a batch
// norm's x*scale+shift and a convolution's bias, [B, H, W, C] against [1, 1, 1, C], took a third
// of ResNet-50's forward pass. Here the common layouts are plain loops, split over two goroutines:
// equal shapes, one operand a scalar, or one operand repeated along a run of the other's axes
// (size 1 there: in front, or in the middle).

// BinaryCalls counts element-wise ops run here; BinaryFallbacks those handed back to simplego.
var binaryCalls, binaryFallbacks atomic.Int64

var binaryOriginal = map[backends.OpType]executor{}

// binaryOps are the ops handled here.
var binaryOps = []backends.OpType{backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin}

// vv sets o[i] = a[i] op b[i]; vs o[i] = a[i] op s; sv o[i] = s op b[i]: on sgemm's vector
// kernels, except Max, Min and Div of two tensors and Div by or of a scalar, one loop each (so
// that the operation inlines). Max and Min are Go's, as in simplego (NaN propagates).
func vv(op backends.OpType, o, a, b []float32) {
	b, o = b[:len(a)], o[:len(a)]
	switch op {
	case backends.OpTypeAdd:
		sgemm.Elementwise('+', a, b, o)
	case backends.OpTypeSub:
		sgemm.Elementwise('-', a, b, o)
	case backends.OpTypeMul:
		sgemm.Elementwise('*', a, b, o)
	case backends.OpTypeMax:
		for i, x := range a {
			o[i] = max(x, b[i])
		}
	case backends.OpTypeMin:
		for i, x := range a {
			o[i] = min(x, b[i])
		}
	case backends.OpTypeDiv:
		for i, x := range a {
			o[i] = x / b[i]
		}
	}
}

func vs(op backends.OpType, o, a []float32, s float32) {
	o = o[:len(a)]
	switch op {
	case backends.OpTypeAdd:
		sgemm.ElementwiseScalar('+', a, s, o)
	case backends.OpTypeSub:
		sgemm.ElementwiseScalar('-', a, s, o)
	case backends.OpTypeMul:
		sgemm.ElementwiseScalar('*', a, s, o)
	case backends.OpTypeMax:
		sgemm.ElementwiseScalar('M', a, s, o)
	case backends.OpTypeMin:
		sgemm.ElementwiseScalar('m', a, s, o)
	case backends.OpTypeDiv:
		for i, x := range a {
			o[i] = x / s
		}
	}
}

func sv(op backends.OpType, o []float32, s float32, b []float32) {
	o = o[:len(b)]
	switch op {
	case backends.OpTypeSub:
		for i, x := range b {
			o[i] = s - x
		}
	case backends.OpTypeDiv:
		for i, x := range b {
			o[i] = s / x
		}
	default:
		vs(op, o, b, s) // commutative (Go's max and min too: NaN and signed zeros alike)
	}
}

func installBinary() {
	for _, op := range binaryOps {
		binaryOriginal[op] = nodeExecutors[op]
		nodeExecutors[op] = guarded(op, binaryExecutor(op))
	}
}

// binaryExecutor returns the executor of op (one of binaryOps' keys).
func binaryExecutor(op backends.OpType) executor {
	return fallbackTo(op, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, bool) {
		return tryBinary(op, backend, node, inputs, owned)
	})
}

// operandKind is how an operand spans the output: whole, a scalar, or repeated along one run
// of axes (leading, as a bias [1, 1, 1, C] over [B, H, W, C], or in the middle, as Grad-CAM's
// weights [B, 1, 1, C]).
type operandKind int

const (
	whole operandKind = iota
	scalar
	repeated
	unsupported
)

func kindOf(s, out shapes.Shape) operandKind {
	switch {
	case slices.Equal(s.Dimensions, out.Dimensions): // dimensions only: a comparison's output is bool
		return whole
	case s.Size() == 1:
		return scalar
	case s.Rank() != out.Rank() || s.Size() == 0:
		return unsupported
	}
	if _, _, ok := repeatRun(s.Dimensions, out.Dimensions); ok {
		return repeated
	}
	return unsupported
}

// repeatRun finds the run of axes [i, j) along which an operand of dimensions s repeats over
// out: s equals out but for size 1 on that run. It reports false for any other pair.
func repeatRun(s, out []int) (i, j int, ok bool) {
	for i < len(s) && s[i] == out[i] {
		i++
	}
	for j = i; j < len(s) && s[j] == 1; j++ {
	}
	if !slices.Equal(s[j:], out[j:]) {
		return 0, 0, false
	}
	return i, j, true
}

// floatOperands reads a binary op's two float32 operands and how each spans the output.
func floatOperands(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (a, b []float32, ka, kb operandKind, outShape shapes.Shape, ok bool) {
	if len(inputs) != 2 {
		return
	}
	outShape = nodeShape(node)
	a, ok1 := flat(inputs[0]).([]float32)
	b, ok2 := flat(inputs[1]).([]float32)
	as, err1 := backend.BufferShape(inputs[0])
	bs, err2 := backend.BufferShape(inputs[1])
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return
	}
	return a, b, kindOf(as, outShape), kindOf(bs, outShape), outShape, true
}

func tryBinary(op backends.OpType, backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, bool) {
	a, b, ka, kb, outShape, ok := floatOperands(backend, node, inputs)
	if !ok || len(owned) != 2 {
		return nil, false
	}
	if ka == unsupported || kb == unsupported || (ka != whole && kb != whole) {
		return nil, false
	}
	// A repeated operand x: rows of width values, row q of the output reading x's row q/times.
	var x []float32
	width, times := 0, 0
	if ka == repeated || kb == repeated {
		k := 0
		x = a
		if kb == repeated {
			k, x = 1, b
		}
		xs, err := backend.BufferShape(inputs[k])
		if err != nil {
			return nil, false
		}
		i, j, _ := repeatRun(xs.Dimensions, outShape.Dimensions)
		width, times = 1, 1
		for _, d := range outShape.Dimensions[j:] {
			width *= d
		}
		for _, d := range outShape.Dimensions[i:j] {
			times *= d
		}
	}
	// The output reuses an operand the executor owns, as simplego does.
	out := outputBuffer(backend, outShape, inputs, owned, []int{1, 0}, []bool{ka == whole, kb == whole})
	o, ok := flat(out).([]float32)
	if !ok || len(o) != outShape.Size() || width > 0 && len(x)*times != len(o) {
		return nil, false
	}
	n := len(o)
	// Repeated along leading axes (one operand row): runs of whole rows, the operand tiled to a
	// run's length, one vector call per run.
	var rep []float32
	if width > 0 && len(x) == width {
		rep = tiled(x)
	}
	apply := func(lo, hi int, xr []float32) { // o[lo:hi] from the other operand's and x's rows xr
		if kb == repeated {
			vv(op, o[lo:hi], a[lo:hi], xr)
		} else {
			vv(op, o[lo:hi], xr, b[lo:hi])
		}
	}
	run := func(lo, hi int) {
		switch {
		case ka == whole && kb == whole:
			vv(op, o[lo:hi], a[lo:hi], b[lo:hi])
		case kb == scalar:
			vs(op, o[lo:hi], a[lo:hi], b[0])
		case ka == scalar:
			sv(op, o[lo:hi], a[0], b[lo:hi])
		case rep != nil:
			for r := lo; r < hi; r += len(rep) {
				m := min(len(rep), hi-r) // whole rows: lo and hi are on row boundaries
				apply(r, r+m, rep[:m])
			}
		default: // repeated along middle axes: a row at a time, x's row q/times
			for r := lo; r < hi; r += width {
				q := r / width / times
				apply(r, r+width, x[q*width:(q+1)*width])
			}
		}
	}
	// Halves on a row boundary when an operand repeats by rows.
	halves(n, max(width, 1), n >= parallelFrom, run)
	return out, true
}

// tiledRun is the least length of the runs a repeating operand is tiled to: a batch norm's
// per-channel scale ([C], 32-960 values) over [B, H, W, C] is then one vector call per run of
// rows, not one per row.
const tiledRun = 2048

// tiled returns row repeated to the first multiple of its length of at least tiledRun values
// (row itself when it is that long).
func tiled(row []float32) []float32 {
	if len(row) >= tiledRun {
		return row
	}
	t := make([]float32, (tiledRun+len(row)-1)/len(row)*len(row))
	repeatInto(t, row, 0)
	return t
}

// Comparisons (float32 operands, whole or scalar, to bool), LogicalAnd and Where: the ReLU
// rules' backward pass (where the activation passes gradients) and max pooling's.

var compareOps = []backends.OpType{backends.OpTypeGreaterThan, backends.OpTypeLessThan}

func installCompare() {
	for _, op := range compareOps {
		binaryOriginal[op] = nodeExecutors[op]
		nodeExecutors[op] = guarded(op, compareExecutor(op))
	}
	install(backends.OpTypeLogicalAnd, tryLogicalAnd)
	installWhere()
}

// install makes try op's executor, falling back to simplego's own (kept in binaryOriginal).
func install(op backends.OpType, try func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, bool)) {
	binaryOriginal[op] = nodeExecutors[op]
	nodeExecutors[op] = guarded(op, fallbackTo(op, try))
}

// fallbackTo wraps try as an executor that hands what it cannot do to simplego's executor of op.
func fallbackTo(op backends.OpType, try func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, bool)) executor {
	original := binaryOriginal[op]
	return func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		if out, ok := try(backend, node, inputs, owned); ok {
			binaryCalls.Add(1)
			return out, nil
		}
		binaryFallbacks.Add(1)
		return original(backend, node, inputs, owned)
	}
}

func compareExecutor(op backends.OpType) executor {
	return fallbackTo(op, func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, bool) {
		a, b, ka, kb, outShape, ok := floatOperands(backend, node, inputs)
		if !ok || !(ka == whole && (kb == whole || kb == scalar) || ka == scalar && kb == whole) {
			return nil, false
		}
		out := backend.NewBuffer(outShape)
		o, ok := flat(out).([]bool)
		if !ok || len(o) != outShape.Size() {
			return nil, false
		}
		less := op == backends.OpTypeLessThan
		parallelRange(len(o), func(lo, hi int) {
			o := o[lo:hi]
			switch {
			case kb == scalar:
				s, a := b[0], a[lo:hi]
				if less {
					for i, x := range a {
						o[i] = x < s
					}
				} else {
					for i, x := range a {
						o[i] = x > s
					}
				}
			case ka == scalar:
				s, b := a[0], b[lo:hi]
				if less {
					for i, y := range b {
						o[i] = s < y
					}
				} else {
					for i, y := range b {
						o[i] = s > y
					}
				}
			default:
				a, b := a[lo:hi], b[lo:hi]
				b = b[:len(a)]
				if less {
					for i, x := range a {
						o[i] = x < b[i]
					}
				} else {
					for i, x := range a {
						o[i] = x > b[i]
					}
				}
			}
		})
		return out, true
	})
}

func tryLogicalAnd(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, bool) {
	if len(inputs) != 2 || len(owned) != 2 {
		return nil, false
	}
	outShape := nodeShape(node)
	a, ok1 := flat(inputs[0]).([]bool)
	b, ok2 := flat(inputs[1]).([]bool)
	if !ok1 || !ok2 || len(a) != outShape.Size() || len(b) != len(a) {
		return nil, false
	}
	out := outputBuffer(backend, outShape, inputs, owned, []int{0, 1}, nil)
	o, ok := flat(out).([]bool)
	if !ok || len(o) != len(a) {
		return nil, false
	}
	ab, bb, ob := boolBytes(a), boolBytes(b), boolBytes(o)
	parallelRange(len(o), func(lo, hi int) {
		a, b, o := ab[lo:hi], bb[lo:hi], ob[lo:hi]
		// Go's bools are the bytes 0 and 1: eight at a time as a word, the rest a byte at a time.
		i := 0
		for ; i+8 <= len(a); i += 8 {
			binary.LittleEndian.PutUint64(o[i:], binary.LittleEndian.Uint64(a[i:])&binary.LittleEndian.Uint64(b[i:]))
		}
		for ; i < len(a); i++ {
			o[i] = a[i] & b[i]
		}
	})
	return out, true
}

// boolBytes views bools as their bytes (0 or 1).
func boolBytes(b []bool) []byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b))
}

// pick is c ? t : f without a branch (c is 0 or 1), bit for bit (NaNs and signed zeros kept).
func pick(c byte, t, f float32) float32 {
	m := -uint32(c)
	return math.Float32frombits(math.Float32bits(t)&m | math.Float32bits(f)&^m)
}

func tryWhere(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, bool) {
	if len(inputs) != 3 || len(owned) != 3 {
		return nil, false
	}
	outShape := nodeShape(node)
	cond, ok0 := flat(inputs[0]).([]bool)
	t, ok1 := flat(inputs[1]).([]float32)
	f, ok2 := flat(inputs[2]).([]float32)
	n := outShape.Size()
	if !ok0 || !ok1 || !ok2 || len(cond) != n || (len(t) != n && len(t) != 1) || (len(f) != n && len(f) != 1) {
		return nil, false
	}
	out := outputBuffer(backend, outShape, inputs, owned, []int{1, 2}, []bool{false, len(t) == n, len(f) == n})
	o, ok := flat(out).([]float32)
	if !ok || len(o) != n {
		return nil, false
	}
	cb := boolBytes(cond)
	parallelRange(n, func(lo, hi int) {
		o, cond := o[lo:hi], cb[lo:hi]
		switch {
		case len(t) == n && len(f) == 1:
			t, s := t[lo:hi], f[0]
			for i, c := range cond {
				o[i] = pick(c, t[i], s)
			}
		case len(t) == 1 && len(f) == n:
			s, f := t[0], f[lo:hi]
			for i, c := range cond {
				o[i] = pick(c, s, f[i])
			}
		case len(t) == n:
			t, f := t[lo:hi], f[lo:hi]
			for i, c := range cond {
				o[i] = pick(c, t[i], f[i])
			}
		default:
			for i, c := range cond {
				o[i] = pick(c, t[0], f[0])
			}
		}
	})
	return out, true
}

// parallelFrom is the size from which an element-wise op splits its work between two cores.
const parallelFrom = 1 << 15

// parallelRange runs fn over [0, n) in two halves on two goroutines when n is large.
func parallelRange(n int, fn func(lo, hi int)) { halves(n, 1, n >= parallelFrom, fn) }

// halves runs fn over [0, n): in two halves on two goroutines when large (they meet at a
// multiple of step, so that rows of step values stay whole), else at once.
func halves(n, step int, large bool, fn func(lo, hi int)) {
	mid := n / 2 / step * step
	if !large || mid == 0 {
		fn(0, n)
		return
	}
	sgemm.Parallel(2, 2, func(_, half int) {
		if half == 0 {
			fn(0, mid)
		} else {
			fn(mid, n)
		}
	})
}

// Unary ops of float32, in parallel, bit for bit simplego's: Sign (in the gradients of Abs and of
// max pooling's ties; -1, 0 or 1, and 0 for NaN and both zeros) and Abs (DeepLift's rescale rule
// tests every activation's difference with it).
func installUnary() {
	install(backends.OpTypeSign, unary(sign))
	install(backends.OpTypeAbs, unary(abs))
}

func unary(fn func(float32) float32) func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, bool) {
	return func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, bool) {
		if len(inputs) != 1 || len(owned) != 1 {
			return nil, false
		}
		x, ok := flat(inputs[0]).([]float32)
		outShape := nodeShape(node)
		if !ok || len(x) != outShape.Size() {
			return nil, false
		}
		out := outputBuffer(backend, outShape, inputs, owned, []int{0}, nil)
		o, ok := flat(out).([]float32)
		if !ok || len(o) != len(x) {
			return nil, false
		}
		parallelRange(len(o), func(lo, hi int) {
			o := o[lo:hi]
			for i, v := range x[lo:hi] {
				o[i] = fn(v)
			}
		})
		return out, true
	}
}

// abs is simplego's |v| (v < 0 ? -v : v, so -0 and NaNs keep their sign bit) without branches:
// the sign bit is cleared where |v|'s bits are in [1, +Inf], as in sign.
func abs(v float32) float32 {
	bits := math.Float32bits(v)
	t := bits&0x7fffffff - 1
	mask := uint32((int64(t) - 0x7f800000) >> 63)
	return math.Float32frombits(bits &^ (mask & 0x80000000))
}

// sign is -1, 0 or 1 without branches (Max's gradient takes the Sign of differences whose signs
// are random, which a branch mispredicts): ±1 carries v's sign bit, and the mask keeps it only
// where |v|'s bits are in [1, +Inf], that is v is neither zero nor NaN.
func sign(v float32) float32 {
	bits := math.Float32bits(v)
	t := bits&0x7fffffff - 1 // a zero wraps to 0xffffffff
	mask := uint32((int64(t) - 0x7f800000) >> 63)
	return math.Float32frombits((bits&0x80000000 | 0x3f800000) & mask)
}
