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
func Logit() Target { return Target{Name: "logit", Fn: classScore} }

// classScore is each image's score of its class, scores [B, classes].
func classScore(scores, class *Node) *Node {
	return ReduceSum(Mul(scores, OneHot(class, scores.Shape().Dimensions[1], scores.DType())), 1)
}

// Probability targets the softmax probability of the class.
func Probability() Target {
	return Target{Name: "probability", Fn: func(logits, class *Node) *Node { return classScore(Softmax(logits, 1), class) }}
}

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

// StepLogProbability targets a word's log-probability at its step, for models that score a
// vocabulary of words at each of several steps, outputs [B, steps*words] (a captioner): class
// k*words + w is word w at step k, scored by the log-softmax over step k's words.
func StepLogProbability(words int) Target {
	return Target{Name: "step-logprob:" + strconv.Itoa(words), Fn: func(logits, class *Node) *Node {
		b := logits.Shape().Dimensions[0]
		logp := Reshape(LogSoftmax(Reshape(logits, b, -1, words), -1), b, -1)
		return classScore(logp, class)
	}}
}

// SequenceLogProbability targets the log-probability of a whole sequence of words, one per step
// (a caption, its end included): the sum of StepLogProbability over the steps. The per-image class
// is ignored.
func SequenceLogProbability(words int, sequence []int) Target {
	key := make([]string, len(sequence))
	classes := make([]int, len(sequence))
	for k, w := range sequence {
		key[k], classes[k] = strconv.Itoa(w), k*words+w
	}
	return Target{Name: "sequence-logprob:" + strconv.Itoa(words) + "[" + strings.Join(key, ",") + "]", Fn: func(logits, _ *Node) *Node {
		b := logits.Shape().Dimensions[0]
		logp := Reshape(LogSoftmax(Reshape(logits, b, -1, words), -1), b, -1)
		return ClassSum("", classes...).Fn(logp, nil)
	}}
}
