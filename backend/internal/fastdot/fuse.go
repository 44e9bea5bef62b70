package fastdot

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Rewrites of a graph before it is compiled, and what they read of simplego's nodes.

// Fuse rewrites a graph about to be compiled (internal/sgpoly's Compile), when every use is
// known: DeepLift's rescale rule into one node (fuseRescale), then each convolution read only by
// its batch norm into one node with it (fuseConvAffine).
func Fuse(outputs []backends.Op) {
	fuseRescale(outputs)
	fuseConvAffine(outputs)
}

// graphUses lists the nodes the outputs use, each once (outputs first), and how many times
// each is an input or an output; false if an output is no simplego node.
func graphUses(outputs []backends.Op) (order []*simplego.Node, uses map[*simplego.Node]int, ok bool) {
	uses = map[*simplego.Node]int{}
	var visit func(n *simplego.Node)
	visit = func(n *simplego.Node) {
		uses[n]++
		if uses[n] > 1 {
			return
		}
		order = append(order, n)
		for _, in := range nodeInputs(n) {
			visit(in)
		}
	}
	for _, o := range outputs {
		n, ok := o.(*simplego.Node)
		if !ok {
			return nil, nil, false
		}
		visit(n)
	}
	return order, uses, true
}

// only is n's single input, or nil.
func only(n *simplego.Node) *simplego.Node {
	if in := nodeInputs(n); len(in) == 1 {
		return in[0]
	}
	return nil
}

// unreshaped is n with the Reshapes it is made by taken off (the same values in the same order).
func unreshaped(n *simplego.Node) *simplego.Node {
	for n != nil && nodeOp(n) == backends.OpTypeReshape {
		n = only(n)
	}
	return n
}

// sized reports whether n is float32 of n values.
func sized(n *simplego.Node, size int) bool {
	if n == nil {
		return false
	}
	s := nodeShape(n)
	return s.DType == dtypes.Float32 && s.Size() == size
}

// scalarConstant is the value of a float32 scalar Constant node.
func scalarConstant(n *simplego.Node) (float32, bool) {
	if n == nil || nodeOp(n) != backends.OpTypeConstant || nodeShape(n).Rank() != 0 {
		return 0, false
	}
	b, ok := nodeValueOf[*simplego.Buffer](n)
	if !ok || b == nil {
		return 0, false
	}
	v, ok := flat(b).([]float32)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

// nodeValueOf is n's data as a T.
func nodeValueOf[T any](n *simplego.Node) (T, bool) {
	d, _ := nodeValue(n)
	t, ok := d.(T)
	return t, ok
}
