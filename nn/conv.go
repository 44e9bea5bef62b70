package nn

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Conv configures a convolution, with PyTorch's meaning and defaults: a zero Stride, Dilation or
// Groups means 1. Kernel, Stride, Padding and Dilation apply to both spatial axes (Conv2D) or to
// the length (Conv1D).
type Conv struct {
	Out      int // output channels
	Kernel   int
	Stride   int
	Padding  int // zeros on each side
	Dilation int
	Groups   int
	NoBias   bool // PyTorch's bias=False

	// KernelHW, when set, gives a 2-D convolution a geometry per axis (height, width): Inception's
	// 1x7 kernels, an ONNX model's asymmetric padding. StrideHW and DilationHW (zero entries
	// mean 1) and Pads (top, left, bottom, right) then take the place of Kernel, Stride,
	// Dilation and Padding.
	KernelHW, StrideHW, DilationHW [2]int
	Pads                           [4]int
}

func (c Conv) withDefaults() Conv {
	for _, p := range []*int{&c.Stride, &c.Dilation, &c.Groups, &c.StrideHW[0], &c.StrideHW[1], &c.DilationHW[0], &c.DilationHW[1]} {
		if *p == 0 {
			*p = 1
		}
	}
	return c
}

// geometry is the kernel, stride, dilation and padding (begin, end) per spatial axis.
func (c Conv) geometry() (k, stride, dil, lo, hi [2]int) {
	if c.KernelHW != [2]int{} {
		return c.KernelHW, c.StrideHW, c.DilationHW, [2]int{c.Pads[0], c.Pads[1]}, [2]int{c.Pads[2], c.Pads[3]}
	}
	both := func(v int) [2]int { return [2]int{v, v} }
	return both(c.Kernel), both(c.Stride), both(c.Dilation), both(c.Padding), both(c.Padding)
}

// Conv2D is PyTorch's Conv2d on x [B, H, W, C]: parameters path.weight ([Out, C/Groups, k, k])
// and, unless NoBias, path.bias ([Out]).
func (b *Builder) Conv2D(path string, x *graph.Node, c Conv) *graph.Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("Conv2D %s: input must be an image batch [B, H, W, C] inside the graph, got %s", path, x.Shape()))
	}
	c = c.withDefaults()
	in := x.Shape().Dimensions[3]
	k, stride, dil, lo, hi := c.geometry()
	return b.Tap(path, b.conv(path, x, c, []int{c.Out, in / max(c.Groups, 1), k[0], k[1]}, k, stride, lo, hi, dil))
}

// Conv1D is PyTorch's Conv1d on x [B, L, C]: parameters path.weight ([Out, C/Groups, k]) and,
// unless NoBias, path.bias ([Out]).
func (b *Builder) Conv1D(path string, x *graph.Node, c Conv) *graph.Node {
	if x.Rank() != 3 {
		panic(fmt.Sprintf("Conv1D %s: input must be a sequence batch [B, L, C] inside the graph, got %s", path, x.Shape()))
	}
	c = c.withDefaults()
	d := x.Shape().Dimensions
	y := b.conv(path, graph.Reshape(x, d[0], 1, d[1], d[2]), c, []int{c.Out, d[2] / max(c.Groups, 1), c.Kernel},
		[2]int{1, c.Kernel}, [2]int{1, c.Stride}, [2]int{0, c.Padding}, [2]int{0, c.Padding}, [2]int{1, c.Dilation})
	yd := y.Shape().Dimensions
	return b.Tap(path, graph.Reshape(y, yd[0], yd[2], yd[3]))
}

// conv computes a convolution on NHWC x with the given per-axis geometry (padding lo before, hi
// after); torch is the kernel's PyTorch shape (3-D for Conv1D).
func (b *Builder) conv(path string, x *graph.Node, c Conv, torch []int, k, stride, lo, hi, dil [2]int) *graph.Node {
	d := x.Shape().Dimensions
	in, groups, out := d[3], c.Groups, c.Out
	if groups < 1 || in%groups != 0 || out%groups != 0 {
		panic(fmt.Sprintf("convolution %s: %d input and %d output channels cannot be split in %d groups", path, in, out, groups))
	}
	var size [2]int
	for i := range 2 {
		size[i] = (d[1+i]+lo[i]+hi[i]-dil[i]*(k[i]-1)-1)/stride[i] + 1
		if size[i] < 1 || k[i] < 1 || stride[i] < 1 || dil[i] < 1 || lo[i] < 0 || hi[i] < 0 {
			panic(fmt.Sprintf("convolution %s: input %dx%d does not fit its kernel %dx%d (stride %v, padding %v/%v, dilation %v)",
				path, d[1], d[2], k[0], k[1], stride, lo, hi, dil))
		}
	}
	fanIn := in / groups * k[0] * k[1]
	depthwise := groups == in && groups == out && groups > 1
	layout := ConvKernel
	if depthwise {
		layout = DepthwiseKernel // PyTorch's [C, 1, kh, kw]
	}
	w := b.param(path+".weight", torch, layout, InitFanIn, fanIn, true)
	convolve := func(w *graph.Node, xs ...*graph.Node) *graph.Node {
		return b.convolve(xs[0], w, groups, k, stride, lo, hi, dil, size)
	}
	var bias *graph.Node
	if !c.NoBias {
		bias = b.param(path+".bias", []int{out}, AsIs, InitFanIn, fanIn, true)
	}
	l := &lrpLayer{kind: Convolution, path: path, inputs: []*graph.Node{x}, w: w, bias: bias, apply: convolve, nonNegative: b.allNonNegative(x)}
	y := b.hook(l, func(xs ...*graph.Node) *graph.Node {
		y := convolve(w, xs...)
		if bias != nil {
			y = graph.Add(y, graph.ExpandLeftToRank(bias, 4))
		}
		return y
	})
	b.lrpRecord(y, l)
	if bias != nil {
		b.bias(path, y, bias)
	}
	if groups == 1 && k == [2]int{1, 1} && lo == [2]int{} && hi == [2]int{} && stride == [2]int{1, 1} && dil == [2]int{1, 1} {
		b.prov[y] = provenance{op: "conv1x1", in: x, path: path}
	}
	b.window(y, x, k, stride, dil, lo)
	return y
}

// convolve is the convolution of NHWC x with the kernel w (in its stored layout) and the given
// geometry, without bias: what conv computes, and what LRP's rules recompute with modified
// kernels and inputs.
func (b *Builder) convolve(x, w *graph.Node, groups int, k, stride, lo, hi, dil, size [2]int) *graph.Node {
	d := x.Shape().Dimensions
	in, out := d[3], w.Shape().Dimensions[w.Rank()-1]
	depthwise := groups == in && groups == out && groups > 1
	var y *graph.Node
	switch {
	case b.cfg.Conv == Native || b.cfg.Conv == ConvolveDense && (groups == 1 || depthwise):
		w4 := w
		if dims := []int{k[0], k[1], in / groups, out}; !slices.Equal(w.Shape().Dimensions, dims) {
			w4 = graph.Reshape(w, dims...) // the same data in every stored layout
		}
		y = graph.Convolve(x, w4).StridePerDim(stride[0], stride[1]).PaddingPerDim([][2]int{{lo[0], hi[0]}, {lo[1], hi[1]}}).
			DilationPerDim(dil[0], dil[1]).ChannelGroupCount(groups).Done()
	case depthwise:
		views := windows(padHW(x, lo, hi, 0), k, stride, dil, size)
		for idx, v := range views {
			wi := graph.Reshape(graph.Slice(w, graph.AxisRange(idx/k[1], idx/k[1]+1), graph.AxisRange(idx%k[1], idx%k[1]+1)), 1, 1, 1, out)
			if y == nil {
				y = graph.Mul(v, wi)
			} else {
				y = graph.Add(y, graph.Mul(v, wi))
			}
		}
	default:
		var patches *graph.Node
		unpadded := lo == [2]int{} && hi == [2]int{}
		if k == [2]int{1, 1} && unpadded {
			patches = x
			if stride != [2]int{1, 1} {
				patches = graph.Slice(x, graph.AxisRange(), graph.AxisRange().Stride(stride[0]), graph.AxisRange().Stride(stride[1]))
			}
		} else {
			patches = graph.Concatenate(windows(padHW(x, lo, hi, 0), k, stride, dil, size), 3) // [B, ho, wo, kh*kw*in], (i, j, c) like HWIO
		}
		if groups == 1 {
			y = graph.Einsum("bhwk,ko->bhwo", patches, w) // w: [kh*kw*in, out]
			break
		}
		// Grouped: each group contracts its own channels of every window with its columns of w.
		ig, og := in/groups, out/groups
		pd := patches.Shape().Dimensions
		p := graph.Reshape(patches, pd[0], pd[1], pd[2], k[0]*k[1], groups, ig)
		w5 := graph.Reshape(w, k[0]*k[1], ig, groups, og)
		y = graph.Einsum("bhwkgi,kigo->bhwgo", p, w5)
		y = graph.Reshape(y, pd[0], pd[1], pd[2], out)
	}
	return y
}

// padHW pads the spatial axes of an NHWC tensor with fill: top/left by lo, bottom/right by hi.
// (Concatenate rather than Pad: the pure-Go backend has no Pad.)
func padHW(x *graph.Node, lo, hi [2]int, fill float64) *graph.Node {
	for i, axis := range []int{1, 2} {
		if lo[i] == 0 && hi[i] == 0 {
			continue
		}
		block := func(n int) *graph.Node {
			d := slices.Clone(x.Shape().Dimensions)
			d[axis] = n
			return graph.BroadcastToDims(graph.Scalar(x.Graph(), x.DType(), fill), d...)
		}
		parts := []*graph.Node{}
		if lo[i] > 0 {
			parts = append(parts, block(lo[i]))
		}
		parts = append(parts, x)
		if hi[i] > 0 {
			parts = append(parts, block(hi[i]))
		}
		x = graph.Concatenate(parts, axis)
	}
	return x
}

// windows returns the kh*kw strided views of x (NHWC, already padded) that a kernel of that
// size, stride and dilation sees, in row-major kernel order, each [B, ho, wo, C].
func windows(x *graph.Node, k, stride, dil, size [2]int) []*graph.Node {
	views := make([]*graph.Node, 0, k[0]*k[1])
	for i := 0; i < k[0]; i++ {
		for j := 0; j < k[1]; j++ {
			y0, x0 := i*dil[0], j*dil[1]
			views = append(views, graph.Slice(x, graph.AxisRange(),
				graph.AxisRange(y0, y0+(size[0]-1)*stride[0]+1).Stride(stride[0]),
				graph.AxisRange(x0, x0+(size[1]-1)*stride[1]+1).Stride(stride[1])))
		}
	}
	return views
}

// InternalShape is the shape a parameter has inside the graph. For Im2col convolutions a kernel
// is the matrix [kh*kw*I, O] (same data as [kh, kw, I, O]): a Reshape of a parameter would copy
// it on every call of the pure-Go backend.
func InternalShape(torch []int, l Layout, conv ConvImpl) []int {
	if l == AsIs {
		return slices.Clone(torch)
	}
	o, i, kh, kw := kernelDims(torch)
	switch {
	case l == ConvKernel && conv == Im2col:
		return []int{kh * kw * i, o}
	case l == ConvKernel:
		return []int{kh, kw, i, o}
	}
	return []int{kh, kw, o} // DepthwiseKernel
}

// kernelDims reads a PyTorch kernel shape, [O, I, kh, kw] or (1-D) [O, I, k].
func kernelDims(torch []int) (o, i, kh, kw int) {
	if len(torch) == 3 {
		return torch[0], torch[1], 1, torch[2]
	}
	return torch[0], torch[1], torch[2], torch[3]
}

// ToInternal converts a parameter's data from PyTorch's layout to the graph's.
func ToInternal(data []float32, torch []int, l Layout) []float32 {
	if l == AsIs {
		return data
	}
	out := make([]float32, len(data))
	eachLayoutIndex(torch, l, func(t, g int) { out[g] = data[t] })
	return out
}

// FromInternal converts a parameter's data from the graph's layout to PyTorch's.
func FromInternal(data []float32, torch []int, l Layout) []float32 {
	if l == AsIs {
		return data
	}
	out := make([]float32, len(data))
	eachLayoutIndex(torch, l, func(t, g int) { out[t] = data[g] })
	return out
}

// eachLayoutIndex calls fn with every element's index in PyTorch's layout (t) and in the graph's
// layout (g), for convolution kernels.
func eachLayoutIndex(torch []int, l Layout, fn func(t, g int)) {
	o, i, kh, kw := kernelDims(torch)
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					g := ((y*kw+x)*i+b)*o + a // [kh, kw, I, O]
					if l == DepthwiseKernel { // [kh, kw, C], I == 1
						g = (y*kw+x)*o + a
					}
					fn(((a*i+b)*kh+y)*kw+x, g)
				}
			}
		}
	}
}
