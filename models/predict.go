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

// TopK returns the k most probable classes for one image's logits, best first, named by labels
// (which may be nil).
func TopK(logits []float32, labels []string, k int) []Prediction {
	maxLogit := math.Inf(-1)
	for _, l := range logits {
		maxLogit = max(maxLogit, float64(l))
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l) - maxLogit)
	}
	preds := make([]Prediction, len(logits))
	for i, l := range logits {
		preds[i] = Prediction{Class: i, Probability: math.Exp(float64(l)-maxLogit) / sum, Logit: l}
		if i < len(labels) {
			preds[i].Label = labels[i]
		}
	}
	sort.SliceStable(preds, func(a, b int) bool { return preds[a].Logit > preds[b].Logit })
	return preds[:min(max(k, 0), len(preds))]
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
