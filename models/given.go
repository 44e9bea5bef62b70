package models

import (
	"fmt"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/nn"
)

// Given is a model whose side inputs (nn.Network.Side) are held fixed: a VQA model with one
// question, a captioner with one caption. It explains its image input as any model does
// (gradcam.New(given)); every image of a batch gets the same side inputs.
type Given struct {
	*Model
	side map[string]*tensors.Tensor // [shape...] or [1, shape...]
}

// Given holds the network's side inputs fixed at values, one per nn.Network.Side by name, each
// one example's ([shape...] or [1, shape...]) of the declared type.
func (m *Model) Given(values map[string]*tensors.Tensor) (*Given, error) {
	if len(m.Side) == 0 {
		return nil, fmt.Errorf("%s takes no side inputs", m.Name)
	}
	side := map[string]*tensors.Tensor{}
	for _, in := range m.Side {
		t, ok := values[in.Name]
		if !ok {
			return nil, fmt.Errorf("%s needs its side input %q", m.Name, in.Name)
		}
		s := t.Shape()
		dims := s.Dimensions
		if len(dims) == len(in.Shape)+1 && len(dims) > 0 && dims[0] == 1 {
			dims = dims[1:]
		}
		if s.DType != in.DType || !slices.Equal(dims, in.Shape) {
			return nil, fmt.Errorf("%s's side input %q is %s %v, got %s", m.Name, in.Name, in.DType, in.Shape, s)
		}
		side[in.Name] = t
	}
	for name := range values {
		if !slices.ContainsFunc(m.Side, func(in nn.SideInput) bool { return in.Name == name }) {
			return nil, fmt.Errorf("%s has no side input %q", m.Name, name)
		}
	}
	return &Given{Model: m, side: side}, nil
}

// ForwardWith builds the network with the side inputs as constants, repeated for every image.
func (g *Given) ForwardWith(ctx *context.Context, inputs *Node, cfg nn.Config) *nn.Forward {
	batch := inputs.Shape().Dimensions[0]
	cfg.Side = map[string]*Node{}
	for _, in := range g.Side {
		c := Reshape(ConstTensor(inputs.Graph(), g.side[in.Name]), append([]int{1}, in.Shape...)...)
		cfg.Side[in.Name] = BroadcastToDims(c, append([]int{batch}, in.Shape...)...)
	}
	return g.Model.ForwardWith(ctx, inputs, cfg)
}
