// Package fastvjp replaces gomlx v0.26.0's gradient of DotGeneral (Einsum, Dot, MatMul, Linear layers).
//
// The stock graph.dotGeneralVJP builds the gradient as a *broadcast Mul followed by ReduceSum*,
// materializing a [batch, lhsCross, rhsCross, contracting] tensor. XLA fuses that; simplego doesn't:
// for an im2col conv (3136x576 . 576x64) it allocates 115M floats, and for VGG fc6 at batch 8 ~822M.
// This version expresses both gradients as DotGeneral ops (what simplego parallelizes).
//
// The node's axes live in an unexported struct; they are read with reflect (read-only), so this is
// tied to gomlx v0.26.0 internals (field names lhsContractingAxes, lhsBatchAxes, rhsContractingAxes,
// rhsBatchAxes of the node's "inputs" field).
package fastvjp

import (
	"reflect"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

var installOnce sync.Once

// Install overrides graph.VJPRegistration[NodeTypeDotGeneral]. It is idempotent and safe to call
// from several goroutines; call it before building graphs.
func Install() {
	installOnce.Do(func() { VJPRegistration[NodeTypeDotGeneral] = dotGeneralVJP })
}

func intsField(params reflect.Value, name string) []int {
	f := params.FieldByName(name)
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out
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

func dotGeneralVJP(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
	v := vjps[0]
	params := reflect.ValueOf(node).Elem().FieldByName("inputs").Elem().Elem()
	lhsC, lhsB := intsField(params, "lhsContractingAxes"), intsField(params, "lhsBatchAxes")
	rhsC, rhsB := intsField(params, "rhsContractingAxes"), intsField(params, "rhsBatchAxes")
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
	return []*Node{gl, gr}
}
