package fastvjp

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The gradient of Mul. GoMLX's broadcasts an operand that Mul broadcast (a batch norm's
// per-channel scale [1, 1, 1, C]) to the product's full shape before multiplying the incoming
// gradient by it: a tensor of the activation's size written, and read again by the Mul. This one
// lets Mul broadcast it, as the forward does: the same products, bit for bit, one pass fewer.
// Where the operand has another rank (Mul would not broadcast it), GoMLX's gradient is used.

var stockMul = VJPRegistration[NodeTypeMul]

func init() { VJPRegistration[NodeTypeMul] = mulVJP }

func mulVJP(node *Node, vjps []*Node, outputShape shapes.Shape) []*Node {
	inputs := node.Inputs()
	if len(vjps) != 1 || !outputShape.IsScalar() || len(inputs) != 2 || !broadcastsTo(inputs[0], node) || !broadcastsTo(inputs[1], node) {
		return stockMul(node, vjps, outputShape)
	}
	v := vjps[0]
	out := make([]*Node, 2)
	for i, in := range inputs {
		out[i] = reduceBroadcast(Mul(v, inputs[1-i]), in)
	}
	return out
}

// broadcastsTo reports whether Mul broadcasts x to node's shape by itself: x is a scalar, or of
// node's rank with each axis of node's size or 1.
func broadcastsTo(x, node *Node) bool {
	if x.IsScalar() {
		return true
	}
	if x.Rank() != node.Rank() {
		return false
	}
	for i, d := range x.Shape().Dimensions {
		if d != 1 && d != node.Shape().Dimensions[i] {
			return false
		}
	}
	return true
}

// reduceBroadcast is v's gradient for an input that was broadcast to v's shape: v summed over
// the broadcast axes, in input's shape (GoMLX's vjpForDefaultBroadcast).
func reduceBroadcast(v, input *Node) *Node {
	switch {
	case input.Shape().Equal(v.Shape()):
		return v
	case input.IsScalar():
		return ReduceAllSum(v)
	}
	var axes []int
	for i, d := range input.Shape().Dimensions {
		if d == 1 && v.Shape().Dimensions[i] > 1 {
			axes = append(axes, i)
		}
	}
	return ReshapeWithShape(ReduceSum(v, axes...), input.Shape())
}
