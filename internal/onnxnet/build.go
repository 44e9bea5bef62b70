package onnxnet

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/nn"
)

// Weight is a parameter's value in PyTorch's layout, as package models takes it.
type Weight struct {
	Shape []int
	Data  []float32
}

// Network returns the graph as a network named name, and the weights its blocks declare (keys
// "<node output>.weight", ".bias", ...). The weights are filled the first time the network is
// built (Network.Spec does it): call Spec before reading them.
//
// Inside the graph, activations of rank 3 and 4 are channels-last as package nn wants them;
// other ranks keep ONNX's layout. Layout-bound ops (Reshape, Transpose, other reductions) convert
// on the way in and out.
func (g *Graph) Network(name string) (*nn.Network, *Weights) {
	w := &Weights{m: map[string]Weight{}}
	net := &nn.Network{Name: name, Input: slices.Clone(g.InputShape)}
	net.Build = func(b *nn.Builder, x *graph.Node) *graph.Node {
		c := &converter{g: g, b: b, w: w, vals: map[string]*graph.Node{g.Input: x}, consts: map[string]*Tensor{},
			gapOf: map[*graph.Node]*graph.Node{}, fused: map[string]string{}}
		for _, n := range g.nodes {
			if err := c.convert(n); err != nil {
				panic(fmt.Sprintf("%s: %s: %v", g.Path, n, err))
			}
		}
		out, ok := c.vals[g.Output]
		if !ok {
			panic(fmt.Sprintf("%s: the output %q is a constant, not computed from the input", g.Path, g.Output))
		}
		if out.Rank() != 2 {
			panic(fmt.Sprintf("%s: the output %q has shape %v; [batch, outputs] is needed (classes or regression outputs)",
				g.Path, g.Output, onnxDims(out)))
		}
		return out
	}
	return net, w
}

// Weights are the parameters a converted network declares, filled as it is built.
type Weights struct {
	mu sync.Mutex
	m  map[string]Weight
}

// Map returns the weights by key.
func (w *Weights) Map() map[string]Weight {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.m)
}

func (w *Weights) set(key string, shape []int, data []float64, fn func(float64) float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.m[key]; ok {
		return
	}
	d := make([]float32, len(data))
	for i, v := range data {
		if fn != nil {
			v = fn(v)
		}
		d[i] = float32(v)
	}
	w.m[key] = Weight{Shape: slices.Clone(shape), Data: d}
}

// converter builds one graph of the network.
type converter struct {
	g      *Graph
	b      *nn.Builder
	w      *Weights
	vals   map[string]*graph.Node // graph values by ONNX name (rank 3/4 channels-last)
	consts map[string]*Tensor     // constants computed at conversion (shapes, indices)
	// gapOf maps a global average pooling kept at [B, 1, 1, C] (ONNX's GlobalAveragePool) to the
	// pooled [B, C] node that carries nn's provenance, so Flatten -> Gemm is seen as CAM's head.
	gapOf map[*graph.Node]*graph.Node
	// fused maps an Add folded into the preceding MatMul (as a Linear's bias) to that MatMul.
	fused map[string]string
}

type convertFunc func(c *converter, n *node) error

var converters map[string]convertFunc

func init() {
	converters = map[string]convertFunc{
		"Conv": (*converter).conv, "BatchNormalization": (*converter).batchNorm,
		"Relu": (*converter).relu, "Clip": (*converter).clip, "LeakyRelu": (*converter).unary,
		"HardSigmoid": (*converter).unary, "HardSwish": (*converter).unary, "Softmax": (*converter).softmax,
		"MaxPool": (*converter).pool, "AveragePool": (*converter).pool,
		"GlobalAveragePool": (*converter).globalPool, "GlobalMaxPool": (*converter).globalPool,
		"ReduceMean": (*converter).reduce, "ReduceMax": (*converter).reduce, "ReduceSum": (*converter).reduce,
		"Gemm": (*converter).gemm, "MatMul": (*converter).matmul,
		"Add": (*converter).binary, "Sub": (*converter).binary, "Mul": (*converter).binary, "Div": (*converter).binary,
		"Pow": (*converter).binary, "Max": (*converter).binary, "Min": (*converter).binary,
		"Concat": (*converter).concat, "Split": (*converter).split, "Flatten": (*converter).flatten,
		"Reshape": (*converter).reshape, "Transpose": (*converter).transpose,
		"Squeeze": (*converter).squeeze, "Unsqueeze": (*converter).squeeze, "Slice": (*converter).slice,
		"Pad": (*converter).pad, "Shape": (*converter).shape, "Gather": (*converter).gather,
		"Cast": (*converter).cast, "Constant": (*converter).constant, "ConstantOfShape": (*converter).constantOfShape,
		"Identity": (*converter).identity, "Dropout": (*converter).identity,
	}
	for op := range elementwise {
		converters[op] = (*converter).unary
	}
}

// elementwise are the ONNX ops that are one GoMLX function of their input.
var elementwise = map[string]func(*graph.Node) *graph.Node{
	"Sigmoid": graph.Logistic, "Tanh": graph.Tanh, "Erf": graph.Erf, "Exp": graph.Exp, "Log": graph.Log,
	"Sqrt": graph.Sqrt, "Neg": graph.Neg, "Abs": graph.Abs, "Reciprocal": graph.Reciprocal,
}

// SupportedOps lists the ONNX ops the converter takes, sorted.
func SupportedOps() []string {
	out := make([]string, 0, len(converters))
	for op := range converters {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

func (c *converter) convert(n *node) error {
	if to, ok := c.fused[n.outputs[0]]; ok {
		c.set(n.outputs[0], c.vals[to])
		return nil
	}
	return converters[n.op](c, n)
}

// konst returns the constant named name, if it is one.
func (c *converter) konst(name string) (*Tensor, bool) {
	if t, ok := c.consts[name]; ok {
		return t, true
	}
	t, ok := c.g.consts[name]
	return t, ok
}

// value returns the graph value named name (an error for constants and unknown names).
func (c *converter) value(name string) (*graph.Node, error) {
	if x, ok := c.vals[name]; ok {
		return x, nil
	}
	if _, ok := c.konst(name); ok {
		return nil, fmt.Errorf("input %q is a constant where this converter needs a value computed from the network's input", name)
	}
	return nil, fmt.Errorf("input %q is not computed before it is used (the graph is not in topological order)", name)
}

// set records a graph value; values of rank 2 to 4 are layers (taps) under their ONNX name.
func (c *converter) set(name string, x *graph.Node) {
	if r := x.Rank(); r >= 2 && r <= 4 {
		x = c.b.Tap(name, x)
	}
	c.vals[name] = x
}

// internal is the channels-last position of ONNX axis a of a rank-r value.
func internal(a, r int) int {
	if r != 3 && r != 4 {
		return a
	}
	switch a {
	case 0:
		return 0
	case 1:
		return r - 1
	}
	return a - 1
}

// normAxis resolves a negative axis.
func normAxis(a, r int) (int, error) {
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	return a, nil
}

// toONNX and fromONNX change between the graph's layout and ONNX's.
func toONNX(x *graph.Node) *graph.Node   { return nn.ChannelsFirst(x) }
func fromONNX(x *graph.Node) *graph.Node { return nn.ChannelsLast(x) }

// onnxDims is a graph value's shape in ONNX's layout.
func onnxDims(x *graph.Node) []int {
	d := slices.Clone(x.Shape().Dimensions)
	if r := len(d); r == 3 || r == 4 {
		out := make([]int, r)
		for a := range r {
			out[a] = d[internal(a, r)]
		}
		return out
	}
	return d
}

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

// linear is a Linear block on x [B, K] with weight [N, K] and bias [N].
func (c *converter) linear(name string, x *graph.Node, weight []float64, n, k int, bias []float64) {
	c.w.set(name+".weight", []int{n, k}, weight, nil)
	c.w.set(name+".bias", []int{n}, bias, nil)
	if p, ok := c.gapOf[x]; ok {
		x = p
	}
	c.set(name, c.b.Linear(name, x, n))
}

func (c *converter) gemm(n *node) error {
	a, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	bt, ok := c.konst(n.input(1))
	if !ok || len(bt.Shape) != 2 {
		return fmt.Errorf("its B input %q must be a constant matrix (weights)", n.input(1))
	}
	if a.Rank() != 2 || n.intAttr("transA", 0) != 0 {
		return fmt.Errorf("A must be [batch, features] and not transposed (got %v, transA=%d)", onnxDims(a), n.intAttr("transA", 0))
	}
	alpha, beta := n.floatAttr("alpha", 1), n.floatAttr("beta", 1)
	var rows, cols int // the Linear weight [rows=N, cols=K]
	weight := make([]float64, len(bt.Data))
	if n.intAttr("transB", 0) == 1 {
		rows, cols = bt.Shape[0], bt.Shape[1]
		for i, v := range bt.Data {
			weight[i] = alpha * v
		}
	} else {
		rows, cols = bt.Shape[1], bt.Shape[0]
		for i := range cols {
			for j := range rows {
				weight[j*cols+i] = alpha * bt.Data[i*rows+j]
			}
		}
	}
	if k := a.Shape().Dimensions[1]; k != cols {
		return fmt.Errorf("A has %d features but B expects %d", k, cols)
	}
	bias := make([]float64, rows)
	if name := n.input(2); name != "" {
		ct, ok := c.konst(name)
		if !ok {
			return fmt.Errorf("its C input %q must be a constant (biases)", name)
		}
		switch ct.size() {
		case 1:
			for j := range bias {
				bias[j] = beta * ct.Data[0]
			}
		case rows:
			for j := range bias {
				bias[j] = beta * ct.Data[j]
			}
		default:
			return fmt.Errorf("its C input has shape %v; [%d] or a scalar is supported", ct.Shape, rows)
		}
	}
	c.linear(n.outputs[0], a, weight, rows, cols, bias)
	return nil
}

// matmul converts x·W with a constant W [K, N] into a Linear block, folding a following Add of a
// constant [N] (the only reader of the product) into its bias, as exporters write Linear layers.
func (c *converter) matmul(n *node) error {
	a, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	bt, ok := c.konst(n.input(1))
	if !ok || len(bt.Shape) != 2 || a.Rank() != 2 {
		return fmt.Errorf("only [batch, features] x constant [features, outputs] is supported (got %v x %q)", onnxDims(a), n.input(1))
	}
	k, rows := bt.Shape[0], bt.Shape[1]
	if a.Shape().Dimensions[1] != k {
		return fmt.Errorf("A has %d features but B expects %d", a.Shape().Dimensions[1], k)
	}
	weight := make([]float64, len(bt.Data))
	for i := range k {
		for j := range rows {
			weight[j*k+i] = bt.Data[i*rows+j]
		}
	}
	bias := make([]float64, rows)
	name := n.outputs[0]
	if add := c.soleReader(name); add != nil && add.op == "Add" {
		other := add.inputs[0]
		if other == name {
			other = add.inputs[1]
		}
		if t, ok := c.konst(other); ok && t.size() == rows && (len(t.Shape) == 1 || len(t.Shape) == 2 && t.Shape[0] == 1) {
			copy(bias, t.Data)
			c.fused[add.outputs[0]] = name
		}
	}
	c.linear(name, a, weight, rows, k, bias)
	return nil
}

// soleReader returns the only node reading name, nil when there are several or it is an output.
func (c *converter) soleReader(name string) *node {
	if c.g.uses[name] != 1 {
		return nil
	}
	for _, n := range c.g.nodes {
		if slices.Contains(n.inputs, name) {
			return n
		}
	}
	return nil
}

// binary is an element-wise Add, Sub, Mul, Div, Pow, Max or Min with ONNX's broadcasting.
func (c *converter) binary(n *node) error {
	if len(n.inputs) != 2 {
		return fmt.Errorf("%d inputs: only two are supported", len(n.inputs))
	}
	ka, aConst := c.konst(n.input(0))
	kb, bConst := c.konst(n.input(1))
	if aConst && bConst {
		t, err := hostBinary(n.op, ka, kb)
		if err != nil {
			return err
		}
		c.consts[n.outputs[0]] = t
		return nil
	}
	op := map[string]func(a, b *graph.Node) *graph.Node{"Add": graph.Add, "Sub": graph.Sub, "Mul": graph.Mul, "Div": graph.Div,
		"Pow": graph.Pow, "Max": graph.Max, "Min": graph.Min}[n.op]
	var a, b *graph.Node
	var err error
	switch {
	case aConst:
		if b, err = c.value(n.input(1)); err != nil {
			return err
		}
		a = c.constLike(ka, b)
	case bConst:
		if a, err = c.value(n.input(0)); err != nil {
			return err
		}
		b = c.constLike(kb, a)
	default:
		if a, err = c.value(n.input(0)); err != nil {
			return err
		}
		if b, err = c.value(n.input(1)); err != nil {
			return err
		}
	}
	if a.Rank() == b.Rank() {
		dims, err := broadcastDims(a.Shape().Dimensions, b.Shape().Dimensions)
		if err != nil {
			return err
		}
		c.set(n.outputs[0], op(graph.BroadcastToDims(a, dims...), graph.BroadcastToDims(b, dims...)))
		return nil
	}
	// Different ranks: broadcast in ONNX's layout (right-aligned).
	ao, bo := toONNX(a), toONNX(b)
	r := max(ao.Rank(), bo.Rank())
	ao, bo = graph.ExpandLeftToRank(ao, r), graph.ExpandLeftToRank(bo, r)
	dims, err := broadcastDims(ao.Shape().Dimensions, bo.Shape().Dimensions)
	if err != nil {
		return err
	}
	c.set(n.outputs[0], fromONNX(op(graph.BroadcastToDims(ao, dims...), graph.BroadcastToDims(bo, dims...))))
	return nil
}

// constLike turns constant t into a graph value laid out to combine element-wise with x: of x's
// rank when t's rank is not larger, channels-last when x is.
func (c *converter) constLike(t *Tensor, x *graph.Node) *graph.Node {
	data := make([]float32, len(t.Data))
	for i, v := range t.Data {
		data[i] = float32(v)
	}
	g := x.Graph()
	k := graph.ConvertDType(graph.Const(g, data), x.DType())
	r := x.Rank()
	if len(t.Shape) > r {
		return graph.Reshape(k, t.Shape...) // ONNX layout: binary() broadcasts in ONNX's layout
	}
	shape := make([]int, r)
	for i := range shape {
		shape[i] = 1
	}
	copy(shape[r-len(t.Shape):], t.Shape)
	return fromONNX(graph.Reshape(k, shape...))
}

// broadcastDims is the common shape of two same-rank shapes (sizes equal or 1).
func broadcastDims(a, b []int) ([]int, error) {
	out := make([]int, len(a))
	for i := range a {
		switch {
		case a[i] == b[i] || b[i] == 1:
			out[i] = a[i]
		case a[i] == 1:
			out[i] = b[i]
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func (c *converter) concat(n *node) error {
	allConst := true
	for _, in := range n.inputs {
		if _, ok := c.konst(in); !ok {
			allConst = false
		}
	}
	if allConst {
		var parts []*Tensor
		for _, in := range n.inputs {
			t, _ := c.konst(in)
			parts = append(parts, t)
		}
		t, err := hostConcat(parts, n.intAttr("axis", 0))
		if err != nil {
			return err
		}
		c.consts[n.outputs[0]] = t
		return nil
	}
	var xs []*graph.Node
	for _, in := range n.inputs {
		x, err := c.value(in)
		if err != nil {
			return err
		}
		xs = append(xs, x)
	}
	r := xs[0].Rank()
	axis, err := normAxis(n.intAttr("axis", 0), r)
	if err != nil {
		return err
	}
	c.set(n.outputs[0], graph.Concatenate(xs, internal(axis, r)))
	return nil
}

func (c *converter) split(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	r := x.Rank()
	axis, err := normAxis(n.intAttr("axis", 0), r)
	if err != nil {
		return err
	}
	size := onnxDims(x)[axis]
	sizes := n.intsAttr("split")
	if name := n.input(1); name != "" {
		t, ok := c.konst(name)
		if !ok {
			return fmt.Errorf("its split sizes %q are not a constant", name)
		}
		sizes = t.ints()
	}
	if sizes == nil {
		parts := len(n.outputs)
		if size%parts != 0 {
			return fmt.Errorf("%d cannot be split in %d equal parts", size, parts)
		}
		for range parts {
			sizes = append(sizes, size/parts)
		}
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	if len(sizes) != len(n.outputs) || total != size {
		return fmt.Errorf("split sizes %v do not divide %d into %d outputs", sizes, size, len(n.outputs))
	}
	ia, start := internal(axis, r), 0
	for i, s := range sizes {
		c.set(n.outputs[i], graph.SliceAxis(x, ia, graph.AxisRange(start, start+s)))
		start += s
	}
	return nil
}

func (c *converter) flatten(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	axis, err := normAxis(n.intAttr("axis", 1), x.Rank()+1)
	if err != nil {
		return err
	}
	name := n.outputs[0]
	if p, ok := c.gapOf[x]; ok && axis == 1 {
		c.set(name, p)
		return nil
	}
	if axis == 1 {
		c.set(name, c.b.Flatten(name, x))
		return nil
	}
	d := onnxDims(x)
	c.set(name, graph.Reshape(toONNX(x), shapeSize(d[:axis]), shapeSize(d[axis:])))
	return nil
}

// reshapeTo reshapes x to ONNX dims (values of rank 3/4 change layout on the way).
func (c *converter) reshapeTo(name string, x *graph.Node, dims []int) {
	if p, ok := c.gapOf[x]; ok && slices.Equal(dims, p.Shape().Dimensions) {
		c.set(name, p)
		return
	}
	c.set(name, fromONNX(graph.Reshape(toONNX(x), dims...)))
}

func (c *converter) reshape(n *node) error {
	t, ok := c.konst(n.input(1))
	if !ok {
		return fmt.Errorf("its shape %q is not a constant", n.input(1))
	}
	if k, isConst := c.konst(n.inputs[0]); isConst {
		c.consts[n.outputs[0]] = &Tensor{Shape: targetShape(t.ints(), k.Shape), Data: k.Data, Int: k.Int}
		return nil
	}
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	in := onnxDims(x)
	target := t.ints()
	if n.intAttr("allowzero", 0) == 0 {
		for i, d := range target {
			if d == 0 && i < len(in) {
				target[i] = in[i]
			}
		}
	}
	// The exporter folded the batch size it traced with (1) into the shape: keep the batch axis.
	if len(target) > 0 && target[0] == 1 && in[0] != 1 &&
		(slices.Contains(target[1:], -1) || shapeSize(target[1:]) == shapeSize(in[1:])) {
		target[0] = in[0]
	}
	target = targetShape(target, in)
	if shapeSize(target) != shapeSize(in) {
		return fmt.Errorf("cannot reshape %v to %v", in, t.ints())
	}
	c.reshapeTo(n.outputs[0], x, target)
	return nil
}

// targetShape resolves a -1 in a reshape target.
func targetShape(target, in []int) []int {
	target = slices.Clone(target)
	known, free := 1, -1
	for i, d := range target {
		if d == -1 {
			free = i
		} else {
			known *= d
		}
	}
	if free >= 0 && known > 0 {
		target[free] = shapeSize(in) / known
	}
	return target
}

func (c *converter) transpose(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	perm := n.intsAttr("perm")
	if perm == nil {
		for a := x.Rank() - 1; a >= 0; a-- {
			perm = append(perm, a)
		}
	}
	c.set(n.outputs[0], fromONNX(graph.TransposeAllAxes(toONNX(x), perm...)))
	return nil
}

func (c *converter) squeeze(n *node) error {
	axes := n.intsAttr("axes")
	if name := n.input(1); name != "" {
		t, ok := c.konst(name)
		if !ok {
			return fmt.Errorf("its axes %q are not a constant", name)
		}
		axes = t.ints()
	}
	var in []int
	k, isConst := c.konst(n.inputs[0])
	var x *graph.Node
	if isConst {
		in = k.Shape
	} else {
		var err error
		if x, err = c.value(n.inputs[0]); err != nil {
			return err
		}
		in = onnxDims(x)
	}
	var out []int
	if n.op == "Squeeze" {
		if len(axes) == 0 {
			for _, d := range in {
				if d != 1 {
					out = append(out, d)
				}
			}
		} else {
			drop := map[int]bool{}
			for _, a := range axes {
				a, err := normAxis(a, len(in))
				if err != nil {
					return err
				}
				drop[a] = true
			}
			for i, d := range in {
				if !drop[i] {
					out = append(out, d)
				}
			}
		}
	} else {
		r := len(in) + len(axes)
		add := map[int]bool{}
		for _, a := range axes {
			a, err := normAxis(a, r)
			if err != nil {
				return err
			}
			add[a] = true
		}
		j := 0
		for i := range r {
			if add[i] {
				out = append(out, 1)
			} else {
				out = append(out, in[j])
				j++
			}
		}
	}
	if isConst {
		c.consts[n.outputs[0]] = &Tensor{Shape: out, Data: k.Data, Int: k.Int}
		return nil
	}
	c.reshapeTo(n.outputs[0], x, out)
	return nil
}

// sliceParams reads a Slice node's starts, ends, axes and steps (inputs since opset 10).
func (c *converter) sliceParams(n *node) (starts, ends, axes, steps []int, err error) {
	starts, ends, axes = n.intsAttr("starts"), n.intsAttr("ends"), n.intsAttr("axes")
	for i, dst := range []*[]int{&starts, &ends, &axes, &steps} {
		if name := n.input(i + 1); name != "" {
			t, ok := c.konst(name)
			if !ok {
				return nil, nil, nil, nil, fmt.Errorf("its input %q is not a constant", name)
			}
			*dst = t.ints()
		}
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, i)
		}
	}
	if steps == nil {
		steps = ones(len(starts))
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		return nil, nil, nil, nil, fmt.Errorf("starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	return
}

// clampRange resolves a slice's start and end on an axis of size d (positive step).
func clampRange(start, end, d int) (int, int) {
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	return min(max(start, 0), d), min(max(end, 0), d)
}

func (c *converter) slice(n *node) error {
	starts, ends, axes, steps, err := c.sliceParams(n)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(steps, func(s int) bool { return s < 1 }) {
		return fmt.Errorf("slices with steps %v are not supported (positive steps are)", steps)
	}
	if k, ok := c.konst(n.inputs[0]); ok {
		if len(k.Shape) != 1 || len(axes) != 1 {
			return fmt.Errorf("slicing a constant of shape %v is not supported", k.Shape)
		}
		s, e := clampRange(starts[0], ends[0], k.Shape[0])
		var data []float64
		for i := s; i < e; i += steps[0] {
			data = append(data, k.Data[i])
		}
		c.consts[n.outputs[0]] = &Tensor{Shape: []int{len(data)}, Data: data, Int: k.Int}
		return nil
	}
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	d := onnxDims(x)
	specs := make([]graph.SliceAxisSpec, len(d))
	for i := range specs {
		specs[i] = graph.AxisRange()
	}
	for i, a := range axes {
		if a, err = normAxis(a, len(d)); err != nil {
			return err
		}
		s, e := clampRange(starts[i], ends[i], d[a])
		if e <= s {
			return fmt.Errorf("the slice [%d:%d] of axis %d (size %d) is empty", starts[i], ends[i], a, d[a])
		}
		specs[internal(a, len(d))] = graph.AxisRange(s, e).Stride(steps[i])
	}
	c.set(n.outputs[0], graph.Slice(x, specs...))
	return nil
}

func (c *converter) pad(n *node) error {
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if mode := n.attrs["mode"].s; mode != "" && mode != "constant" {
		return fmt.Errorf("padding mode %q is not supported (constant is)", mode)
	}
	pads := n.intsAttr("pads")
	if name := n.input(1); name != "" {
		t, ok := c.konst(name)
		if !ok {
			return fmt.Errorf("its pads %q are not a constant", name)
		}
		pads = t.ints()
	}
	fill := n.floatAttr("value", 0)
	if name := n.input(2); name != "" {
		t, ok := c.konst(name)
		if !ok || t.size() != 1 {
			return fmt.Errorf("its fill value %q is not a constant scalar", name)
		}
		fill = t.Data[0]
	}
	if n.input(3) != "" {
		return fmt.Errorf("padding only some axes (the axes input) is not supported")
	}
	r := x.Rank()
	if len(pads) != 2*r {
		return fmt.Errorf("pads %v do not fit rank %d", pads, r)
	}
	if !slices.ContainsFunc(pads, func(p int) bool { return p != 0 }) {
		c.set(n.outputs[0], x)
		return nil
	}
	if slices.ContainsFunc(pads, func(p int) bool { return p < 0 }) {
		return fmt.Errorf("negative pads %v (cropping) are not supported", pads)
	}
	cfg := make([]backends.PadAxis, r)
	for a := range r {
		cfg[internal(a, r)] = backends.PadAxis{Start: pads[a], End: pads[r+a]}
	}
	c.set(n.outputs[0], graph.Pad(x, graph.Scalar(x.Graph(), x.DType(), fill), cfg...))
	return nil
}

func (c *converter) shape(n *node) error {
	var d []int
	if k, ok := c.konst(n.inputs[0]); ok {
		d = k.Shape
	} else {
		x, err := c.value(n.inputs[0])
		if err != nil {
			return err
		}
		d = onnxDims(x)
	}
	start, end := n.intAttr("start", 0), n.intAttr("end", len(d))
	start, end = clampRange(start, end, len(d))
	t := &Tensor{Shape: []int{max(end-start, 0)}, Int: true}
	for _, v := range d[start:max(end, start)] {
		t.Data = append(t.Data, float64(v))
	}
	c.consts[n.outputs[0]] = t
	return nil
}

func (c *converter) gather(n *node) error {
	idx, ok := c.konst(n.input(1))
	if !ok {
		return fmt.Errorf("its indices %q are not a constant", n.input(1))
	}
	axis := n.intAttr("axis", 0)
	if k, ok := c.konst(n.inputs[0]); ok {
		if len(k.Shape) != 1 || axis != 0 {
			return fmt.Errorf("gathering from a constant of shape %v along axis %d is not supported", k.Shape, axis)
		}
		t := &Tensor{Shape: slices.Clone(idx.Shape), Int: k.Int}
		for _, i := range idx.ints() {
			if i < 0 {
				i += k.Shape[0]
			}
			if i < 0 || i >= k.Shape[0] {
				return fmt.Errorf("index %d out of range for %d values", i, k.Shape[0])
			}
			t.Data = append(t.Data, k.Data[i])
		}
		c.consts[n.outputs[0]] = t
		return nil
	}
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	d := onnxDims(x)
	if axis, err = normAxis(axis, len(d)); err != nil {
		return err
	}
	if len(idx.Shape) != 0 {
		return fmt.Errorf("gathering a value with indices of shape %v is not supported (a scalar index is)", idx.Shape)
	}
	i := int(idx.Data[0])
	if i < 0 {
		i += d[axis]
	}
	xo := graph.SliceAxis(toONNX(x), axis, graph.AxisRange(i, i+1))
	c.set(n.outputs[0], fromONNX(graph.Squeeze(xo, axis)))
	return nil
}

func (c *converter) cast(n *node) error {
	to := n.intAttr("to", dtFloat)
	if k, ok := c.konst(n.inputs[0]); ok {
		t := &Tensor{Shape: k.Shape, Data: slices.Clone(k.Data), Int: to != dtFloat && to != dtDouble && to != dtFloat16}
		if t.Int {
			for i, v := range t.Data {
				t.Data[i] = math.Trunc(v)
			}
		}
		c.consts[n.outputs[0]] = t
		return nil
	}
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if to != dtFloat && to != dtDouble && to != dtFloat16 {
		return fmt.Errorf("casting activations to ONNX type %d is not supported (the network computes in floating point)", to)
	}
	c.set(n.outputs[0], x)
	return nil
}

func (c *converter) constant(n *node) error {
	var t *Tensor
	switch {
	case n.attrs["value"].t != nil:
		t = n.attrs["value"].t
	default:
		if a, ok := n.attrs["value_float"]; ok {
			t = &Tensor{Data: []float64{a.f}}
			break
		}
		if a, ok := n.attrs["value_int"]; ok {
			t = &Tensor{Data: []float64{float64(a.i)}, Int: true}
			break
		}
		if a, ok := n.attrs["value_ints"]; ok {
			t = &Tensor{Shape: []int{len(a.ints)}, Int: true}
			for _, v := range a.ints {
				t.Data = append(t.Data, float64(v))
			}
		} else if a, ok := n.attrs["value_floats"]; ok {
			t = &Tensor{Shape: []int{len(a.floats)}, Data: a.floats}
		} else {
			return fmt.Errorf("a Constant without a value (sparse and string constants are not supported)")
		}
	}
	c.consts[n.outputs[0]] = t
	return nil
}

func (c *converter) constantOfShape(n *node) error {
	s, ok := c.konst(n.inputs[0])
	if !ok {
		return fmt.Errorf("its shape %q is not a constant", n.inputs[0])
	}
	t := &Tensor{Shape: s.ints()}
	v := 0.0
	if a := n.attrs["value"].t; a != nil && len(a.Data) == 1 {
		v, t.Int = a.Data[0], a.Int
	}
	t.Data = make([]float64, t.size())
	for i := range t.Data {
		t.Data[i] = v
	}
	c.consts[n.outputs[0]] = t
	return nil
}

func (c *converter) identity(n *node) error {
	if len(n.outputs) > 1 && c.g.uses[n.outputs[1]] > 0 {
		return fmt.Errorf("Dropout's mask output is not supported")
	}
	if k, ok := c.konst(n.inputs[0]); ok {
		c.consts[n.outputs[0]] = k
		return nil
	}
	x, err := c.value(n.inputs[0])
	if err != nil {
		return err
	}
	if p, ok := c.gapOf[x]; ok { // keep CAM's head visible through an Identity
		y := graph.Reshape(p, x.Shape().Dimensions...)
		c.gapOf[y] = p
		x = y
	}
	c.set(n.outputs[0], x)
	return nil
}

// hostBinary computes Add, Sub, Mul, Div, Pow, Max or Min of two constants (shape arithmetic)
// with broadcasting.
func hostBinary(op string, a, b *Tensor) (*Tensor, error) {
	r := max(len(a.Shape), len(b.Shape))
	pad := func(s []int) []int {
		out := ones(r)
		copy(out[r-len(s):], s)
		return out
	}
	as, bs := pad(a.Shape), pad(b.Shape)
	dims, err := broadcastDims(as, bs)
	if err != nil {
		return nil, err
	}
	t := &Tensor{Shape: dims, Int: a.Int && b.Int, Data: make([]float64, shapeSize(dims))}
	idx := make([]int, r)
	at := func(s []int, data []float64) float64 {
		off := 0
		for i := range r {
			j := idx[i]
			if s[i] == 1 {
				j = 0
			}
			off = off*s[i] + j
		}
		return data[off]
	}
	for i := range t.Data {
		rem := i
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax] = rem % dims[ax]
			rem /= dims[ax]
		}
		x, y := at(as, a.Data), at(bs, b.Data)
		switch op {
		case "Add":
			t.Data[i] = x + y
		case "Sub":
			t.Data[i] = x - y
		case "Mul":
			t.Data[i] = x * y
		case "Div":
			if t.Int {
				if y == 0 {
					return nil, fmt.Errorf("integer division by zero")
				}
				t.Data[i] = math.Trunc(x / y)
			} else {
				t.Data[i] = x / y
			}
		case "Pow":
			t.Data[i] = math.Pow(x, y)
		case "Max":
			t.Data[i] = max(x, y)
		case "Min":
			t.Data[i] = min(x, y)
		}
	}
	return t, nil
}

// hostConcat concatenates 1-D constants (shape computations).
func hostConcat(parts []*Tensor, axis int) (*Tensor, error) {
	t := &Tensor{Int: true}
	for _, p := range parts {
		if len(p.Shape) > 1 || axis != 0 && axis != -1 {
			return nil, fmt.Errorf("concatenating constants of shape %v along axis %d is not supported", p.Shape, axis)
		}
		t.Data = append(t.Data, p.Data...)
		t.Int = t.Int && p.Int
	}
	t.Shape = []int{len(t.Data)}
	return t, nil
}
