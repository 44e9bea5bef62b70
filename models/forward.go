package models

import (
	"fmt"
	"math"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Rule says how ReLU-family activations (ReLU, ReLU6) pass gradients backwards. It is what
// distinguishes plain gradients from guided backpropagation and the deconvnet.
//
// With x the activation's input, v the gradient arriving at its output and u the upper clip
// (6 for ReLU6, none for ReLU):
//
//	Backprop:  v * [0 < x < u]            (the true gradient, 0 at the kinks as in PyTorch)
//	Guided:    v * [0 < x < u] * [v > 0]  (Springenberg et al.)
//	Deconvnet: v * [v > 0]                (Zeiler & Fergus)
type Rule int

const (
	// Backprop is the true gradient.
	Backprop Rule = iota
	// Guided is guided backpropagation.
	Guided
	// Deconvnet is the deconvnet's backward ReLU.
	Deconvnet
)

// String returns the rule's name.
func (r Rule) String() string {
	switch r {
	case Backprop:
		return "backprop"
	case Guided:
		return "guided"
	case Deconvnet:
		return "deconvnet"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// Forward is the symbolic result of running a model on a batch of images inside a graph: the
// logits and every named intermediate activation ("tap"), plus a way to take gradients under a
// chosen ReLU rule.
//
// One Forward serves every method of an explanation: Grad-CAM takes Gradient(y, Backprop,
// tap), guided backprop takes Gradient(y, Guided, input), both on the same forward nodes, so
// the network is evaluated once.
type Forward struct {
	// Input is the NCHW image batch the forward was built on.
	Input *Node
	// Logits are the pre-softmax class scores, [batch, classes].
	Logits *Node

	taps  map[string]*Node // NHWC for spatial activations, [batch, features] otherwise.
	order []string
	rule  *Rule // read by the ReLU custom gradients while Gradient builds the backward graph.
}

// Tap returns the activation produced by the torchvision module with this path ("layer4",
// "features.29"). Spatial activations are NCHW, as in PyTorch: the result is a transposed copy,
// so take gradients with respect to TapNHWC's node, which the logits depend on (a gradient to
// Tap's copy is zero).
func (f *Forward) Tap(name string) (*Node, error) {
	x, ok := f.taps[name]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q; valid layers: %s", name, strings.Join(f.order, ", "))
	}
	if x.Rank() == 4 {
		return TransposeAllAxes(x, 0, 3, 1, 2), nil
	}
	return x, nil
}

// TapNHWC is Tap without the layout change: spatial activations are returned NHWC, the layout
// the graph computes in. Gradients taken to it are NHWC too.
func (f *Forward) TapNHWC(name string) (*Node, error) {
	x, ok := f.taps[name]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q; valid layers: %s", name, strings.Join(f.order, ", "))
	}
	return x, nil
}

// TapNames lists the tapped module paths in forward order.
func (f *Forward) TapNames() []string { return slices.Clone(f.order) }

// Gradient returns the gradients of the scalar y with respect to each node in wrt, with every
// ReLU-family activation passing gradients back by rule. Gradients reach only as deep as the
// deepest node in wrt: a gradient to "layer4" never touches the layers before it.
func (f *Forward) Gradient(y *Node, rule Rule, wrt ...*Node) []*Node {
	saved := *f.rule
	*f.rule = rule
	defer func() { *f.rule = saved }()
	return Gradient(y, wrt...)
}

// net is the graph-building state shared by the architecture definitions.
type net struct {
	g     *Graph
	param func(key string, shape []int, layout layout) *Node
	conv  convImpl
	plain bool // forward only: plain ReLUs, no custom gradients.
	fw    *Forward
}

// layout says how a parameter is stored inside the graph relative to torchvision's layout.
type layout int

const (
	asIs      layout = iota
	convHWIO         // torchvision [O, I, kh, kw] -> [kh, kw, I, O]
	depthwise        // torchvision [C, 1, kh, kw] -> [kh, kw, C]
)

// convImpl says how convolutions are computed.
type convImpl int

const (
	// im2col: strided slices concatenated and contracted with one DotGeneral, which the pure-Go
	// backend parallelizes (its Convolve is single-threaded and ~10x slower).
	im2col convImpl = iota
	// native: graph.Convolve, what XLA compiles best.
	native
)

func newNet(g *Graph, param func(string, []int, layout) *Node, conv convImpl, plain bool) *net {
	r := Backprop
	return &net{g: g, param: param, conv: conv, plain: plain,
		fw: &Forward{taps: map[string]*Node{}, rule: &r}}
}

// tap records x as the output of the module at path.
func (n *net) tap(path string, x *Node) *Node {
	if _, dup := n.fw.taps[path]; !dup {
		n.fw.order = append(n.fw.order, path)
	}
	n.fw.taps[path] = x
	return x
}

func join(parts ...any) string {
	s := make([]string, 0, len(parts))
	for _, p := range parts {
		if str := fmt.Sprint(p); str != "" {
			s = append(s, str)
		}
	}
	return strings.Join(s, ".")
}

// relu applies ReLU (upper == 0) or ReLU6 (upper == 6).
//
// Its gradient is set by the Forward's current Rule. The output is built as
// StopGradient(act(x)) + (xi - StopGradient(x)), where xi is x behind an identity with a custom
// gradient: the forward value is exactly act(x), and the whole backward pass of the activation
// is the rule (the deconvnet rule must pass gradients where x < 0, which the gradient of Max
// would block).
func (n *net) relu(x *Node, upper float64) *Node {
	var y *Node
	if upper > 0 {
		y = Min(Max(x, ScalarZero(n.g, x.DType())), Scalar(n.g, x.DType(), upper))
	} else {
		y = Max(x, ScalarZero(n.g, x.DType()))
	}
	if n.plain {
		return y
	}
	rule := n.fw.rule
	xi := IdentityWithCustomGradient(x, func(x, v *Node) *Node {
		zero := ZerosLike(v)
		var pass *Node
		switch *rule {
		case Deconvnet:
			pass = GreaterThan(v, zero)
		case Guided:
			pass = LogicalAnd(inside(x, upper), GreaterThan(v, zero))
		default:
			pass = inside(x, upper)
		}
		return Where(pass, v, zero)
	})
	return Add(StopGradient(y), Sub(xi, StopGradient(x)))
}

// inside is 0 < x (< upper when upper > 0): where ReLU or ReLU6 passes gradients.
func inside(x *Node, upper float64) *Node {
	m := GreaterThan(x, ZerosLike(x))
	if upper > 0 {
		m = LogicalAnd(m, LessThan(x, Scalar(x.Graph(), x.DType(), upper)))
	}
	return m
}

// padHW pads the spatial axes of an NHWC tensor with fill: top/left by lo, bottom/right by hi.
// (Concatenate rather than Pad: the pure-Go backend has no Pad.)
func padHW(x *Node, lo, hi [2]int, fill float64) *Node {
	for i, axis := range []int{1, 2} {
		if lo[i] == 0 && hi[i] == 0 {
			continue
		}
		block := func(n int) *Node {
			d := slices.Clone(x.Shape().Dimensions)
			d[axis] = n
			return BroadcastToDims(Scalar(x.Graph(), x.DType(), fill), d...)
		}
		parts := []*Node{}
		if lo[i] > 0 {
			parts = append(parts, block(lo[i]))
		}
		parts = append(parts, x)
		if hi[i] > 0 {
			parts = append(parts, block(hi[i]))
		}
		x = Concatenate(parts, axis)
	}
	return x
}

// windows returns the kh*kw strided views of x (NHWC, already padded) that a kernel of that size
// and stride sees, in row-major kernel order, each [B, ho, wo, C].
func windows(x *Node, kh, kw, stride, ho, wo int) []*Node {
	views := make([]*Node, 0, kh*kw)
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			views = append(views, Slice(x, AxisRange(),
				AxisRange(i, i+(ho-1)*stride+1).Stride(stride),
				AxisRange(j, j+(wo-1)*stride+1).Stride(stride)))
		}
	}
	return views
}

// conv2d is torchvision's Conv2d on an NHWC tensor: parameters key.weight ([out, in/groups, k, k])
// and, with bias, key.bias. Only groups == 1 and depthwise (groups == in == out) occur in the zoo.
func (n *net) conv2d(key string, x *Node, out, k, stride, pad, groups int, bias bool) *Node {
	d := x.Shape().Dimensions
	in := d[3]
	ho := (d[1]+2*pad-k)/stride + 1
	wo := (d[2]+2*pad-k)/stride + 1
	var y *Node
	switch {
	case groups == in && groups == out && groups > 1:
		w := n.param(key+".weight", []int{out, 1, k, k}, depthwise) // [k, k, C]
		if n.conv == native {
			y = Convolve(x, Reshape(w, k, k, 1, out)).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).
				ChannelGroupCount(groups).Done()
			break
		}
		views := windows(padHW(x, [2]int{pad, pad}, [2]int{pad, pad}, 0), k, k, stride, ho, wo)
		for idx, v := range views {
			wi := Reshape(Slice(w, AxisRange(idx/k, idx/k+1), AxisRange(idx%k, idx%k+1)), 1, 1, 1, out)
			if y == nil {
				y = Mul(v, wi)
			} else {
				y = Add(y, Mul(v, wi))
			}
		}
	case groups == 1:
		w := n.param(key+".weight", []int{out, in, k, k}, convHWIO) // see internalShape
		if n.conv == native {
			if w.Rank() == 2 { // weights loaded for im2col (a test switches a model to native)
				w = Reshape(w, k, k, in, out)
			}
			y = Convolve(x, w).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
			break
		}
		var patches *Node
		if k == 1 && pad == 0 {
			patches = x
			if stride > 1 {
				patches = Slice(x, AxisRange(), AxisRange().Stride(stride), AxisRange().Stride(stride))
			}
		} else {
			views := windows(padHW(x, [2]int{pad, pad}, [2]int{pad, pad}, 0), k, k, stride, ho, wo)
			patches = Concatenate(views, 3) // [B, ho, wo, k*k*in], ordered (i, j, c) like HWIO.
		}
		y = Einsum("bhwk,ko->bhwo", patches, w) // w: [k*k*in, out]
	default:
		panic(fmt.Sprintf("conv2d %s: groups=%d with %d input channels is not supported", key, groups, in))
	}
	if bias {
		y = Add(y, ExpandLeftToRank(n.param(key+".bias", []int{out}, asIs), 4))
	}
	return y
}

// batchNorm is torchvision's BatchNorm2d in inference mode: a per-channel scale and shift from
// the running statistics (eps 1e-5).
func (n *net) batchNorm(key string, x *Node) *Node {
	c := x.Shape().Dimensions[3]
	w := n.param(key+".weight", []int{c}, asIs)
	b := n.param(key+".bias", []int{c}, asIs)
	mean := n.param(key+".running_mean", []int{c}, asIs)
	variance := n.param(key+".running_var", []int{c}, asIs)
	scale := Mul(w, Rsqrt(AddScalar(variance, 1e-5)))
	shift := Sub(b, Mul(mean, scale))
	return Add(Mul(x, ExpandLeftToRank(scale, 4)), ExpandLeftToRank(shift, 4))
}

// linear is torchvision's Linear: weight [out, in], bias [out].
func (n *net) linear(key string, x *Node, out int) *Node {
	in := x.Shape().Dimensions[1]
	w := n.param(key+".weight", []int{out, in}, asIs)
	b := n.param(key+".bias", []int{out}, asIs)
	return Add(Einsum("bi,oi->bo", x, w), ExpandLeftToRank(b, 2))
}

// maxPool is torchvision's MaxPool2d on NHWC, as a running Max over the window's strided views
// (gradient ties go to the first element of the window, as in PyTorch). ceil keeps a last,
// partial window as PyTorch's ceil_mode does.
func (n *net) maxPool(x *Node, k, stride, pad int, ceil bool) *Node {
	d := x.Shape().Dimensions
	size := func(in int) (out, extra int) {
		span := in + 2*pad - k
		out = span/stride + 1
		if ceil && span%stride != 0 {
			out++
			// PyTorch: the last window must start inside the input or left padding.
			if (out-1)*stride >= in+pad {
				out--
			}
		}
		extra = max(0, (out-1)*stride+k-(in+2*pad))
		return
	}
	ho, eh := size(d[1])
	wo, ew := size(d[2])
	xp := padHW(x, [2]int{pad, pad}, [2]int{pad + eh, pad + ew}, negInf)
	var y *Node
	for _, v := range windows(xp, k, k, stride, ho, wo) {
		if y == nil {
			y = v
		} else {
			y = Max(y, v)
		}
	}
	return y
}

// negInf pads max pooling windows: the lowest finite float32, not -Inf, so that the gradient of
// Max between two padded positions (which subtracts them) is 0, never NaN.
const negInf = -math.MaxFloat32

// adaptiveAvgPool is torchvision's AdaptiveAvgPool2d((oh, ow)) on NHWC; the identity when the
// input already has that size (VGG and AlexNet at 224x224).
func adaptiveAvgPool(x *Node, oh, ow int) *Node {
	d := x.Shape().Dimensions
	if d[1] == oh && d[2] == ow {
		return x
	}
	if oh == 1 && ow == 1 {
		return ReduceAndKeep(x, ReduceMean, 1, 2)
	}
	rows := make([]*Node, oh)
	for i := range oh {
		h0, h1 := i*d[1]/oh, ((i+1)*d[1]+oh-1)/oh
		cols := make([]*Node, ow)
		for j := range ow {
			w0, w1 := j*d[2]/ow, ((j+1)*d[2]+ow-1)/ow
			cols[j] = ReduceAndKeep(Slice(x, AxisRange(), AxisRange(h0, h1), AxisRange(w0, w1)), ReduceMean, 1, 2)
		}
		rows[i] = Concatenate(cols, 2)
	}
	return Concatenate(rows, 1)
}

// flattenNCHW flattens an NHWC tensor in PyTorch's NCHW order, so Linear weights line up.
func flattenNCHW(x *Node) *Node {
	x = TransposeAllAxes(x, 0, 3, 1, 2)
	return Reshape(x, x.Shape().Dimensions[0], -1)
}
