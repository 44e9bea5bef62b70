package models

import (
	"fmt"
	"slices"

	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/nn"
)

// Save writes the model's parameters as a .safetensors file with PyTorch's names, shapes and
// layouts, and its labels beside it and in its metadata (checkpoint.Write): torch's
// safetensors.torch.load_file + load_state_dict reads it, and LoadNetwork or LoadFile loads it
// back. The files are written atomically.
func (m *Model) Save(path string) error {
	params := make(map[string]*checkpoint.Tensor, len(m.Params))
	keys := make([]string, len(m.Params))
	for i, p := range m.Params {
		t, err := m.Param(p.Key)
		if err != nil {
			return fmt.Errorf("saving %s: %w", p.Key, err)
		}
		keys[i], params[p.Key] = p.Key, t
	}
	return checkpoint.Write(path, m.Name, m.Labels, keys, params)
}

// Adapt creates a model of net taking every parameter of weights whose key and shape match
// (a pretrained body) and initializing the others as New does (a new head), deterministic from
// seed. It returns the keys it initialized. This is fine-tuning's start: an ImageNet ResNet-18's
// weights adapted to Arch.WithOutputs(10, labels), or VGG-16's features under a new GAP head.
func Adapt(net *nn.Network, weights map[string]*checkpoint.Tensor, seed uint64, opts ...Option) (*Model, []string, error) {
	spec, err := net.Spec()
	if err != nil {
		return nil, nil, err
	}
	all := initWeights(spec, seed)
	var initialized []string
	for _, p := range spec.Params {
		if w, ok := weights[p.Key]; ok && slices.Equal(w.Shape, p.Shape) {
			all[p.Key] = w
		} else {
			initialized = append(initialized, p.Key)
		}
	}
	if len(initialized) == len(spec.Params) {
		return nil, nil, fmt.Errorf("no parameter of the checkpoint fits %s (no key with a matching shape): is it another architecture?", net.Name)
	}
	m, err := NewModel(net, all, "adapted", opts...)
	return m, initialized, err
}
