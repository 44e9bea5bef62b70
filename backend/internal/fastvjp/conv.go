package fastvjp

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The gradient of ConvGeneral (graph.Convolve: GoMLX's layers, the ONNX importer, package nn on
// the pure-Go backend). GoMLX v0.26.0's own is wrong for even kernel sizes (its input gradient
// pads by (k-1)/2 twice where a full correlation needs k-1: a 1-D convolution of width 4 got a
// wrong saliency map), splits grouped convolutions into one convolution per group (one per
// channel for MobileNet's depthwise ones) and splits the gradient of a grouped kernel likewise.
// This one is, per spatial axis with kernel size K, kernel dilation d, stride s, padding lo and
// input size H (output size Ho):
//
//   - input gradient: the output gradient dilated by s, correlated with the kernel reversed along
//     its spatial axes (input and output channels swapped), padded by d(K-1)-lo before and
//     H-1-(Ho-1)s+lo after; one grouped convolution for depthwise kernels;
//   - kernel gradient: the input correlated with the output gradient, batch and channels swapped,
//     stride d, kernel dilation s, padding lo before and (K-1)d+(Ho-1)s+1-H-lo after (negative
//     when the last rows are never read); for depthwise kernels, one strided window of the
//     input per kernel tap times the output gradient, summed.
//
// What it cannot express (input dilation, batch groups, padding wider than the kernel) goes to
// GoMLX's own gradient where that is right, odd kernel sizes; convFallbacks counts those times.
// Where the stock gradient would be wrong (an even kernel size), or where the node's parameters
// cannot be read to tell (GoMLX's node layout changed), building the gradient fails with an error
// saying so, rather than giving a wrong map.

var (
	stockConv     = VJPRegistration[NodeTypeConvGeneral]
	convFallbacks atomic.Int64
)

func init() { VJPRegistration[NodeTypeConvGeneral] = convVJP }

// convFieldNames are the fields of GoMLX's ConvGeneral node inputs this reads (a test renames one).
var convFieldNames = [7]string{"axes", "strides", "paddings", "inputDilations", "kernelDilations", "channelGroupCount", "batchGroupCount"}

type convParams struct {
	axes                backends.ConvolveAxesConfig
	strides             []int
	paddings            [][2]int
	inputDil, kernelDil []int
	groups, batchGroups int
}

func readField[T any](v reflect.Value, name string) (T, bool) {
	var zero T
	f := v.FieldByName(name)
	if !f.IsValid() || f.Type() != reflect.TypeFor[T]() {
		return zero, false
	}
	return reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem().Interface().(T), true
}

func convNodeParams(node *Node) (p convParams, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	v := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !v.IsValid() || v.Kind() != reflect.Interface || v.IsNil() {
		return p, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return p, false
	}
	v = v.Elem()
	var oks [7]bool
	p.axes, oks[0] = readField[backends.ConvolveAxesConfig](v, convFieldNames[0])
	p.strides, oks[1] = readField[[]int](v, convFieldNames[1])
	p.paddings, oks[2] = readField[[][2]int](v, convFieldNames[2])
	p.inputDil, oks[3] = readField[[]int](v, convFieldNames[3])
	p.kernelDil, oks[4] = readField[[]int](v, convFieldNames[4])
	p.groups, oks[5] = readField[int](v, convFieldNames[5])
	p.batchGroups, oks[6] = readField[int](v, convFieldNames[6])
	for _, o := range oks {
		if !o {
			return p, false
		}
	}
	return p, true
}

// orOne returns s[i], or 1 if s is too short or s[i] < 1.
func orOne(s []int, i int) int {
	if i < len(s) && s[i] >= 1 {
		return s[i]
	}
	return 1
}

func convVJP(node *Node, vjps []*Node, outShape shapes.Shape) []*Node {
	if len(vjps) == 1 {
		if grads := convGrads(node, vjps[0]); grads != nil {
			return grads
		}
	}
	if err := stockConvIsWrong(node); err != nil {
		panic(err)
	}
	convFallbacks.Add(1)
	return stockConv(node, vjps, outShape)
}

// stockConvIsWrong returns why GoMLX v0.26.0's own convolution gradient cannot be trusted for
// node, or nil where it is right (every spatial kernel size odd).
func stockConvIsWrong(node *Node) error {
	p, ok := convNodeParams(node)
	inputs := node.Inputs()
	if !ok || len(inputs) != 2 {
		return fmt.Errorf("gradient of a convolution: its parameters cannot be read (GoMLX's ConvGeneral node changed?), " +
			"and GoMLX v0.26.0's own gradient is wrong for even kernel sizes: no gradient is given rather than a wrong one")
	}
	kd := inputs[1].Shape().Dimensions
	for _, a := range p.axes.KernelSpatial {
		if kd[a]%2 == 0 {
			return fmt.Errorf("gradient of a convolution with kernel %v (input dilation %v, batch groups %d, padding %v): "+
				"only GoMLX's own gradient expresses it, and GoMLX v0.26.0's is wrong for even kernel sizes", kd, p.inputDil, p.batchGroups, p.paddings)
		}
	}
	return nil
}

// convGrads returns the input and kernel gradients, or nil where the stock gradient must do.
func convGrads(node, v *Node) []*Node {
	p, ok := convNodeParams(node)
	inputs := node.Inputs()
	if !ok || len(inputs) != 2 || p.batchGroups > 1 {
		return nil
	}
	for i := range p.inputDil {
		if p.inputDil[i] > 1 {
			return nil
		}
	}
	x, k := inputs[0], inputs[1]
	ax := p.axes
	n := len(ax.InputSpatial)
	groups := max(p.groups, 1)
	kIn, kOut := k.Shape().Dimensions[ax.KernelInputChannels], k.Shape().Dimensions[ax.KernelOutputChannels]
	depthwise := groups > 1 && kIn == 1 && kOut == groups
	if groups > 1 && !depthwise {
		return nil
	}
	xd, kd, yd := x.Shape().Dimensions, k.Shape().Dimensions, node.Shape().Dimensions
	strides, dil := make([]int, n), make([]int, n)
	dxPad, dkPad := make([][2]int, n), make([][2]int, n)
	for i := range n {
		s, d := orOne(p.strides, i), orOne(p.kernelDil, i)
		var lo int
		if i < len(p.paddings) {
			lo = p.paddings[i][0]
		}
		K, H, Ho := kd[ax.KernelSpatial[i]], xd[ax.InputSpatial[i]], yd[ax.OutputSpatial[i]]
		strides[i], dil[i] = s, d
		dxPad[i] = [2]int{d*(K-1) - lo, H - 1 - (Ho-1)*s + lo}
		dkPad[i] = [2]int{lo, (K-1)*d + (Ho-1)*s + 1 - H - lo}
		if dxPad[i][0] < 0 || dxPad[i][1] < 0 || lo < 0 {
			return nil
		}
	}

	// Input gradient: v (laid out as the output) -> x's layout.
	revAxes := backends.ConvolveAxesConfig{
		InputBatch: ax.OutputBatch, InputChannels: ax.OutputChannels, InputSpatial: ax.OutputSpatial,
		KernelInputChannels: ax.KernelOutputChannels, KernelOutputChannels: ax.KernelInputChannels, KernelSpatial: ax.KernelSpatial,
		OutputBatch: ax.InputBatch, OutputChannels: ax.InputChannels, OutputSpatial: ax.InputSpatial,
	}
	if depthwise { // one channel per group: the kernel's channels stay where they are
		revAxes.KernelInputChannels, revAxes.KernelOutputChannels = ax.KernelInputChannels, ax.KernelOutputChannels
	}
	dx := ConvGeneral(v, Reverse(k, ax.KernelSpatial...), revAxes, nil, dxPad, strides, dil, groups, 1)
	if !slices.Equal(dx.Shape().Dimensions, xd) {
		return nil
	}

	// Kernel gradient.
	var dk *Node
	if depthwise {
		dk = depthwiseKernelGrad(x, v, ax, k.Shape().Dimensions, strides, dil, p.paddings)
	} else {
		kAxes := backends.ConvolveAxesConfig{
			InputBatch: ax.InputChannels, InputChannels: ax.InputBatch, InputSpatial: ax.InputSpatial,
			KernelInputChannels: ax.OutputBatch, KernelOutputChannels: ax.OutputChannels, KernelSpatial: ax.OutputSpatial,
			OutputBatch: ax.KernelInputChannels, OutputChannels: ax.KernelOutputChannels, OutputSpatial: ax.KernelSpatial,
		}
		dk = ConvGeneral(x, v, kAxes, dil, dkPad, nil, strides, 1, 1)
	}
	if dk == nil || !slices.Equal(dk.Shape().Dimensions, kd) {
		return nil
	}
	return []*Node{dx, dk}
}

// depthwiseKernelGrad is the gradient of a depthwise kernel: for each kernel tap, the input
// window that tap reads (strided, zero-padded) times v, summed over batch and positions. It needs
// the input and output in the same layout.
func depthwiseKernelGrad(x, v *Node, ax backends.ConvolveAxesConfig, kd, strides, dil []int, paddings [][2]int) *Node {
	if ax.InputBatch != ax.OutputBatch || ax.InputChannels != ax.OutputChannels || !slices.Equal(ax.InputSpatial, ax.OutputSpatial) {
		return nil
	}
	n := len(ax.InputSpatial)
	xd, vd := x.Shape().Dimensions, v.Shape().Dimensions
	// Pad x so that every tap's window is in range.
	pads := make([]PadAxis, x.Rank())
	for i, a := range ax.InputSpatial {
		lo := 0
		if i < len(paddings) {
			lo = paddings[i][0]
		}
		K := kd[ax.KernelSpatial[i]]
		need := (K-1)*dil[i] + (vd[a]-1)*strides[i] + 1 // padded extent the taps read
		pads[a] = PadAxis{Start: lo, End: max(0, need-lo-xd[a])}
	}
	xp := Pad(x, ScalarZero(x.Graph(), x.DType()), pads...)
	var sums []*Node
	sizes := make([]int, n)
	taps := 1
	for i := range n {
		sizes[i] = kd[ax.KernelSpatial[i]]
		taps *= sizes[i]
	}
	reduce := []int{ax.InputBatch}
	reduce = append(reduce, ax.InputSpatial...)
	for t := range taps {
		ranges := make([]SliceAxisSpec, x.Rank())
		for a := range ranges {
			ranges[a] = AxisRange()
		}
		rem := t
		for i := n - 1; i >= 0; i-- {
			k := rem % sizes[i]
			rem /= sizes[i]
			a := ax.InputSpatial[i]
			start := k * dil[i]
			ranges[a] = AxisRange(start, start+(vd[a]-1)*strides[i]+1).Stride(strides[i])
		}
		sums = append(sums, ReduceSum(Mul(Slice(xp, ranges...), v), reduce...)) // [C]
	}
	r := Stack(sums, 0) // [taps, C]
	// [K_0..K_{n-1}, C, 1] -> the kernel's axis order.
	dims := append(slices.Clone(sizes), kd[ax.KernelOutputChannels], 1)
	r = Reshape(r, dims...)
	perm := make([]int, len(kd))
	for i, a := range ax.KernelSpatial {
		perm[a] = i
	}
	perm[ax.KernelOutputChannels] = n
	perm[ax.KernelInputChannels] = n + 1
	return TransposeAllDims(r, perm...)
}
