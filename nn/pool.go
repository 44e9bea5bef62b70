package nn

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Pool configures max and average pooling with PyTorch's meaning: a zero Stride means Kernel.
type Pool struct {
	Kernel  int
	Stride  int
	Padding int
	// Ceil is PyTorch's ceil_mode: a last, partial window is kept.
	Ceil bool
	// ExcludePad (average pooling) divides by the number of input elements in the window, not
	// the window size: PyTorch's count_include_pad=False.
	ExcludePad bool

	// KernelHW, when set, gives 2-D pooling a geometry per axis (height, width), as an ONNX
	// model may: StrideHW (zero entries mean the kernel) and Pads (top, left, bottom, right)
	// then take the place of Kernel, Stride and Padding.
	KernelHW, StrideHW [2]int
	Pads               [4]int
}

// window is pooling's geometry along one axis.
type window struct {
	kernel, stride, lo, hi int
	ceil                   bool
}

// axes returns the geometry along height and width, checked.
func (p Pool) axes(name string, x *graph.Node, rank int) (h, w window) {
	if x.Rank() != rank {
		panic(fmt.Sprintf("%s: input of rank %d expected inside the graph, got %s", name, rank, x.Shape()))
	}
	if p.KernelHW != [2]int{} && rank != 4 {
		panic(fmt.Sprintf("%s: KernelHW is for 2-D pooling; use Kernel, Stride and Padding", name))
	}
	if p.KernelHW != [2]int{} {
		for i := range 2 {
			if p.StrideHW[i] == 0 {
				p.StrideHW[i] = p.KernelHW[i]
			}
		}
		h = window{p.KernelHW[0], p.StrideHW[0], p.Pads[0], p.Pads[2], p.Ceil}
		w = window{p.KernelHW[1], p.StrideHW[1], p.Pads[1], p.Pads[3], p.Ceil}
	} else {
		if p.Stride == 0 {
			p.Stride = p.Kernel
		}
		if 2*p.Padding > p.Kernel {
			panic(fmt.Sprintf("%s: padding %d is more than half the kernel %d (PyTorch refuses it)", name, p.Padding, p.Kernel))
		}
		h = window{p.Kernel, p.Stride, p.Padding, p.Padding, p.Ceil}
		w = h
	}
	for _, a := range []window{h, w} {
		if a.kernel < 1 || a.stride < 1 || a.lo < 0 || a.hi < 0 || a.lo >= a.kernel || a.hi >= a.kernel {
			panic(fmt.Sprintf("%s: kernel %d, stride %d, padding %d/%d: pooling needs kernel >= 1, stride >= 1 and padding "+
				"smaller than the kernel", name, a.kernel, a.stride, a.lo, a.hi))
		}
	}
	return h, w
}

// size is the output length and the extra padding on the far side of a pooled axis.
func (a window) size(in int) (out, extra int) {
	span := in + a.lo + a.hi - a.kernel
	out = span/a.stride + 1
	if a.ceil && span%a.stride != 0 {
		out++
		// PyTorch: the last window must start inside the input or left padding.
		if (out-1)*a.stride >= in+a.lo {
			out--
		}
	}
	extra = max(0, (out-1)*a.stride+a.kernel-(in+a.lo+a.hi))
	return
}

// checkWindow panics (caught at the API as an error) when a pooling window does not fit.
func checkWindow(path string, d []int, ho, wo int, ph, pw window) {
	if ho < 1 || wo < 1 {
		panic(fmt.Sprintf("pooling %s: an input of %dx%d is smaller than the %dx%d window: the input is too small for this network",
			path, d[1], d[2], ph.kernel, pw.kernel))
	}
}

// MaxPool2D is PyTorch's MaxPool2d on NHWC, as a running Max over the window's strided views
// (gradient ties go to the first element of the window, as in PyTorch).
func (b *Builder) MaxPool2D(path string, x *graph.Node, p Pool) *graph.Node {
	ph, pw := p.axes("MaxPool2D "+path, x, 4)
	return b.Tap(path, b.maxPool(path, x, ph, pw))
}

// MaxPool1D is PyTorch's MaxPool1d on [B, L, C].
func (b *Builder) MaxPool1D(path string, x *graph.Node, p Pool) *graph.Node {
	_, pl := p.axes("MaxPool1D "+path, x, 3)
	d := x.Shape().Dimensions
	y := b.maxPool(path, graph.Reshape(x, d[0], 1, d[1], d[2]), window{kernel: 1, stride: 1}, pl)
	yd := y.Shape().Dimensions
	return b.Tap(path, graph.Reshape(y, yd[0], yd[2], yd[3]))
}

// maxPool is one ReduceWindow max over x, padded (ceil mode's extra row and column too) where the
// window reads nothing: its gradient, SelectAndScatterMax, gives each window's gradient to the
// window's first largest value, as PyTorch does, in one op where the pure-Go backend runs it
// (internal/fastdot; elsewhere package backend's polyfill). It computes what a running Max over
// the strided views of x padded with negInf computed (reduceWindows), forward and backward, bit
// for bit (TestMaxPoolMatchesRunningMax), in two passes instead of some thirty.
func (b *Builder) maxPool(path string, x *graph.Node, ph, pw window) *graph.Node {
	d := x.Shape().Dimensions
	ho, eh := ph.size(d[1])
	wo, ew := pw.size(d[2])
	checkWindow(path, d, ho, wo, ph, pw)
	y := graph.BackendReduceWindow(x, backends.ReduceOpMax, []int{1, ph.kernel, pw.kernel, 1}, []int{1, ph.stride, pw.stride, 1}, nil, nil,
		[][2]int{{0, 0}, {ph.lo, ph.hi + eh}, {pw.lo, pw.hi + ew}, {0, 0}})
	if yd := y.Shape().Dimensions; yd[1] != ho || yd[2] != wo { // windows past the last one PyTorch takes
		y = graph.Slice(y, graph.AxisRange(), graph.AxisRange(0, ho), graph.AxisRange(0, wo))
	}
	b.window(y, x, [2]int{ph.kernel, pw.kernel}, [2]int{ph.stride, pw.stride}, [2]int{1, 1}, [2]int{ph.lo, pw.lo})
	b.markNonNegative(y, b.allNonNegative(x))
	return y
}

// reduceWindows combines the pooling windows of NHWC x (padded with fill) element-wise by
// combine (graph.Max, graph.Add) and returns the result and its spatial size.
func (b *Builder) reduceWindows(path string, x *graph.Node, ph, pw window, fill float64, combine func(a, b *graph.Node) *graph.Node) (y *graph.Node, ho, wo int) {
	d := x.Shape().Dimensions
	ho, eh := ph.size(d[1])
	wo, ew := pw.size(d[2])
	checkWindow(path, d, ho, wo, ph, pw)
	xp := padHW(x, [2]int{ph.lo, pw.lo}, [2]int{ph.hi + eh, pw.hi + ew}, fill)
	for _, v := range windows(xp, [2]int{ph.kernel, pw.kernel}, [2]int{ph.stride, pw.stride}, [2]int{1, 1}, [2]int{ho, wo}) {
		if y == nil {
			y = v
		} else {
			y = combine(y, v)
		}
	}
	b.window(y, x, [2]int{ph.kernel, pw.kernel}, [2]int{ph.stride, pw.stride}, [2]int{1, 1}, [2]int{ph.lo, pw.lo})
	return y, ho, wo
}

// AvgPool2D is PyTorch's AvgPool2d on NHWC.
func (b *Builder) AvgPool2D(path string, x *graph.Node, p Pool) *graph.Node {
	ph, pw := p.axes("AvgPool2D "+path, x, 4)
	d := x.Shape().Dimensions
	pool := func(_ *graph.Node, xs ...*graph.Node) *graph.Node {
		y, ho, wo := b.reduceWindows(path, xs[0], ph, pw, 0, graph.Add)
		// PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the
		// input itself (ExcludePad).
		div := make([]float32, ho*wo)
		count := func(a window, start, in int) int {
			lo, hi := start-a.lo, min(start-a.lo+a.kernel, in+a.hi)
			if p.ExcludePad {
				lo, hi = max(lo, 0), min(hi, in)
			}
			return hi - lo
		}
		for i := range ho {
			for j := range wo {
				div[i*wo+j] = float32(count(ph, i*ph.stride, d[1]) * count(pw, j*pw.stride, d[2]))
			}
		}
		divisor := graph.ConvertDType(graph.Const(x.Graph(), div), x.DType())
		return graph.Div(y, graph.Reshape(divisor, 1, ho, wo, 1))
	}
	return b.Tap(path, b.pool(path, x, pool))
}

// pool builds an average pooling as a layer relevance propagation gives the Norm rule.
func (b *Builder) pool(path string, x *graph.Node, pool func(_ *graph.Node, xs ...*graph.Node) *graph.Node) *graph.Node {
	l := &lrpLayer{kind: AveragePooling, path: path, inputs: []*graph.Node{x}, apply: pool}
	y := b.hook(l, func(xs ...*graph.Node) *graph.Node { return pool(nil, xs...) })
	b.markNonNegative(y, b.allNonNegative(x))
	return y
}

// AdaptiveAvgPool2D is PyTorch's AdaptiveAvgPool2d((oh, ow)) on NHWC; the identity when the
// input already has that size (VGG and AlexNet at 224x224), where LRP still applies its rule. (1, 1) is global average pooling
// keeping the spatial axes, as torchvision's ResNets do before flattening.
func (b *Builder) AdaptiveAvgPool2D(path string, x *graph.Node, oh, ow int) *graph.Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("AdaptiveAvgPool2D %s: input must be [B, H, W, C] inside the graph, got %s", path, x.Shape()))
	}
	d := x.Shape().Dimensions
	if d[1] == oh && d[2] == ow {
		// Still a layer of LRP's: the Norm rule at the identity stabilizes (Zennit and Captum
		// apply it to the module whatever its size). Without LRP it adds no node.
		y := b.pool(path, x, func(_ *graph.Node, xs ...*graph.Node) *graph.Node { return xs[0] })
		if y != x {
			b.window(y, x, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, [2]int{})
		}
		return b.Tap(path, y)
	}
	if oh == 1 && ow == 1 {
		y := b.pool(path, x, func(_ *graph.Node, xs ...*graph.Node) *graph.Node {
			return graph.ReduceAndKeep(xs[0], graph.ReduceMean, 1, 2)
		})
		b.prov[y] = provenance{op: "gap", in: x}
		b.window(y, x, [2]int{d[1], d[2]}, [2]int{1, 1}, [2]int{1, 1}, [2]int{})
		return b.Tap(path, y)
	}
	adaptive := func(_ *graph.Node, xs ...*graph.Node) *graph.Node {
		rows := make([]*graph.Node, oh)
		for i := range oh {
			h0, h1 := i*d[1]/oh, ((i+1)*d[1]+oh-1)/oh
			cols := make([]*graph.Node, ow)
			for j := range ow {
				w0, w1 := j*d[2]/ow, ((j+1)*d[2]+ow-1)/ow
				cols[j] = graph.ReduceAndKeep(graph.Slice(xs[0], graph.AxisRange(), graph.AxisRange(h0, h1), graph.AxisRange(w0, w1)), graph.ReduceMean, 1, 2)
			}
			rows[i] = graph.Concatenate(cols, 2)
		}
		return graph.Concatenate(rows, 1)
	}
	// PyTorch's windows start at floor(i*in/out) and end at ceil((i+1)*in/out): exact when out
	// divides in, else the field recorded is the largest window's at the floored stride.
	y := b.pool(path, x, adaptive)
	b.window(y, x, [2]int{(d[1]+oh-1)/oh + min(d[1]%oh, 1), (d[2]+ow-1)/ow + min(d[2]%ow, 1)}, [2]int{d[1] / oh, d[2] / ow}, [2]int{1, 1}, [2]int{})
	return b.Tap(path, y)
}

// GlobalAvgPool averages every channel over its spatial positions (an image's H and W, a
// sequence's L): [B, C]. Followed by one Linear layer it makes a network CAM applies to.
func (b *Builder) GlobalAvgPool(path string, x *graph.Node) *graph.Node {
	if x.Rank() < 3 {
		panic(fmt.Sprintf("GlobalAvgPool %s: input must have spatial axes, got %s", path, x.Shape()))
	}
	axes := make([]int, x.Rank()-2)
	for i := range axes {
		axes[i] = i + 1
	}
	y := b.pool(path, x, func(_ *graph.Node, xs ...*graph.Node) *graph.Node { return graph.ReduceMean(xs[0], axes...) })
	b.prov[y] = provenance{op: "gap", in: x}
	return b.Tap(path, y)
}

// MaxOverTime is the maximum of every channel over a sequence's length (Kim's CNN for text,
// PyTorch's F.max_pool1d(x, L).squeeze(2)): [B, L, C] -> [B, C]. Gradient ties go to the first
// position, as in PyTorch.
func (b *Builder) MaxOverTime(path string, x *graph.Node) *graph.Node {
	if x.Rank() != 3 {
		panic(fmt.Sprintf("MaxOverTime %s: input must be a sequence batch [B, L, C] inside the graph, got %s", path, x.Shape()))
	}
	d := x.Shape().Dimensions
	y := b.maxPool(path, graph.Reshape(x, d[0], 1, d[1], d[2]), window{kernel: 1, stride: 1}, window{kernel: d[1], stride: d[1]})
	return b.Tap(path, graph.Reshape(y, d[0], d[2]))
}
