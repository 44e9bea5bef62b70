// Package sgpoly wraps a GoMLX backend (meant for simplego, "go") and implements the ops it lacks
// that CNN gradients need -- Reverse, Pad, SelectAndScatterMax/Min -- in terms of ops simplego has
// (Slice, Concatenate, Reshape, BroadcastInDim, Equal, Where, logical ops, Add).
//
// Usage:
//
//	backend := sgpoly.Wrap(simplegoBackend)
//
// Adopted from the probe in ../shared/probes/gomlx-simplego and tied to gomlx v0.26.0: when
// simplego gains these ops, Wrap becomes unnecessary (the capability check in backend.New skips it).
// Why: in gomlx v0.26.0 graph.Gradient through Convolve calls Reverse (kernel flip), the gradient of
// Slice and of Sum/MeanPool calls Pad, and the gradient of MaxPool calls SelectAndScatterMax; simplego
// returns "not implemented" for all of them.
package sgpoly

import (
	"math"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Backend wraps another backend, overriding Builder() and Capabilities().
type Backend struct {
	backends.Backend
}

// Wrap returns a backend that delegates everything to b, but polyfills missing ops.
func Wrap(b backends.Backend) *Backend { return &Backend{Backend: b} }

func (b *Backend) Capabilities() backends.Capabilities {
	c := b.Backend.Capabilities().Clone()
	for _, op := range []backends.OpType{backends.OpTypePad, backends.OpTypeReverse,
		backends.OpTypeSelectAndScatterMax, backends.OpTypeSelectAndScatterMin} {
		c.Operations[op] = true
	}
	return c
}

func (b *Backend) Builder(name string) backends.Builder {
	return &Builder{Builder: b.Backend.Builder(name), zeros: map[Op]bool{}, scalars: map[Op]float32{}, reversed: map[Op]reversal{},
		ranges: map[Op]valueRange{}}
}

// Builder wraps a backends.Builder adding the polyfilled ops.
type Builder struct {
	backends.Builder
	zeros    map[Op]bool    // scalar constants equal to zero: Pad's fill, for the convolution path
	scalars  map[Op]float32 // float32 scalar constants: a ReLU's bounds, for UseAffine
	reversed map[Op]reversal
	ranges   map[Op]valueRange
}

// valueRange is a comparison's result: lo < x (hasLo), x < hi (hasHi), or both, bounds float32
// scalar constants (UseRangeWhere).
type valueRange struct {
	x            Op
	lo, hi       float32
	hasLo, hasHi bool
}

// RangeWhereBuilder builds Where(lo < x (&& x < hi with hasHi), onTrue, onFalse) as one op, or
// reports false.
type RangeWhereBuilder func(b backends.Builder, x Op, lo, hi float32, hasHi bool, onTrue, onFalse Op) (Op, bool)

// UseRangeWhere makes Where, given a condition this builder built as a range of a float32 value
// (a comparison with a scalar constant, or two anded: a ReLU rule's mask), ask build first
// (package backend passes internal/fastdot's, which tests the range as it reads the value): the
// comparisons are then never run. nil builds Where as it is asked.
func UseRangeWhere(build RangeWhereBuilder) { rangeWhereBuild.Store(&build) }

var rangeWhereBuild atomic.Pointer[RangeWhereBuilder]

// UseCompileRewrite makes Compile call rewrite with the graph's outputs first (package backend
// passes internal/fastdot's Fuse, which merges a convolution into the batch norm that alone
// reads it, and DeepLift's rescale rule into one node); nil compiles the graph as built.
func UseCompileRewrite(rewrite func(outputs []Op)) { compileRewrite.Store(&rewrite) }

var compileRewrite atomic.Pointer[func(outputs []Op)]

// Compile is the wrapped builder's, after the rewrite UseCompileRewrite set.
func (b *Builder) Compile(outputs []Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if r := compileRewrite.Load(); r != nil && *r != nil {
		(*r)(outputs)
	}
	return b.Builder.Compile(outputs, shardings)
}

// GreaterThan is the wrapped builder's; one with a float32 scalar constant is recorded as a range.
func (b *Builder) GreaterThan(lhs, rhs Op) (Op, error) {
	op, err := b.Builder.GreaterThan(lhs, rhs)
	if v, ok := b.scalars[rhs]; ok && err == nil {
		b.ranges[op] = valueRange{x: lhs, lo: v, hasLo: true}
	}
	return op, err
}

// LessThan is the wrapped builder's; one with a float32 scalar constant is recorded as a range.
func (b *Builder) LessThan(lhs, rhs Op) (Op, error) {
	op, err := b.Builder.LessThan(lhs, rhs)
	if v, ok := b.scalars[rhs]; ok && err == nil {
		b.ranges[op] = valueRange{x: lhs, hi: v, hasHi: true}
	}
	return op, err
}

// LogicalAnd is the wrapped builder's; the and of a lower and an upper bound of one value is
// recorded as their range.
func (b *Builder) LogicalAnd(lhs, rhs Op) (Op, error) {
	op, err := b.Builder.LogicalAnd(lhs, rhs)
	l, ok1 := b.ranges[lhs]
	r, ok2 := b.ranges[rhs]
	if err == nil && ok1 && ok2 && l.x == r.x && l.hasLo != r.hasLo && l.hasHi != r.hasHi {
		if r.hasLo {
			l, r = r, l
		}
		b.ranges[op] = valueRange{x: l.x, lo: l.lo, hi: r.hi, hasLo: true, hasHi: true}
	}
	return op, err
}

// Where is the wrapped builder's, or one op testing a recorded range (UseRangeWhere).
func (b *Builder) Where(cond, onTrue, onFalse Op) (Op, error) {
	if build := rangeWhereBuild.Load(); build != nil && *build != nil {
		if r, ok := b.ranges[cond]; ok && r.hasLo {
			if op, ok := (*build)(b.Builder, r.x, r.lo, r.hi, r.hasHi, onTrue, onFalse); ok {
				return op, nil
			}
		}
	}
	return b.Builder.Where(cond, onTrue, onFalse)
}

// reversal is what a Reverse reversed: operand x along axes (UseFlippedKernelConv).
type reversal struct {
	x    Op
	axes []int
}

// UseConvolutionPad, when on (package backend turns it on where internal/fastdot runs
// convolutions), makes a zero Pad of two axes of a rank-4 float32 tensor one depthwise convolution with a 1x1
// kernel of ones: input dilation is the interior padding, the convolution's padding the edges.
// That is one parallel pass where the polyfill below copies the tensor five times per axis, and
// it is what the gradient of a strided Slice (max pooling's windows) asks for.
func UseConvolutionPad(on bool) { convolutionPadOn.Store(on) }

var convolutionPadOn atomic.Bool

// SelectAndScatterBuilder builds a SelectAndScatterMax as an op of its own, or reports false.
type SelectAndScatterBuilder func(b backends.Builder, operand, source Op, window, strides []int, paddings [][2]int) (Op, bool)

// UseSelectAndScatter makes SelectAndScatterMax (the gradient of max pooling) ask build first
// (package backend passes internal/fastdot's, which runs it as one op), and build it from other
// ops only where build reports false; nil builds it from other ops always.
func UseSelectAndScatter(build SelectAndScatterBuilder) { selectAndScatterBuild.Store(&build) }

var selectAndScatterBuild atomic.Pointer[SelectAndScatterBuilder]

// AffineBuilders build a batch norm at inference, x*scale + shift per channel, and the clamps of
// the ReLU after it as one op: New builds Add(mul, shift), Clamp builds Max(op, bound) (isMax) or
// Min(op, bound) on such an op; each reports false where it does not apply.
type AffineBuilders struct {
	New   func(b backends.Builder, mul, shift Op) (Op, bool)
	Clamp func(b backends.Builder, op Op, bound float32, isMax bool) (Op, bool)
}

// UseAffine makes Add, Max and Min ask a first (package backend passes internal/fastdot's, which
// runs them as one pass); nil builds them as they are asked.
func UseAffine(a *AffineBuilders) { affineBuild.Store(a) }

var affineBuild atomic.Pointer[AffineBuilders]

// Add is the wrapped builder's, or an affine op (UseAffine).
func (b *Builder) Add(lhs, rhs Op) (Op, error) {
	if a := affineBuild.Load(); a != nil {
		if op, ok := a.New(b.Builder, lhs, rhs); ok {
			return op, nil
		}
	}
	return b.Builder.Add(lhs, rhs)
}

// Max is the wrapped builder's, or an affine op clamped below (UseAffine).
func (b *Builder) Max(lhs, rhs Op) (Op, error) {
	if op, ok := b.clamp(lhs, rhs, true); ok {
		return op, nil
	}
	return b.Builder.Max(lhs, rhs)
}

// Min is the wrapped builder's, or an affine op clamped above (UseAffine).
func (b *Builder) Min(lhs, rhs Op) (Op, error) {
	if op, ok := b.clamp(lhs, rhs, false); ok {
		return op, nil
	}
	return b.Builder.Min(lhs, rhs)
}

func (b *Builder) clamp(x, bound Op, isMax bool) (Op, bool) {
	a := affineBuild.Load()
	v, ok := b.scalars[bound]
	if a == nil || !ok {
		return nil, false
	}
	return a.Clamp(b.Builder, x, v, isMax)
}

// FlippedKernelBuilder rebuilds conv, a ConvGeneral just built, as one that reads its kernel
// reversed along both spatial axes, or reports false.
type FlippedKernelBuilder func(b backends.Builder, conv Op) (Op, bool)

// UseFlippedKernelConv makes ConvGeneral, given a kernel this builder's Reverse reversed along
// exactly its spatial axes (a convolution's input gradient), ask build for a convolution that
// reads the unreversed kernel with its taps in reverse order (package backend passes
// internal/fastdot's): the Reverse's copies are then never run. nil always convolves the
// reversed kernel.
func UseFlippedKernelConv(build FlippedKernelBuilder) { flippedKernelBuild.Store(&build) }

var flippedKernelBuild atomic.Pointer[FlippedKernelBuilder]

// convolutionPads counts the Pads built as convolutions (tests read it).
var convolutionPads atomic.Int64

// Constant records the scalar zeros it builds (see UseConvolutionPad) and the float32 scalars
// (see UseAffine).
func (b *Builder) Constant(flat any, dims ...int) (Op, error) {
	op, err := b.Builder.Constant(flat, dims...)
	if v, ok := flat.([]float32); ok && err == nil && len(dims) == 0 && len(v) == 1 {
		b.scalars[op] = v[0]
	}
	if err == nil && len(dims) == 0 {
		v := reflect.ValueOf(flat)
		if v.Kind() == reflect.Slice && v.Len() == 1 && v.Index(0).CanFloat() && v.Index(0).Float() == 0 {
			b.zeros[op] = true
		}
	}
	return op, err
}

// convolutionPad is Pad as a depthwise convolution (see UseConvolutionPad); ok is false where it
// does not apply.
func (b *Builder) convolutionPad(x, fill Op, axesConfig []backends.PadAxis) (op Op, ok bool, err error) {
	s := b.shape(x)
	if !convolutionPadOn.Load() || !b.zeros[fill] || s.Rank() != 4 || s.DType != dtypes.Float32 || s.Size() == 0 {
		return nil, false, nil
	}
	var padded, plain []int
	for axis := range 4 {
		if axis < len(axesConfig) && axesConfig[axis] != (backends.PadAxis{}) {
			padded = append(padded, axis)
		} else {
			plain = append(plain, axis)
		}
	}
	switch len(padded) {
	case 1: // an unpadded axis serves as the second spatial one
		padded, plain = append(padded, plain[0]), plain[1:]
	case 2:
	default:
		return nil, false, nil
	}
	c := s.Dimensions[plain[1]]
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	kernel, err := b.Builder.Constant(ones, 1, 1, 1, c)
	if err != nil {
		return nil, true, err
	}
	axes := backends.ConvolveAxesConfig{
		InputBatch: plain[0], InputChannels: plain[1], InputSpatial: padded,
		KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
		OutputBatch: plain[0], OutputChannels: plain[1], OutputSpatial: padded,
	}
	dil := make([]int, 2)
	pads := make([][2]int, 2)
	for i, axis := range padded {
		var cfg backends.PadAxis
		if axis < len(axesConfig) {
			cfg = axesConfig[axis]
		}
		dil[i] = cfg.Interior + 1
		pads[i] = [2]int{cfg.Start, cfg.End}
	}
	op, err = b.Builder.ConvGeneral(x, kernel, axes, []int{1, 1}, pads, dil, []int{1, 1}, c, 1)
	convolutionPads.Add(1)
	return op, true, err
}

type Op = backends.Op

func (b *Builder) shape(x Op) shapes.Shape {
	s, err := b.OpShape(x)
	if err != nil {
		panic(err)
	}
	return s
}

// sliceAxis slices x along one axis: [from, to) with stride.
func (b *Builder) sliceAxis(x Op, axis, from, to, stride int) (Op, error) {
	s := b.shape(x)
	starts := make([]int, s.Rank())
	limits := append([]int(nil), s.Dimensions...)
	strides := make([]int, s.Rank())
	for i := range strides {
		strides[i] = 1
	}
	starts[axis], limits[axis], strides[axis] = from, to, stride
	return b.Builder.Slice(x, starts, limits, strides)
}

// fillBlock broadcasts the scalar fill to the shape of x with axis dimension replaced by n.
func (b *Builder) fillBlock(fill Op, like shapes.Shape, axis, n int) (Op, error) {
	s := like.Clone()
	s.Dimensions[axis] = n
	return b.Builder.BroadcastInDim(fill, s, []int{})
}

// Reverse implemented with size-1 slices concatenated in reverse order (fine for small axes like
// kernels). Consecutive reversed axes are reversed as one: reversing axes i..j-1 is reversing the
// one axis of their product, so x is sliced at every combination of their indices (each slice
// reshaped to that one axis, which costs nothing: simplego reuses a buffer it owns) and the
// slices are concatenated in reverse order. That copies x twice (the slices, the concatenation)
// where an axis at a time copies it twice per axis; a convolution's input gradient reverses its
// kernel's two spatial axes, each tap one contiguous slice.
func (b *Builder) Reverse(x Op, axes ...int) (Op, error) {
	src := x
	defer func() {
		if len(axes) > 0 && x != src {
			b.reversed[x] = reversal{src, slices.Clone(axes)}
		}
	}()
	s := b.shape(x)
	reversed := make([]bool, s.Rank())
	for _, axis := range axes {
		if axis < 0 || axis >= s.Rank() {
			return nil, errors.Errorf("Reverse: axis %d out of range for a rank-%d operand", axis, s.Rank())
		}
		reversed[axis] = true
	}
	var err error
	for i := 0; i < s.Rank(); i++ {
		if !reversed[i] {
			continue
		}
		j, n := i, 1 // the run of reversed axes [i, j), n the product of their dimensions
		for ; j < s.Rank() && reversed[j]; j++ {
			n *= s.Dimensions[j]
		}
		if x, err = b.reverseRun(x, s.Dimensions, i, j, n); err != nil {
			return nil, err
		}
		i = j
	}
	return x, nil
}

// reverseRun reverses axes [i, j) of x (of dimensions dims), n elements of their index space.
func (b *Builder) reverseRun(x Op, dims []int, i, j, n int) (Op, error) {
	if n <= 1 {
		return x, nil
	}
	// A slice reshaped: the run's axes as one of size 1.
	one := append(append(append([]int(nil), dims[:i]...), 1), dims[j:]...)
	starts, limits, strides := make([]int, len(dims)), slices.Clone(dims), make([]int, len(dims))
	for a := range strides {
		strides[a] = 1
	}
	parts := make([]Op, n)
	for f := range n {
		for a, rest := j-1, f; a >= i; a-- { // f's index along each of the run's axes
			starts[a] = rest % dims[a]
			limits[a] = starts[a] + 1
			rest /= dims[a]
		}
		// Cloned: the builder keeps the slices it is given.
		part, err := b.Builder.Slice(x, slices.Clone(starts), slices.Clone(limits), slices.Clone(strides))
		if err == nil && j-i > 1 {
			part, err = b.Builder.Reshape(part, one...)
		}
		if err != nil {
			return nil, err
		}
		parts[n-1-f] = part
	}
	cat, err := b.Builder.Concatenate(i, parts...)
	if err != nil || j-i == 1 {
		return cat, err
	}
	return b.Builder.Reshape(cat, dims...)
}

// Pad implements XLA Pad semantics (interior first, then possibly-negative edge padding).
func (b *Builder) Pad(x, fill Op, axesConfig ...backends.PadAxis) (Op, error) {
	if op, ok, err := b.convolutionPad(x, fill, axesConfig); ok {
		return op, err
	}
	var err error
	for axis, cfg := range axesConfig {
		// Interior padding.
		if cfg.Interior > 0 {
			s := b.shape(x)
			n := s.Dimensions[axis]
			if n > 1 {
				// [pre..., n, post...] -> [pre..., n, 1, post...]
				dims := make([]int, 0, s.Rank()+1)
				dims = append(dims, s.Dimensions[:axis+1]...)
				dims = append(dims, 1)
				dims = append(dims, s.Dimensions[axis+1:]...)
				x5, err := b.Builder.Reshape(x, dims...)
				if err != nil {
					return nil, err
				}
				fb, err := b.fillBlock(fill, shapes.Make(s.DType, dims...), axis+1, cfg.Interior)
				if err != nil {
					return nil, err
				}
				x5, err = b.Builder.Concatenate(axis+1, x5, fb)
				if err != nil {
					return nil, err
				}
				flatDims := append([]int(nil), s.Dimensions...)
				flatDims[axis] = n * (1 + cfg.Interior)
				x, err = b.Builder.Reshape(x5, flatDims...)
				if err != nil {
					return nil, err
				}
				x, err = b.sliceAxis(x, axis, 0, n+(n-1)*cfg.Interior, 1)
				if err != nil {
					return nil, err
				}
			}
		}
		// Negative edges: crop.
		if cfg.Start < 0 || cfg.End < 0 {
			n := b.shape(x).Dimensions[axis]
			from, to := 0, n
			if cfg.Start < 0 {
				from = -cfg.Start
			}
			if cfg.End < 0 {
				to = n + cfg.End
			}
			if to < from {
				return nil, errors.Errorf("sgpoly.Pad: negative padding larger than dimension")
			}
			x, err = b.sliceAxis(x, axis, from, to, 1)
			if err != nil {
				return nil, err
			}
		}
		// Positive edges: concatenate fill blocks.
		if cfg.Start > 0 || cfg.End > 0 {
			s := b.shape(x)
			parts := make([]Op, 0, 3)
			if cfg.Start > 0 {
				fb, err := b.fillBlock(fill, s, axis, cfg.Start)
				if err != nil {
					return nil, err
				}
				parts = append(parts, fb)
			}
			parts = append(parts, x)
			if cfg.End > 0 {
				fb, err := b.fillBlock(fill, s, axis, cfg.End)
				if err != nil {
					return nil, err
				}
				parts = append(parts, fb)
			}
			x, err = b.Builder.Concatenate(axis, parts...)
			if err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

func (b *Builder) scalar(dtype dtypes.DType, v float64) (Op, error) {
	c, err := b.Builder.Constant([]float64{v})
	if err != nil {
		return nil, err
	}
	c, err = b.Builder.Reshape(c)
	if err != nil {
		return nil, err
	}
	if dtype != dtypes.Float64 {
		c, err = b.Builder.ConvertDType(c, dtype)
	}
	return c, err
}

func (b *Builder) SelectAndScatterMax(operand, source Op, windowDimensions, windowStrides []int, paddings [][2]int) (Op, error) {
	if build := selectAndScatterBuild.Load(); build != nil && *build != nil {
		if op, ok := (*build)(b.Builder, operand, source, windowDimensions, windowStrides, paddings); ok {
			return op, nil
		}
	}
	return b.selectAndScatter(true, operand, source, windowDimensions, windowStrides, paddings)
}

func (b *Builder) SelectAndScatterMin(operand, source Op, windowDimensions, windowStrides []int, paddings [][2]int) (Op, error) {
	return b.selectAndScatter(false, operand, source, windowDimensions, windowStrides, paddings)
}

// selectAndScatter: for each window, the FIRST element equal to the window max (min) receives the
// corresponding source value (XLA/PyTorch semantics); contributions of overlapping windows are summed.
func (b *Builder) selectAndScatter(isMax bool, operand, source Op, window, strides []int, paddings [][2]int) (Op, error) {
	xs := b.shape(operand)
	ss := b.shape(source)
	rank := xs.Rank()
	dtype := xs.DType
	if len(strides) == 0 {
		strides = window
	}
	if len(paddings) == 0 {
		paddings = make([][2]int, rank)
	}
	padVal := math.Inf(-1)
	if !isMax {
		padVal = math.Inf(1)
	}
	fillExtreme, err := b.scalar(dtype, padVal)
	if err != nil {
		return nil, err
	}
	zero, err := b.scalar(dtype, 0)
	if err != nil {
		return nil, err
	}
	padCfg := make([]backends.PadAxis, rank)
	for i := range padCfg {
		padCfg[i] = backends.PadAxis{Start: paddings[i][0], End: paddings[i][1]}
	}
	xp, err := b.Pad(operand, fillExtreme, padCfg...)
	if err != nil {
		return nil, err
	}
	pDims := b.shape(xp).Dimensions
	oDims := ss.Dimensions

	// Enumerate window offsets in row-major order.
	numOffsets := 1
	for _, w := range window {
		numOffsets *= w
	}
	offsets := make([][]int, 0, numOffsets)
	cur := make([]int, rank)
	for range numOffsets {
		offsets = append(offsets, append([]int(nil), cur...))
		for a := rank - 1; a >= 0; a-- {
			cur[a]++
			if cur[a] < window[a] {
				break
			}
			cur[a] = 0
		}
	}
	views := make([]Op, len(offsets))
	for i, k := range offsets {
		limits := make([]int, rank)
		for a := range rank {
			limits[a] = k[a] + (oDims[a]-1)*strides[a] + 1
		}
		views[i], err = b.Builder.Slice(xp, k, limits, strides)
		if err != nil {
			return nil, err
		}
	}
	// Window extreme.
	ext := views[0]
	for _, v := range views[1:] {
		if isMax {
			ext, err = b.Builder.Max(ext, v)
		} else {
			ext, err = b.Builder.Min(ext, v)
		}
		if err != nil {
			return nil, err
		}
	}
	zerosO, err := b.Builder.BroadcastInDim(zero, ss, []int{})
	if err != nil {
		return nil, err
	}
	var taken, acc Op
	for i, k := range offsets {
		eq, err := b.Builder.Equal(views[i], ext)
		if err != nil {
			return nil, err
		}
		sel := eq
		if taken != nil {
			notTaken, err := b.Builder.LogicalNot(taken)
			if err != nil {
				return nil, err
			}
			sel, err = b.Builder.LogicalAnd(eq, notTaken)
			if err != nil {
				return nil, err
			}
			taken, err = b.Builder.LogicalOr(taken, sel)
			if err != nil {
				return nil, err
			}
		} else {
			taken = eq
		}
		contrib, err := b.Builder.Where(sel, source, zerosO)
		if err != nil {
			return nil, err
		}
		cfg := make([]backends.PadAxis, rank)
		for a := range rank {
			used := k[a] + (oDims[a]-1)*strides[a] + 1
			cfg[a] = backends.PadAxis{Start: k[a], End: pDims[a] - used, Interior: strides[a] - 1}
		}
		g, err := b.Pad(contrib, zero, cfg...)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			acc = g
		} else {
			acc, err = b.Builder.Add(acc, g)
			if err != nil {
				return nil, err
			}
		}
	}
	// Remove the padding.
	for i := range padCfg {
		padCfg[i] = backends.PadAxis{Start: -paddings[i][0], End: -paddings[i][1]}
	}
	return b.Pad(acc, zero, padCfg...)
}

// ConvGeneral works around a simplego v0.26.0 bug: shape inference runs before nil strides are
// defaulted to 1, so Convolve() without .Strides(...) -- and every conv gradient built by
// graph.convVJPWrtX/convVJPWrtKernel -- fails with "stride[0]=0 must be >= 1".
// Needs len(strides)==0 check: graph passes nil.
func (b *Builder) ConvGeneral(input, kernel Op, axes backends.ConvolveAxesConfig, strides []int, paddings [][2]int,
	inputDilations, kernelDilations []int, channelGroupCount, batchGroupCount int) (Op, error) {
	ones := func(s []int) []int {
		if len(s) > 0 {
			return s
		}
		s = make([]int, len(axes.InputSpatial))
		for i := range s {
			s[i] = 1
		}
		return s
	}
	// Also: the "full" exec path (used when input dilations are set, e.g. the gradient of a strided conv)
	// indexes kernelDilations unconditionally -> "index out of range" panic when it is nil.
	strides, inputDilations, kernelDilations = ones(strides), ones(inputDilations), ones(kernelDilations)
	// Over a kernel reversed along its spatial axes, a convolution that reads the kernel before
	// the reversal (UseFlippedKernelConv).
	if build := flippedKernelBuild.Load(); build != nil && *build != nil {
		if r, ok := b.reversed[kernel]; ok && len(axes.KernelSpatial) == 2 && len(r.axes) == 2 &&
			slices.Contains(r.axes, axes.KernelSpatial[0]) && slices.Contains(r.axes, axes.KernelSpatial[1]) {
			conv, err := b.Builder.ConvGeneral(input, r.x, axes, strides, paddings, inputDilations, kernelDilations,
				channelGroupCount, batchGroupCount)
			if err != nil {
				return nil, err
			}
			if op, ok := (*build)(b.Builder, conv); ok {
				return op, nil
			}
		}
	}
	return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
		channelGroupCount, batchGroupCount)
}
