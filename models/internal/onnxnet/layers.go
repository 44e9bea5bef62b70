// The ONNX operators of layers: convolution, batch norm, activations, pooling, reductions.

package onnxnet

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/nn"
)

func (c *converter) conv(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	w, ok := c.konst(n.input(1))
	if !ok {
		return fmt.Errorf("its weights %q are not a constant of the file", n.input(1))
	}
	rank := x.Rank()
	if rank != 4 && rank != 3 || len(w.Shape) != rank {
		return fmt.Errorf("only 1-D and 2-D convolutions are supported (input %v, weights %v)", onnxDims(x), w.Shape)
	}
	spatial := rank - 2
	k := n.intsAttr("kernel_shape")
	if k == nil {
		k = w.Shape[2:]
	}
	strides, dil, pads := n.intsAttr("strides"), n.intsAttr("dilations"), n.intsAttr("pads")
	if strides == nil {
		strides = ones(spatial)
	}
	if dil == nil {
		dil = ones(spatial)
	}
	in := onnxDims(x)[2:]
	if pads, err = autoPad(n, in, k, strides, dil, pads); err != nil {
		return err
	}
	groups := n.intAttr("group", 1)
	out := w.Shape[0]
	name := n.outputs[0]
	cv := nn.Conv{Out: out, Groups: groups}
	bias, hasBias := c.konst(n.input(2))
	if n.input(2) != "" && !hasBias {
		return fmt.Errorf("its bias %q is not a constant of the file", n.input(2))
	}
	cv.NoBias = !hasBias
	wShape := w.Shape
	xi := x
	if rank == 3 { // a 1-D convolution is a 2-D one of height 1
		d := x.Shape().Dimensions
		xi = graph.Reshape(x, d[0], 1, d[1], d[2])
		k, strides, dil = []int{1, k[0]}, []int{1, strides[0]}, []int{1, dil[0]}
		pads = []int{0, pads[0], 0, pads[1]}
		wShape = []int{w.Shape[0], w.Shape[1], 1, w.Shape[2]}
	}
	cv.KernelHW, cv.StrideHW, cv.DilationHW = [2]int{k[0], k[1]}, [2]int{strides[0], strides[1]}, [2]int{dil[0], dil[1]}
	cv.Pads = [4]int{pads[0], pads[1], pads[2], pads[3]}
	if wShape[2] != k[0] || wShape[3] != k[1] {
		return fmt.Errorf("kernel_shape %v does not match the weights %v", k, w.Shape)
	}
	c.w.set(name+".weight", wShape, w.Data, nil)
	if hasBias {
		c.w.set(name+".bias", []int{out}, bias.Data, nil)
	}
	y := c.b.Conv2D(name, xi, cv)
	if rank == 3 {
		d := y.Shape().Dimensions
		y = graph.Reshape(y, d[0], d[2], d[3])
	}
	c.set(name, y)
	return nil
}

func ones(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// autoPad resolves a convolution or pooling node's padding to ONNX's pads (all begins, then all
// ends), from auto_pad when that is set.
func autoPad(n *node, in, k, strides, dil, pads []int) ([]int, error) {
	s := len(in)
	if len(k) != s || len(strides) != s || len(dil) != s {
		return nil, fmt.Errorf("kernel %v, strides %v, dilations %v do not fit %d spatial axes", k, strides, dil, s)
	}
	mode := "NOTSET"
	if a, ok := n.attrs["auto_pad"]; ok && a.s != "" {
		mode = a.s
	}
	switch mode {
	case "NOTSET":
		if pads == nil {
			pads = make([]int, 2*s)
		}
		if len(pads) != 2*s {
			return nil, fmt.Errorf("pads %v do not fit %d spatial axes", pads, s)
		}
		return pads, nil
	case "VALID":
		return make([]int, 2*s), nil
	case "SAME_UPPER", "SAME_LOWER":
		pads = make([]int, 2*s)
		for i := range s {
			outLen := (in[i] + strides[i] - 1) / strides[i]
			total := max(0, (outLen-1)*strides[i]+(k[i]-1)*dil[i]+1-in[i])
			small, big := total/2, total-total/2
			if mode == "SAME_UPPER" {
				pads[i], pads[s+i] = small, big
			} else {
				pads[i], pads[s+i] = big, small
			}
		}
		return pads, nil
	}
	return nil, fmt.Errorf("auto_pad %q is not an ONNX padding mode", mode)
}

func (c *converter) batchNorm(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if len(n.outputs) > 1 && c.g.uses[n.outputs[1]] > 0 {
		return fmt.Errorf("BatchNormalization in training mode (running statistics as outputs) is not supported")
	}
	var p [4]*Tensor
	for i := range p {
		t, ok := c.konst(n.input(i + 1))
		if !ok {
			return fmt.Errorf("its input %q is not a constant of the file", n.input(i+1))
		}
		p[i] = t
	}
	name := n.outputs[0]
	ch := onnxDims(x)[1]
	for i, key := range []string{"weight", "bias", "running_mean", "running_var"} {
		if p[i].size() != ch {
			return fmt.Errorf("%s has %d values for %d channels", key, p[i].size(), ch)
		}
		var fn func(float64) float64
		if i == 3 { // nn.BatchNorm's epsilon is PyTorch's 1e-5: fold the node's own into the variance
			eps := n.floatAttr("epsilon", 1e-5)
			fn = func(v float64) float64 { return v + eps - 1e-5 }
		}
		c.w.set(name+"."+key, []int{ch}, p[i].Data, fn)
	}
	c.set(name, c.b.BatchNorm(name, x))
	return nil
}

func (c *converter) relu(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	c.set(n.outputs[0], c.b.ReLU(n.outputs[0], x))
	return nil
}

// clip is ReLU6 (with its explanation rules) for Clip(0, 6), ReLU for Clip(0, +inf), else a clamp.
func (c *converter) clip(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if a, ok := n.attrs["min"]; ok {
		lo = a.f
	}
	if a, ok := n.attrs["max"]; ok {
		hi = a.f
	}
	for i, bound := range []*float64{&lo, &hi} {
		if name := n.input(i + 1); name != "" {
			t, ok := c.konst(name)
			if !ok || t.size() != 1 {
				return fmt.Errorf("its bound %q is not a constant scalar", name)
			}
			*bound = t.Data[0]
		}
	}
	name := n.outputs[0]
	switch {
	case lo == 0 && hi == 6:
		c.set(name, c.b.ReLU6(name, x))
	case lo == 0 && math.IsInf(hi, 1):
		c.set(name, c.b.ReLU(name, x))
	default:
		y := x
		if !math.IsInf(lo, -1) {
			y = graph.Max(y, graph.Scalar(x.Graph(), x.DType(), lo))
		}
		if !math.IsInf(hi, 1) {
			y = graph.Min(y, graph.Scalar(x.Graph(), x.DType(), hi))
		}
		c.set(name, y)
	}
	return nil
}

func (c *converter) unary(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	g, dt := x.Graph(), x.DType()
	var y *graph.Node
	switch n.op {
	default:
		y = elementwise[n.op](x)
	case "LeakyRelu":
		alpha := n.floatAttr("alpha", 0.01)
		y = graph.Where(graph.GreaterThan(x, graph.ZerosLike(x)), x, graph.MulScalar(x, alpha))
	case "HardSigmoid", "HardSwish":
		alpha, beta := n.floatAttr("alpha", 0.2), n.floatAttr("beta", 0.5)
		if n.op == "HardSwish" {
			alpha, beta = 1.0/6, 0.5
		}
		y = graph.Min(graph.Max(graph.AddScalar(graph.MulScalar(x, alpha), beta), graph.ScalarZero(g, dt)), graph.ScalarOne(g, dt))
		if n.op == "HardSwish" {
			y = graph.Mul(x, y)
		}
	}
	c.set(n.outputs[0], y)
	return nil
}

func (c *converter) softmax(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	axis, err := normAxis(n.intAttr("axis", -1), x.Rank())
	if err != nil {
		return err
	}
	c.set(n.outputs[0], graph.Softmax(x, internal(axis, x.Rank())))
	return nil
}

func (c *converter) pool(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if len(n.outputs) > 1 && c.g.uses[n.outputs[1]] > 0 {
		return fmt.Errorf("MaxPool's indices output is not supported")
	}
	rank := x.Rank()
	if rank != 4 && rank != 3 {
		return fmt.Errorf("only 1-D and 2-D pooling is supported (input %v)", onnxDims(x))
	}
	spatial := rank - 2
	k := n.intsAttr("kernel_shape")
	strides, dil := n.intsAttr("strides"), n.intsAttr("dilations")
	if strides == nil {
		strides = ones(spatial)
	}
	if dil == nil {
		dil = ones(spatial)
	}
	if slices.ContainsFunc(dil, func(d int) bool { return d != 1 }) {
		return fmt.Errorf("dilated pooling (dilations %v) is not supported", dil)
	}
	pads, err := autoPad(n, onnxDims(x)[2:], k, strides, dil, n.intsAttr("pads"))
	if err != nil {
		return err
	}
	name := n.outputs[0]
	ceil := n.intAttr("ceil_mode", 0) == 1
	var y *graph.Node
	if rank == 3 {
		if pads[0] != pads[1] {
			return fmt.Errorf("1-D pooling with asymmetric pads %v is not supported", pads)
		}
		if n.op != "MaxPool" {
			return fmt.Errorf("1-D average pooling is not supported")
		}
		y = c.b.MaxPool1D(name, x, nn.Pool{Kernel: k[0], Stride: strides[0], Padding: pads[0], Ceil: ceil})
	} else {
		p := nn.Pool{KernelHW: [2]int{k[0], k[1]}, StrideHW: [2]int{strides[0], strides[1]},
			Pads: [4]int{pads[0], pads[1], pads[2], pads[3]}, Ceil: ceil, ExcludePad: n.intAttr("count_include_pad", 0) == 0}
		if n.op == "MaxPool" {
			y = c.b.MaxPool2D(name, x, p)
		} else {
			y = c.b.AvgPool2D(name, x, p)
		}
	}
	c.set(name, y)
	return nil
}

// gap is global average pooling over the spatial axes of a rank 3/4 value; keep keeps them (as
// size 1).
func (c *converter) gap(name string, x *graph.Node, keep bool) {
	pooled := c.b.GlobalAvgPool("", x) // [B, C], with nn's provenance for CAM
	if !keep {
		c.set(name, pooled)
		return
	}
	d := slices.Clone(x.Shape().Dimensions)
	for i := 1; i < len(d)-1; i++ {
		d[i] = 1
	}
	y := graph.Reshape(pooled, d...)
	c.gapOf[y] = pooled
	c.set(name, y)
}

func (c *converter) globalPool(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if x.Rank() != 3 && x.Rank() != 4 {
		return fmt.Errorf("input %v has no spatial axes", onnxDims(x))
	}
	if n.op == "GlobalAveragePool" {
		c.gap(n.outputs[0], x, true)
		return nil
	}
	axes := []int{1}
	if x.Rank() == 4 {
		axes = []int{1, 2}
	}
	c.set(n.outputs[0], graph.ReduceAndKeep(x, graph.ReduceMax, axes...))
	return nil
}

func (c *converter) reduce(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	axes := n.intsAttr("axes")
	if name := n.input(1); name != "" { // opset 18: axes as an input
		t, ok := c.konst(name)
		if !ok {
			return fmt.Errorf("its axes %q are not a constant", name)
		}
		axes = t.ints()
	}
	r := x.Rank()
	if len(axes) == 0 {
		if n.intAttr("noop_with_empty_axes", 0) == 1 {
			c.set(n.outputs[0], x)
			return nil
		}
		for a := range r {
			axes = append(axes, a)
		}
	}
	for i := range axes {
		if axes[i], err = normAxis(axes[i], r); err != nil {
			return err
		}
	}
	slices.Sort(axes)
	keep := n.intAttr("keepdims", 1) == 1
	spatial := make([]int, 0, r)
	for a := 2; a < r; a++ {
		spatial = append(spatial, a)
	}
	if n.op == "ReduceMean" && (r == 3 || r == 4) && slices.Equal(axes, spatial) {
		c.gap(n.outputs[0], x, keep)
		return nil
	}
	fn := map[string]func(*graph.Node, ...int) *graph.Node{"ReduceMean": graph.ReduceMean, "ReduceMax": graph.ReduceMax,
		"ReduceSum": graph.ReduceSum}[n.op]
	xo := toONNX(x)
	var y *graph.Node
	if keep {
		y = graph.ReduceAndKeep(xo, fn, axes...)
	} else {
		y = fn(xo, axes...)
	}
	c.set(n.outputs[0], fromONNX(y))
	return nil
}
