// Package fastvjp replaces gomlx v0.26.0's gradient of DotGeneral (Einsum, Dot, MatMul, Linear
// layers), and those of ConvGeneral (conv.go) and of Mul (mul.go).
//
// The stock graph.dotGeneralVJP builds the gradient as a *broadcast Mul followed by ReduceSum*,
// materializing a [batch, lhsCross, rhsCross, contracting] tensor. XLA fuses that; simplego doesn't:
// for an im2col conv (3136x576 . 576x64) it allocates 115M floats, and for VGG fc6 at batch 8 ~822M.
// This version expresses both gradients as DotGeneral ops (what simplego parallelizes).
//
// The node's axes live in an unexported struct; they are read with reflect (read-only), so this is
// tied to gomlx v0.26.0 internals (field names lhsContractingAxes, lhsBatchAxes, rhsContractingAxes,
// rhsBatchAxes of the node's "inputs" field). Where they cannot be read, or describe gradients of
// the wrong shape, GoMLX's own gradient is used. Importing the package installs it.
package fastvjp

import (
	"reflect"
	"slices"
	"sync/atomic"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// stock is GoMLX's own DotGeneral gradient, used whenever this one cannot read a node;
// fallbacks counts those times.
var (
	stock     = VJPRegistration[NodeTypeDotGeneral]
	fallbacks atomic.Int64
)

// fieldNames are the unexported fields of the node's inputs this package reads; a test changes
// them to force the fallback.
var fieldNames = [4]string{"lhsContractingAxes", "lhsBatchAxes", "rhsContractingAxes", "rhsBatchAxes"}

// Installed reports whether this package's DotGeneral, ConvGeneral and Mul gradients are the ones
// GoMLX's Gradient uses (nothing else has replaced them since init).
func Installed() bool {
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	return same(VJPRegistration[NodeTypeDotGeneral], dotGeneralVJP) && same(VJPRegistration[NodeTypeConvGeneral], convVJP) &&
		same(VJPRegistration[NodeTypeMul], mulVJP)
}

// The replacement is installed when the package initializes, before any goroutine can build a
// gradient: writing GoMLX's registry later would race with Gradient calls elsewhere.
func init() { VJPRegistration[NodeTypeDotGeneral] = dotGeneralVJP }

// axes reads a DotGeneral node's contracting and batch axes; ok is false when the node's
// internal layout is not the expected one.
func axes(node *Node) (lhsC, lhsB, rhsC, rhsB []int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	params := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !params.IsValid() || params.Kind() != reflect.Interface || params.IsNil() {
		return nil, nil, nil, nil, false
	}
	params = params.Elem()
	if params.Kind() == reflect.Pointer {
		params = params.Elem()
	}
	if params.Kind() != reflect.Struct {
		return nil, nil, nil, nil, false
	}
	var out [4][]int
	for i, name := range fieldNames {
		f := params.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Int {
			return nil, nil, nil, nil, false
		}
		out[i] = make([]int, f.Len())
		for j := range out[i] {
			out[i][j] = int(f.Index(j).Int())
		}
	}
	return out[0], out[1], out[2], out[3], true
}

func crossAxes(rank int, contracting, batch []int) []int {
	var out []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			out = append(out, a)
		}
	}
	return out
}

// gradOne returns d/d(this) given v shaped [batch..., thisCross..., otherCross...] (or with this/other
// crosses swapped, per vCrossOfThis/vCrossOfOther positions).
func gradOne(v *Node, vBatch, vContract []int, other *Node, otherContract, otherBatch []int,
	thisBatch, thisCross, thisContract, otherContractPaired []int, thisRank int) *Node {
	g := DotGeneral(v, vContract, vBatch, other, otherContract, otherBatch)
	// g axes: [batch (thisBatch order)..., thisCross..., remaining other axes in increasing order].
	var otherRemaining []int // other's contracting axes, increasing
	otherRemaining = append(otherRemaining, otherContractPaired...)
	slices.Sort(otherRemaining)
	srcAxisOf := make([]int, 0, thisRank) // srcAxisOf[j] = this-axis of g's axis j
	srcAxisOf = append(srcAxisOf, thisBatch...)
	srcAxisOf = append(srcAxisOf, thisCross...)
	for _, oa := range otherRemaining {
		idx := slices.Index(otherContractPaired, oa)
		srcAxisOf = append(srcAxisOf, thisContract[idx])
	}
	perm := make([]int, thisRank)
	identity := true
	for j, a := range srcAxisOf {
		perm[a] = j
		if a != j {
			identity = false
		}
	}
	if !identity {
		g = TransposeAllAxes(g, perm...)
	}
	return g
}

func dotGeneralVJP(node *Node, vjps []*Node, outputShape shapes.Shape) []*Node {
	v := vjps[0]
	lhsC, lhsB, rhsC, rhsB, ok := axes(node)
	if !ok || len(node.Inputs()) != 2 {
		fallbacks.Add(1)
		return stock(node, vjps, outputShape)
	}
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lhsX := crossAxes(lhs.Rank(), lhsC, lhsB)
	rhsX := crossAxes(rhs.Rank(), rhsC, rhsB)
	nb, nl, nr := len(lhsB), len(lhsX), len(rhsX)
	vBatch := make([]int, nb)
	for i := range vBatch {
		vBatch[i] = i
	}
	vLhsCross := make([]int, nl)
	for i := range vLhsCross {
		vLhsCross[i] = nb + i
	}
	vRhsCross := make([]int, nr)
	for i := range vRhsCross {
		vRhsCross[i] = nb + nl + i
	}
	// d/dlhs: contract v's rhs-cross axes with rhs's cross axes.
	gl := gradOne(v, vBatch, vRhsCross, rhs, rhsX, rhsB, lhsB, lhsX, lhsC, rhsC, lhs.Rank())
	// d/drhs: contract v's lhs-cross axes with lhs's cross axes. Result: [batch, rhsCross, lhs contracting...].
	gr := gradOne(v, vBatch, vLhsCross, lhs, lhsX, lhsB, rhsB, rhsX, rhsC, lhsC, rhs.Rank())
	if !gl.Shape().Equal(lhs.Shape()) || !gr.Shape().Equal(rhs.Shape()) {
		fallbacks.Add(1)
		return stock(node, vjps, outputShape) // the axes read do not describe this node
	}
	return []*Node{gl, gr}
}
