package onnxnet

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

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
