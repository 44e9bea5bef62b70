// Package fastdot makes GoMLX's pure-Go backend (simplego v0.26.0) run its float32 hot ops on
// internal/sgemm's AVX2/FMA kernels and plain loops instead of its scalar, per-element-indexed
// Go: DotGeneral (about 10x faster on convolution-shaped products, and no relayout of large fully
// connected weights), ConvGeneral (conv.go: im2col tiles packed for sgemm, forward and both
// gradients, plus a depthwise kernel) and broadcast Add, Sub, Mul and Max (binary.go: batch
// norm, biases, ReLU). Float64 DotGenerals run as gonum's Dgemm (float64.go), about 4x
// simplego's.
//
// simplego has no extension point for this: Install replaces entries of its unexported executor
// table (go:linkname) and reads its unexported Buffer and node parameters (reflect and unsafe,
// layouts checked at Install or on every call). This is tied to gomlx v0.26.0, pinned in go.mod;
// the tests fail loudly if a version changes them. Operations it cannot express, other dtypes,
// and CPUs without AVX2/FMA keep simplego's own executors (tested, with the fallback forced).
package fastdot

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
)

type executor = func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error)

//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]executor

// bufferLayout mirrors simplego.Buffer.
type bufferLayout struct {
	shape shapes.Shape
	valid bool
	flat  any
}

var (
	installOnce sync.Once
	installErr  error
	original    executor
	installed   atomic.Bool // set last by a successful Install: Installed reads only this

	// calls counts DotGenerals run by sgemm; fallbacks those handed back to simplego.
	calls, fallbacks atomic.Int64
)

// Counts are how many ops the executors ran and how many they handed back to simplego.
type Counts struct {
	Dot, DotFallbacks       int64
	Conv, ConvFallbacks     int64
	Binary, BinaryFallbacks int64
	MaxPools                int64 // max poolings and their gradients run in pool.go
	TransposedGradients     int64 // kernel gradients run by kernelGradientTransposed
	InPlaceSlivers          int64 // slivers of convolution patches read where they lie
	InPlaceKernels          int64 // convolution kernel matrices read where they lie, not packed
	KernelRows              int64 // convolutions run transposed, their kernel's rows read in place
	FlippedKernels          int64 // convolutions that read their kernel reversed where it lies
	RangeWheres             int64 // Wheres whose condition, a range of a float operand, is tested as it is read
	ConvAffines             int64 // convolutions run with their batch norm (and ReLU) as their epilogue
	Rescales                int64 // DeepLift's rescale rule run as one node
	Affine                  int64 // batch norms at inference (and the ReLUs after them) run as one pass
}

// Counted returns the counts so far (tests compare two of them).
func Counted() Counts {
	return Counts{Dot: calls.Load(), DotFallbacks: fallbacks.Load(), Conv: convCalls.Load(), ConvFallbacks: convFallbacks.Load(),
		Binary: binaryCalls.Load(), BinaryFallbacks: binaryFallbacks.Load(), MaxPools: poolCalls.Load(),
		TransposedGradients: transposedCalls.Load(), InPlaceSlivers: inPlaceCalls.Load(),
		InPlaceKernels: inPlaceKernelCalls.Load(), KernelRows: kernelRowsCalls.Load(),
		FlippedKernels: flippedCalls.Load(), RangeWheres: rangeWhereCalls.Load(),
		ConvAffines: convAffineCalls.Load(), Rescales: rescaleCalls.Load(), Affine: affineCalls.Load()}
}

// Install routes simplego's float32 DotGeneral to sgemm (float64 to gonum's Dgemm). It is
// idempotent; it returns an error (and changes nothing) if the CPU lacks AVX2/FMA or simplego's
// internals are not the expected ones.
func Install() error {
	installOnce.Do(func() {
		if !sgemm.Available() {
			installErr = fmt.Errorf("fastdot: CPU lacks AVX2/FMA")
			return
		}
		if installErr = checkLayouts(); installErr != nil {
			return
		}
		original = nodeExecutors[backends.OpTypeDotGeneral]
		if original == nil {
			installErr = fmt.Errorf("fastdot: simplego has no DotGeneral executor registered")
			return
		}
		convOriginal = nodeExecutors[backends.OpTypeConvGeneral]
		if convOriginal == nil {
			installErr = fmt.Errorf("fastdot: simplego has no ConvGeneral executor registered")
			return
		}
		nodeExecutors[backends.OpTypeDotGeneral] = guarded(backends.OpTypeDotGeneral, execDotGeneral)
		nodeExecutors[backends.OpTypeConvGeneral] = guarded(backends.OpTypeConvGeneral, execConvGeneral)
		installBinary()
		installCompare()
		installReduce()
		installSlice()
		installBroadcast()
		installTranspose()
		installConcatenate()
		installUnary()
		installPool()
		installAffine()
		installFlipped()
		installed.Store(true)
	})
	return installErr
}

// guarded is ex with a panic (a bug, or a worker's panic carried back by sgemm's parallel) returned as
// the executor's error. simplego runs executors on its own goroutines and recovers nothing there,
// so a panic would end the process (in GoNB, the kernel); as an error it reaches the caller of
// the graph's execution (Explain, the CLI, the notebook cell).
func guarded(op backends.OpType, ex executor) executor {
	return func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (out *simplego.Buffer, err error) {
		defer func() {
			if r := recover(); r != nil {
				out, err = nil, fmt.Errorf("the fast %s executor failed: %v", op, r)
			}
		}()
		return ex(backend, node, inputs, owned)
	}
}

// outputBuffer is the buffer an executor writes its output into: the first operand, in order,
// that the executor owns and whose buffer fits the output (fits[i]; nil: every one), taken from
// inputs (set to nil there, as simplego expects), or else a new buffer of shape. Element-wise
// executors read each value before they write it, so that they may compute in place.
func outputBuffer(backend *simplego.Backend, shape shapes.Shape, inputs []*simplego.Buffer, owned []bool, order []int, fits []bool) *simplego.Buffer {
	for _, i := range order {
		if owned[i] && (fits == nil || fits[i]) {
			out := inputs[i]
			inputs[i] = nil
			return out
		}
	}
	return backend.NewBuffer(shape)
}

// Installed reports whether Install succeeded (safe to call while another goroutine installs).
func Installed() bool { return installed.Load() }

// checkLayouts verifies the unexported structures this package reads.
func checkLayouts() error {
	bt := reflect.TypeFor[simplego.Buffer]()
	mt := reflect.TypeFor[bufferLayout]()
	if bt.Size() != mt.Size() || bt.NumField() != mt.NumField() {
		return fmt.Errorf("fastdot: simplego.Buffer layout changed")
	}
	for i := range bt.NumField() {
		a, b := bt.Field(i), mt.Field(i)
		if a.Name != b.Name || a.Offset != b.Offset || a.Type != b.Type {
			return fmt.Errorf("fastdot: simplego.Buffer field %d is %s %s, expected %s %s", i, a.Name, a.Type, b.Name, b.Type)
		}
	}
	nt := reflect.TypeFor[simplego.Node]()
	for name, kind := range map[string]reflect.Kind{"shape": reflect.Struct, "data": reflect.Interface} {
		f, ok := nt.FieldByName(name)
		if !ok || f.Type.Kind() != kind {
			return fmt.Errorf("fastdot: simplego.Node has no %s field of kind %s", name, kind)
		}
	}
	if f, _ := nt.FieldByName("shape"); f.Type != reflect.TypeFor[shapes.Shape]() {
		return fmt.Errorf("fastdot: simplego.Node.shape is %s", f.Type)
	}
	if f, _ := nt.FieldByName("data"); f.Type != reflect.TypeFor[any]() {
		return fmt.Errorf("fastdot: simplego.Node.data is %s", f.Type)
	}
	return nil
}

func flat(b *simplego.Buffer) any { return (*bufferLayout)(unsafe.Pointer(b)).flat }

func nodeShape(n *simplego.Node) shapes.Shape {
	f := reflect.ValueOf(n).Elem().FieldByName("shape")
	return *(*shapes.Shape)(unsafe.Pointer(f.UnsafeAddr()))
}

// nodeData is the struct simplego keeps a node's parameters in (its data field: a pointer to a
// struct of the op's), for field to read; false when the node holds none.
func nodeData(n *simplego.Node) (reflect.Value, bool) {
	d := reflect.ValueOf(n).Elem().FieldByName("data")
	if !d.IsValid() || d.IsNil() {
		return reflect.Value{}, false
	}
	return dataStruct(d.Elem())
}

// dataStruct is the struct a node's data points to (d, the data as a reflect.Value of its
// dynamic type); false when it is no pointer to a struct.
func dataStruct(d reflect.Value) (reflect.Value, bool) {
	if d.Kind() != reflect.Pointer || d.IsNil() || d.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	return d.Elem(), true
}

// nodeValue is a node's data field as it is: what NewSelectAndScatterMax and NewAffine set, or
// the value a view op keeps; false if simplego had no such field.
func nodeValue(n *simplego.Node) (any, bool) { return field[any](reflect.ValueOf(n).Elem(), "data") }

// setNodeData sets a node's data field (checkLayouts made sure it is an any).
func setNodeData(n *simplego.Node, v any) {
	*(*any)(unsafe.Pointer(reflect.ValueOf(n).Elem().FieldByName("data").UnsafeAddr())) = v
}

// params holds what execDotGeneral needs of simplego's dotGeneralNodeData.
type params struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
}

func nodeParams(n *simplego.Node) (params, bool) {
	d, found := nodeData(n)
	if !found {
		return params{}, false
	}
	ints := func(name string) ([]int, bool) {
		f := d.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
			return nil, false
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out, true
	}
	var p params
	var ok [4]bool
	p.lhsContract, ok[0] = ints("lhsContractingAxes")
	p.lhsBatch, ok[1] = ints("lhsBatchAxes")
	p.rhsContract, ok[2] = ints("rhsContractingAxes")
	p.rhsBatch, ok[3] = ints("rhsBatchAxes")
	return p, ok[0] && ok[1] && ok[2] && ok[3]
}

// mergedStride returns the stride of the axes (in the given order) merged into one row-major index,
// or false if they are not consecutive in memory in that order. Axes of size 1 are ignored.
func mergedStride(dims, axes []int) (int, bool) {
	strides := make([]int, len(dims))
	s := 1
	for i := len(dims) - 1; i >= 0; i-- {
		strides[i] = s
		s *= dims[i]
	}
	var kept []int
	for _, a := range axes {
		if dims[a] != 1 {
			kept = append(kept, a)
		}
	}
	if len(kept) == 0 {
		return 0, true
	}
	for i := 0; i+1 < len(kept); i++ {
		if strides[kept[i]] != strides[kept[i+1]]*dims[kept[i+1]] {
			return 0, false
		}
	}
	return strides[kept[len(kept)-1]], true
}

func crossAxes(rank int, contract, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contract {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var out []int
	for a := range rank {
		if !used[a] {
			out = append(out, a)
		}
	}
	return out
}

// operand is one side of a DotGeneral as strides of its merged batch, cross and contracting axes.
type operand[T float32 | float64] struct {
	data                              []T
	batchStride, crossStride, kStride int
}

func makeOperand[T float32 | float64](data []T, dims, contract, batch []int) (operand[T], bool) {
	op := operand[T]{data: data}
	var ok [3]bool
	op.batchStride, ok[0] = mergedStride(dims, batch)
	op.crossStride, ok[1] = mergedStride(dims, crossAxes(len(dims), contract, batch))
	op.kStride, ok[2] = mergedStride(dims, contract)
	return op, ok[0] && ok[1] && ok[2]
}

func execDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	out, handled, err := tryDotGeneral(backend, node, inputs)
	if handled {
		calls.Add(1)
		return out, err
	}
	fallbacks.Add(1)
	return original(backend, node, inputs, owned)
}

func tryDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool, error) {
	if len(inputs) != 2 {
		return nil, false, nil
	}
	if _, ok := flat(inputs[0]).([]float64); ok {
		if float64Off.Load() {
			return nil, false, nil
		}
		return tryDotGeneralFloat64(backend, node, inputs)
	}
	d, ok := makeDot[float32](backend, node, inputs)
	if !ok {
		return nil, false, nil
	}
	out, outData, err := d.output(backend)
	if err != nil {
		return nil, true, err
	}
	clear(outData)
	for b := range d.batch {
		a := sgemm.Matrix{Data: d.lhs.data, Off: b * d.lhs.batchStride, RowStride: d.lhs.crossStride, ColStride: d.lhs.kStride}
		bm := sgemm.Matrix{Data: d.rhs.data, Off: b * d.rhs.batchStride, RowStride: d.rhs.kStride, ColStride: d.rhs.crossStride}
		if err := sgemm.MulAdd(d.m, d.n, d.k, a, bm, outData, b*d.m*d.n, d.n); err != nil {
			return nil, true, fmt.Errorf("fastdot: DotGeneral %s x %s: %w", d.lhsShape, d.rhsShape, err)
		}
	}
	return out, true, nil
}

// dot is a DotGeneral node as batch products of strided matrices, [m, k] x [k, n] -> [m, n].
type dot[T float32 | float64] struct {
	lhs, rhs                     operand[T]
	lhsShape, rhsShape, outShape shapes.Shape
	batch, m, n, k               int
}

// makeDot reads a DotGeneral of two []T operands; ok is false when the node is of another dtype
// or its axes cannot be expressed as strided matrices.
func makeDot[T float32 | float64](backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (d dot[T], ok bool) {
	lhsData, ok1 := flat(inputs[0]).([]T)
	rhsData, ok2 := flat(inputs[1]).([]T)
	p, ok3 := nodeParams(node)
	if !ok1 || !ok2 || !ok3 {
		return d, false
	}
	var err1, err2 error
	d.lhsShape, err1 = backend.BufferShape(inputs[0])
	d.rhsShape, err2 = backend.BufferShape(inputs[1])
	d.outShape = nodeShape(node)
	if err1 != nil || err2 != nil || d.outShape.DType != dtypes.FromGenericsType[T]() || d.outShape.Rank() != 3 {
		return d, false
	}
	d.lhs, ok1 = makeOperand(lhsData, d.lhsShape.Dimensions, p.lhsContract, p.lhsBatch)
	d.rhs, ok2 = makeOperand(rhsData, d.rhsShape.Dimensions, p.rhsContract, p.rhsBatch)
	if !ok1 || !ok2 {
		return d, false
	}
	d.batch, d.m, d.n, d.k = d.outShape.Dimensions[0], d.outShape.Dimensions[1], d.outShape.Dimensions[2], 1
	for _, a := range p.lhsContract {
		d.k *= d.lhsShape.Dimensions[a]
	}
	return d, true
}

// output is a new buffer for the product, and its values.
func (d dot[T]) output(backend *simplego.Backend) (*simplego.Buffer, []T, error) {
	out := backend.NewBuffer(d.outShape)
	data, ok := flat(out).([]T)
	if !ok || len(data) != d.batch*d.m*d.n {
		return nil, nil, fmt.Errorf("fastdot: output buffer of DotGeneral %s is not a []%s of %d", d.outShape, d.outShape.DType, d.batch*d.m*d.n)
	}
	return out, data, nil
}
