package models

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Prediction is one class of a model's answer for an image.
type Prediction struct {
	Class       int
	Label       string
	Probability float64 // softmax of the logits
	Logit       float32
}

// TopK returns the k most probable classes for one image's logits, best first (ties in class
// order), named by labels (which may be nil).
func TopK(logits []float32, labels []string, k int) []Prediction {
	probs := Probabilities(logits)
	preds := make([]Prediction, len(logits))
	for i, l := range logits {
		preds[i] = Prediction{Class: i, Probability: probs[i], Logit: l}
		if i < len(labels) {
			preds[i].Label = labels[i]
		}
	}
	sort.SliceStable(preds, func(a, b int) bool { return preds[a].Logit > preds[b].Logit })
	return preds[:min(max(k, 0), len(preds))]
}

// Probabilities is the softmax of one image's logits, in float64: each class's exp(l - max) over
// their sum.
func Probabilities(logits []float32) []float64 {
	maxLogit := math.Inf(-1)
	for _, l := range logits {
		maxLogit = max(maxLogit, float64(l))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		probs[i] = math.Exp(float64(l) - maxLogit)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs
}

// Predict runs the model on a preprocessed batch and returns the top k classes of each image.
func (m *Model) Predict(images *tensors.Tensor, k int) ([][]Prediction, error) {
	if k < 1 {
		return nil, fmt.Errorf("top-k must be at least 1, got %d", k)
	}
	logits, err := m.Logits(images)
	if err != nil {
		return nil, err
	}
	out := make([][]Prediction, len(logits))
	for i, l := range logits {
		out[i] = TopK(l, m.Labels, k)
	}
	return out, nil
}

// Transform is the transform of the model's network at its input size (nn.Network.Input).
func (m *Model) Transform(mode preprocess.Resize) (preprocess.Transform, error) {
	if len(m.Input) != 3 || (m.Input[0] != 1 && m.Input[0] != 3) {
		return preprocess.Transform{}, fmt.Errorf("%s takes %v inputs, not 1- or 3-channel images", m.Name, m.Input)
	}
	return preprocess.Transform{Height: m.Input[1], Width: m.Input[2], Resize: mode, Channels: m.Input[0], Mean: m.Mean, Std: m.Std}, nil
}
