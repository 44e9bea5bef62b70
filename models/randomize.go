package models

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gradcam-go/gradcam/models/checkpoint"
)

// ParamLayers lists the layers (module paths) that own parameters, from the input to the output
// in the order the network declares them: "block1.conv", "block1.bn", ..., "fc".
func (m *Model) ParamLayers() []string {
	var out []string
	for _, p := range m.Params {
		i := strings.LastIndex(p.Key, ".")
		if i < 0 {
			continue
		}
		if l := p.Key[:i]; !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// Randomized returns a copy of the model on the same backend whose parameters in the given
// layers (a parameter belongs to layer L when its key starts with L + ".") are initialized
// again as New initializes them, from seed, and whose other parameters are copied: the
// model-parameter randomization of Adebayo et al.'s sanity checks (2018).
func (m *Model) Randomized(layers []string, seed uint64) (*Model, error) {
	if m.Network == nil {
		return nil, fmt.Errorf("model %s has no network definition to re-initialize", m.Name)
	}
	known := m.ParamLayers()
	for _, l := range layers {
		if !slices.Contains(known, l) {
			return nil, fmt.Errorf("model %s has no layer %q with parameters; those are %s", m.Name, l, strings.Join(known, ", "))
		}
	}
	fresh := initWeights(m.Spec, seed)
	weights := map[string]*checkpoint.Tensor{}
	for _, p := range m.Params {
		if slices.ContainsFunc(layers, func(l string) bool { return strings.HasPrefix(p.Key, l+".") }) {
			weights[p.Key] = fresh[p.Key]
			continue
		}
		t, err := m.Param(p.Key)
		if err != nil {
			return nil, err
		}
		weights[p.Key] = t
	}
	out, err := NewModel(m.Network, weights, fmt.Sprintf("%s with %s re-initialized (seed %d)", m.Source, strings.Join(layers, ", "), seed), OnBackend(m.Backend()))
	if err != nil {
		return nil, err
	}
	if m.DType() != out.DType() {
		return out.Float64()
	}
	return out, nil
}
