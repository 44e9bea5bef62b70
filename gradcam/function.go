package gradcam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/nn"
)

// ModelFunc is a model written as a plain GoMLX function, with GoMLX's own layers
// (pkg/ml/layers) or any graph code: it takes a batch and returns the outputs, [batch, outputs].
//
// To be explained it marks the activations to explain with nn.Tap(ctx, name, x), which records
// them and otherwise returns x unchanged. Guided backpropagation, the deconvnet and Guided
// Grad-CAM also need its ReLUs written as nn.ReLU(ctx, x). Both cost nothing in training and
// inference graphs, so the same function is trained with GoMLX's trainer and explained.
type ModelFunc func(ctx *context.Context, x *graph.Node) *graph.Node

// FuncOptions describe a ModelFunc to FromFunc.
type FuncOptions struct {
	// Name identifies the model in messages and figures.
	Name string
	// Input is one example's shape in PyTorch's layout: [C, H, W] images, [C, L] sequences.
	// Explanations take batches in that layout.
	Input []int
	// ChannelsFirst says the function takes NCHW (NCL) batches; by default it takes channels-last
	// ones (NHWC, NLC), GoMLX's convention, and the adapter transposes.
	ChannelsFirst bool
	// Labels name the outputs; optional.
	Labels []string
	// DefaultLayer is the tapped layer explanations use when none is asked; empty means the last
	// tapped spatial activation.
	DefaultLayer string
	// CAMDense, for CAM, is the context scope of the layers.Dense that computes the outputs from
	// the global average of DefaultLayer's channels: the scope it was called in ("/readout" for
	// layers.Dense(ctx.In("readout"), ...)) or the one holding its variables ("/readout/dense").
	// Empty: CAM does not apply.
	CAMDense string
	// Backend computes the model; nil means backend.New().
	Backend backends.Backend
}

// funcModel is a ModelFunc adapted to Model.
type funcModel struct {
	fn      ModelFunc
	ctx     *context.Context
	backend backends.Backend
	o       FuncOptions
	desc    *nn.Description
	dtype   dtypes.DType
}

// FromFunc adapts a GoMLX model function and the context holding its (trained) variables to
// Model, for New. It builds the function once at batch 1 to learn its outputs and tapped layers.
func FromFunc(fn ModelFunc, ctx *context.Context, o FuncOptions) (Model, error) {
	if fn == nil || ctx == nil {
		return nil, fmt.Errorf("FromFunc needs the model function and the context holding its variables")
	}
	if o.Name == "" {
		o.Name = "model"
	}
	if len(o.Input) < 2 || len(o.Input) > 3 || slices.ContainsFunc(o.Input, func(d int) bool { return d < 1 }) {
		return nil, fmt.Errorf("%s: Input must be one example's shape [C, H, W] or [C, L] with positive sizes, got %v", o.Name, o.Input)
	}
	b := o.Backend
	if b == nil {
		var err error
		if b, err = backend.New(); err != nil {
			return nil, err
		}
	}
	m := &funcModel{fn: fn, ctx: ctx.Reuse(), backend: b, o: o}
	if err := m.describe(); err != nil {
		return nil, err
	}
	return m, nil
}

// describe builds the function on a throwaway graph (never compiled) at batch 1.
func (m *funcModel) describe() error {
	d := &nn.Description{Name: m.o.Name, Input: slices.Clone(m.o.Input), Labels: m.o.Labels}
	err := catch.Panic(func() error {
		g := graph.NewGraph(m.backend, "describe-"+m.o.Name)
		defer g.Finalize()
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, append([]int{1}, m.o.Input...)...))
		fw := m.ForwardWith(m.ctx, x, nn.Config{})
		out := fw.Output
		if out == nil || out.Rank() != 2 {
			shape := "nothing"
			if out != nil {
				shape = out.Shape().String()
			}
			return fmt.Errorf("the function must return the outputs as [batch, outputs], returned %s", shape)
		}
		d.Outputs, m.dtype = out.Shape().Dimensions[1], out.DType()
		for _, name := range fw.TapNames() {
			a, _ := fw.Tap(name)
			d.Layers = append(d.Layers, nn.LayerInfo{Name: name, Shape: slices.Clone(a.Shape().Dimensions)})
		}
		d.RuleReLUs = fw.RuleReLUs()
		return nil
	})
	if err != nil {
		return fmt.Errorf("building %s: %w", m.o.Name, err)
	}
	if len(m.o.Labels) > 0 && len(m.o.Labels) != d.Outputs {
		return fmt.Errorf("%s has %d outputs but %d labels: give one label per output", m.o.Name, d.Outputs, len(m.o.Labels))
	}
	spatial := d.ExplainableLayers()
	if len(spatial) == 0 {
		return fmt.Errorf("%s taps no spatial activation: mark the layers to explain with nn.Tap(ctx, name, x)", m.o.Name)
	}
	d.DefaultLayer = m.o.DefaultLayer
	if d.DefaultLayer == "" {
		d.DefaultLayer = spatial[len(spatial)-1]
	} else if !slices.Contains(spatial, d.DefaultLayer) {
		return fmt.Errorf("%s: default layer %q is not a tapped spatial activation; tapped: %s", m.o.Name, d.DefaultLayer,
			strings.Join(spatial, ", "))
	}
	d.NoCAM = "a GoMLX function does not say which layer follows global average pooling (set FuncOptions.CAMDense)"
	if m.o.CAMDense != "" {
		if err := m.checkCAMDense(d); err != nil {
			return err
		}
		d.CAM, d.NoCAM = &nn.CAMHead{Layer: d.DefaultLayer, Aliases: []string{d.DefaultLayer},
			Weight: m.denseVariable("weights").ScopeAndName()}, ""
	}
	m.desc = d
	return nil
}

// checkCAMDense checks that CAMDense's weights map DefaultLayer's channels to the outputs.
func (m *funcModel) checkCAMDense(d *nn.Description) error {
	w := m.denseVariable("weights")
	if w == nil {
		return fmt.Errorf("%s: CAMDense %q holds no variable \"weights\" (give the scope of the layers.Dense after global "+
			"average pooling, e.g. \"/readout\")", m.o.Name, m.o.CAMDense)
	}
	channels := 0
	for _, l := range d.Layers {
		if l.Name == d.DefaultLayer {
			channels = l.Shape[1]
		}
	}
	if want := []int{channels, d.Outputs}; !slices.Equal(w.Shape().Dimensions, want) {
		return fmt.Errorf("%s: CAMDense %q weights are %v, but CAM needs %v (%s's channels x outputs)", m.o.Name,
			m.o.CAMDense, w.Shape().Dimensions, want, d.DefaultLayer)
	}
	return nil
}

// denseVariable is CAMDense's variable of that name, nil if there is none.
func (m *funcModel) denseVariable(name string) *context.Variable {
	scope := strings.TrimSuffix(m.o.CAMDense, "/")
	if v := m.ctx.GetVariableByScopeAndName(scope, name); v != nil {
		return v
	}
	return m.ctx.GetVariableByScopeAndName(scope+"/dense", name)
}

func (m *funcModel) Describe() *nn.Description { return m.desc }
func (m *funcModel) Backend() backends.Backend { return m.backend }
func (m *funcModel) Context() *context.Context { return m.ctx }
func (m *funcModel) DType() dtypes.DType       { return m.dtype }

func (m *funcModel) ForwardWith(ctx *context.Context, inputs *graph.Node, cfg nn.Config) *nn.Forward {
	return nn.BuildFunction(ctx, inputs, cfg, m.o.ChannelsFirst, m.fn)
}

func (m *funcModel) CAMWeights(ctx *context.Context, g *graph.Graph) (w, b *graph.Node, err error) {
	if err := m.desc.CheckCAM(); err != nil {
		return nil, nil, err
	}
	w = graph.Transpose(m.denseVariable("weights").ValueGraph(g), 0, 1)
	if bv := m.denseVariable("biases"); bv != nil {
		b = bv.ValueGraph(g)
	} else {
		b = graph.Zeros(g, shapes.Make(w.DType(), m.desc.Outputs))
	}
	return w, b, nil
}
