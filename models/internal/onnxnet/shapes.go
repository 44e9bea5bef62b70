// The ONNX operators on shapes and constants, and host arithmetic on constant tensors.

package onnxnet

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
)

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
