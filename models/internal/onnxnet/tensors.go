// The ONNX operators on tensors: matrix products, element-wise arithmetic, concatenation, reshapes, slices.

package onnxnet

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

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
	if n.op == "Add" && !aConst && !bConst && a.Shape().Equal(b.Shape()) {
		c.set(n.outputs[0], c.b.Add("", a, b)) // a residual sum: LRP's Norm rule applies to it
		return nil
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
