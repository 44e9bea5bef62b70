package models

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/nn"
)

// Param returns a parameter by its torchvision key, in torchvision's layout (convolution
// kernels [out, in, kh, kw]), e.g. "features.0.weight" for the first-layer filters.
func (m *Model) Param(key string) (*checkpoint.Tensor, error) {
	i := slices.IndexFunc(m.Params, func(p nn.ParamSpec) bool { return p.Key == key })
	if i < 0 {
		return nil, fmt.Errorf("model %s has no parameter %q", m.Name, key)
	}
	p := m.Params[i]
	v := m.ctx.GetVariableByScopeAndName(context.RootScope, key)
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	return &checkpoint.Tensor{Shape: slices.Clone(p.Shape), Data: nn.FromInternal(toFloat32s(t), p.Shape, p.Layout)}, nil
}

func toFloat32s(t *tensors.Tensor) []float32 {
	var out []float32
	t.MustConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			out = slices.Clone(f)
		case []float64:
			out = make([]float32, len(f))
			for i, v := range f {
				out[i] = float32(v)
			}
		}
	})
	return out
}

// Activations runs the model on a preprocessed batch and returns the named layers' outputs in
// PyTorch's layout (NCHW or NCL for spatial activations).
func (m *Model) Activations(images *tensors.Tensor, layers ...string) (map[string]*checkpoint.Tensor, error) {
	if err := m.CheckInput(images); err != nil {
		return nil, err
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("no layer given")
	}
	var outs []*tensors.Tensor
	err := catch.Panic(func() error {
		exec, err := m.activationsExec(layers)
		if err != nil {
			return err
		}
		outs, err = exec.Exec(images)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s activations: %w", m.Name, err)
	}
	res := map[string]*checkpoint.Tensor{}
	for i, l := range layers {
		res[l] = &checkpoint.Tensor{Shape: slices.Clone(outs[i].Shape().Dimensions), Data: toFloat32s(outs[i])}
		outs[i].FinalizeAll()
	}
	return res, nil
}

// activationsExec returns the executor of Activations for these layers, made once per layer list
// and kept with the model (the executor compiles once per input shape): the batch loops of
// features.Embeddings and visualize.TopPatches call Activations once per batch.
func (m *Model) activationsExec(layers []string) (*context.Exec, error) {
	key := strings.Join(layers, "\x00")
	m.mu.Lock()
	defer m.mu.Unlock()
	if exec := m.activations[key]; exec != nil {
		return exec, nil
	}
	layers = slices.Clone(layers)
	exec, err := context.NewExec(m.backend, m.ctx, func(ctx *context.Context, x *Node) []*Node {
		fw := m.ForwardInference(ctx, x)
		nodes := make([]*Node, len(layers))
		for i, l := range layers {
			n, err := fw.Tap(l)
			if err != nil {
				panic(err)
			}
			// A new node after the whole network: simplego (GoMLX v0.26.0) indexes out of
			// range when a graph input (a later layer's unused weights) comes after the last
			// output, as it would for a [batch, features] tap such as "gap".
			nodes[i] = Identity(n)
		}
		return nodes
	})
	if err != nil {
		return nil, err
	}
	if m.activations == nil {
		m.activations = map[string]*context.Exec{}
	}
	m.activations[key] = exec
	return exec, nil
}
