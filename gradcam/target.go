package gradcam

import (
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Target is the scalar being explained, a function of the model's outputs, as graph code.
//
// Fn receives the logits [B, classes] and the class of each image [B] (int32, already resolved:
// the top-1 prediction where none was asked) and returns one score per image, [B]. Images are
// independent (inference-mode networks), so the explainer differentiates the sum over the batch.
//
// Name identifies the function in the cache of compiled graphs: two targets with the same Name
// must compute the same thing.
type Target struct {
	Name string
	Fn   func(logits, class *Node) *Node
}

// Logit is the default target: the pre-softmax score of the class, as in the Grad-CAM paper.
var Logit = Target{Name: "logit", Fn: func(logits, class *Node) *Node {
	return ReduceSum(Mul(logits, OneHot(class, logits.Shape().Dimensions[1], logits.DType())), 1)
}}

// Probability targets the softmax probability of the class.
var Probability = Target{Name: "probability", Fn: func(logits, class *Node) *Node {
	return Logit.Fn(Softmax(logits, 1), class)
}}

// ClassSum targets the sum of the logits of fixed classes (e.g. every dog breed); the per-image
// class is ignored. Its Name is name followed by the classes, so two sums under one name over
// different classes are two targets.
func ClassSum(name string, classes ...int) Target {
	key := make([]string, len(classes))
	for i, c := range classes {
		key[i] = strconv.Itoa(c)
	}
	return Target{Name: "sum:" + name + "[" + strings.Join(key, ",") + "]", Fn: func(logits, _ *Node) *Node {
		idx := make([]int32, len(classes))
		for i, c := range classes {
			idx[i] = int32(c)
		}
		mask := ReduceSum(OneHot(Const(logits.Graph(), idx), logits.Shape().Dimensions[1], logits.DType()), 0)
		return ReduceSum(Mul(logits, ExpandLeftToRank(mask, 2)), 1)
	}}
}

// resolveClass replaces negative classes by the argmax of the logits.
func resolveClass(logits, class *Node) *Node {
	top := ConvertDType(ArgMax(logits, 1), dtypes.Int32)
	return Where(GreaterOrEqual(class, ZerosLike(class)), class, top)
}
