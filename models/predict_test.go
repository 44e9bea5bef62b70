package models

import (
	"math"
	"testing"
)

// TestTopKAndProbabilities: TopK ranks classes best first with ties in class order and cuts at k
// (0 and past the end included), each with its softmax probability, which Probabilities gives
// for every class: summing to 1, a class's odds to another exp of their logits' difference.
func TestTopKAndProbabilities(t *testing.T) {
	logits := []float32{1, 3, -2, 3, 0.5}
	probs := Probabilities(logits)
	sum := 0.0
	for _, p := range probs {
		sum += p
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("probabilities sum to %v", sum)
	}
	if got, want := probs[1]/probs[0], math.Exp(2); math.Abs(got-want) > 1e-9 {
		t.Errorf("odds of class 1 to class 0 %v, want %v", got, want)
	}
	for _, tc := range []struct {
		k    int
		want []int
	}{{0, []int{}}, {1, []int{1}}, {3, []int{1, 3, 0}}, {9, []int{1, 3, 0, 4, 2}}} {
		got := TopK(logits, []string{"a", "b"}, tc.k)
		if len(got) != len(tc.want) {
			t.Fatalf("k %d: %d predictions, want %d", tc.k, len(got), len(tc.want))
		}
		for i, p := range got {
			if p.Class != tc.want[i] || p.Probability != probs[p.Class] || p.Logit != logits[p.Class] {
				t.Errorf("k %d, rank %d: %+v, want class %d with probability %v", tc.k, i, p, tc.want[i], probs[tc.want[i]])
			}
		}
		if tc.k >= 2 && got[0].Label != "b" {
			t.Errorf("best class labelled %q, want b", got[0].Label)
		}
	}
}
