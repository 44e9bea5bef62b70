package models

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/catch"
)

// InputSize is the side of the square images the models take (torchvision's ImageNet size).
const InputSize = 224

// NumClasses is the number of ImageNet classes the models predict.
const NumClasses = 1000

// Model is a torchvision architecture with its weights, ready to build graphs on a backend.
type Model struct {
	*Arch
	// Source names where the weights came from (a file path).
	Source string

	backend backends.Backend
	ctx     *context.Context
	conv    convImpl

	dtype dtypes.DType

	mu            sync.Mutex
	predict       *context.Exec
	forwardBuilds atomic.Int64
}

// ParamSpec is one parameter an architecture expects, with torchvision's name and shape.
type ParamSpec struct {
	Key   string
	Shape []int
	kind  layout
}

// LayerInfo describes a tapped activation at InputSize input.
type LayerInfo struct {
	Name  string // torchvision module path
	Shape []int  // NCHW (or [batch, features]) at batch 1
}

type archSpec struct {
	params []ParamSpec
	layers []LayerInfo
}

var (
	specMu    sync.Mutex
	specCache = map[string]*archSpec{}
)

// spec builds the architecture on a throwaway graph (never compiled) to learn its parameters
// and activations.
func (a *Arch) spec() (*archSpec, error) {
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specCache[a.Name]; ok {
		return s, nil
	}
	s := &archSpec{}
	b, err := simplego.New("")
	if err != nil {
		return nil, err
	}
	defer b.Finalize()
	err = catch.Panic(func() error {
		g := NewGraph(b, "spec-"+a.Name)
		defer g.Finalize()
		x := Parameter(g, "x", shapes.Make(dtypes.Float32, 1, InputSize, InputSize, 3))
		n := newNet(g, func(key string, shape []int, l layout) *Node {
			s.params = append(s.params, ParamSpec{Key: key, Shape: shape, kind: l})
			return Parameter(g, key, shapes.Make(dtypes.Float32, internalShape(shape, l, im2col)...))
		}, im2col, true)
		a.build(n, x)
		for _, name := range n.fw.order {
			d := n.fw.taps[name].Shape().Dimensions
			if len(d) == 4 {
				d = []int{d[0], d[3], d[1], d[2]}
			}
			s.layers = append(s.layers, LayerInfo{Name: name, Shape: slices.Clone(d)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", a.Name, err)
	}
	specCache[a.Name] = s
	return s, nil
}

// Params lists the parameters the architecture expects (torchvision state_dict keys and shapes,
// without BatchNorm's num_batches_tracked, which inference does not use).
func (a *Arch) Params() ([]ParamSpec, error) {
	s, err := a.spec()
	if err != nil {
		return nil, err
	}
	return s.params, nil
}

// Layers lists every tapped activation in forward order.
func (a *Arch) Layers() ([]LayerInfo, error) {
	s, err := a.spec()
	if err != nil {
		return nil, err
	}
	return s.layers, nil
}

// ExplainableLayers lists the names of the spatial activations (4-D), the layers Grad-CAM and
// the other activation-based methods can explain.
func (a *Arch) ExplainableLayers() []string {
	layers, err := a.Layers()
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range layers {
		if len(l.Shape) == 4 {
			out = append(out, l.Name)
		}
	}
	return out
}

// internalShape is the shape a parameter has inside the graph. For im2col convolutions a
// convHWIO kernel is the matrix [kh*kw*I, O] (same data): a Reshape of a parameter would copy it
// on every call of the pure-Go backend.
func internalShape(torch []int, l layout, conv convImpl) []int {
	switch {
	case l == convHWIO && conv == im2col:
		return []int{torch[2] * torch[3] * torch[1], torch[0]}
	case l == convHWIO:
		return []int{torch[2], torch[3], torch[1], torch[0]}
	case l == depthwise:
		return []int{torch[2], torch[3], torch[0]}
	}
	return slices.Clone(torch)
}

// toInternal converts a torchvision-layout tensor's data to the graph layout.
func toInternal(data []float32, torch []int, l layout) []float32 {
	if l == asIs {
		return data
	}
	out := make([]float32, len(data))
	eachLayoutIndex(torch, l, func(t, g int) { out[g] = data[t] })
	return out
}

// eachLayoutIndex calls fn with every element's index in torchvision's layout (t) and in the
// graph's layout (g), for convolution kernels [O, I, kh, kw].
func eachLayoutIndex(torch []int, l layout, fn func(t, g int)) {
	o, i, kh, kw := torch[0], torch[1], torch[2], torch[3]
	for a := range o {
		for b := range i {
			for y := range kh {
				for x := range kw {
					g := ((y*kw+x)*i+b)*o + a // convHWIO: [kh, kw, I, O]
					if l == depthwise {       // [kh, kw, C], I == 1
						g = (y*kw+x)*o + a
					}
					fn(((a*i+b)*kh+y)*kw+x, g)
				}
			}
		}
	}
}

// NewModel binds an architecture to weights (torchvision state_dict keys) on a backend (nil:
// backend.New()). Every expected key must be present with the right shape; extra keys are an
// error too (it is most likely another architecture's checkpoint), except num_batches_tracked.
func NewModel(a *Arch, weights map[string]*Tensor, source string, b backends.Backend) (*Model, error) {
	if b == nil {
		var err error
		if b, err = backend.New(); err != nil {
			return nil, err
		}
	}
	params, err := a.Params()
	if err != nil {
		return nil, err
	}
	if err := checkWeights(a, params, weights, source); err != nil {
		return nil, err
	}
	conv := im2col
	if !backend.IsPureGo(b) {
		conv = native
	}
	ctx := context.New()
	for _, p := range params {
		w := weights[p.Key]
		data := toInternal(w.Data, p.Shape, p.kind)
		t := tensors.FromFlatDataAndDimensions(data, internalShape(p.Shape, p.kind, conv)...)
		// Placed on the backend now, shared where the backend allows (one copy, no transfer
		// in the first explanation).
		if err := t.MaterializeOnDevice(b, true, 0); err != nil {
			return nil, fmt.Errorf("placing %s on backend %s: %w", p.Key, b.Name(), err)
		}
		ctx.VariableWithValue(p.Key, t)
	}
	m := &Model{Arch: a, Source: source, backend: b, ctx: ctx.Reuse(), conv: conv, dtype: dtypes.Float32}
	return m, nil
}

// checkWeights compares a checkpoint with what the architecture expects.
func checkWeights(a *Arch, params []ParamSpec, weights map[string]*Tensor, source string) error {
	want := map[string]bool{}
	var missing, wrongShape []string
	for _, p := range params {
		want[p.Key] = true
		w, ok := weights[p.Key]
		switch {
		case !ok:
			missing = append(missing, p.Key)
		case !slices.Equal(w.Shape, p.Shape):
			wrongShape = append(wrongShape, fmt.Sprintf("%s is %v, %s needs %v", p.Key, w.Shape, a.Name, p.Shape))
		}
	}
	var extra []string
	for k := range weights {
		if !want[k] && !strings.HasSuffix(k, ".num_batches_tracked") {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(wrongShape)+len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d missing keys (%s)", len(missing), firstFew(missing)))
	}
	if len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected keys (%s)", len(extra), firstFew(extra)))
	}
	if len(wrongShape) > 0 {
		parts = append(parts, fmt.Sprintf("%d shape mismatches (%s)", len(wrongShape), firstFew(wrongShape)))
	}
	msg := fmt.Sprintf("%s is not a %s checkpoint: %s", source, a.Name, strings.Join(parts, "; "))
	if guess := guessArch(weights); guess != "" && guess != a.Name {
		msg += fmt.Sprintf("; it looks like a %s checkpoint (try --model %s)", guess, guess)
	}
	return fmt.Errorf("%s", msg)
}

func firstFew(s []string) string {
	if len(s) <= 3 {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:3], ", ") + ", ..."
}

// guessArch names the architecture whose parameters a checkpoint matches exactly, if any.
func guessArch(weights map[string]*Tensor) string {
	for _, name := range Names() {
		params, err := archs[name].Params()
		if err != nil || len(params) > len(weights) {
			continue
		}
		ok := true
		for _, p := range params {
			if w, found := weights[p.Key]; !found || !slices.Equal(w.Shape, p.Shape) {
				ok = false
				break
			}
		}
		if ok {
			return name
		}
	}
	return ""
}

// Backend is the backend the model computes on.
func (m *Model) Backend() backends.Backend { return m.backend }

// Context holds the model's weights as GoMLX variables named by their torchvision keys (in the
// graph's layout: convolution kernels [kh, kw, in, out]). Pass it to context.NewExec together
// with a function that calls Forward.
func (m *Model) Context() *context.Context { return m.ctx }

// Forward builds the network on images, an NCHW float32 batch ([B, 3, 224, 224], normalized as
// Preprocess does), in the graph being built by a context.Exec over m.Context().
func (m *Model) Forward(ctx *context.Context, images *Node) *Forward {
	return m.forward(ctx, images, false)
}

// ForwardInference is Forward for graphs that take no gradients through the network (scores for
// occlusion, predictions): plain ReLUs, without the custom-gradient identities, so it is a little
// cheaper. Gradient through its ReLUs follows graph's default rule, not a models.Rule.
func (m *Model) ForwardInference(ctx *context.Context, images *Node) *Forward {
	return m.forward(ctx, images, true)
}

func (m *Model) forward(ctx *context.Context, images *Node, plain bool) *Forward {
	m.forwardBuilds.Add(1)
	g := images.Graph()
	n := newNet(g, func(key string, shape []int, l layout) *Node {
		v := ctx.GetVariableByScopeAndName(context.RootScope, key)
		if v == nil {
			panic(fmt.Sprintf("model %s has no parameter %q", m.Name, key))
		}
		return v.ValueGraph(g)
	}, m.conv, plain)
	n.fw.Input = images
	n.fw.Logits = m.build(n, TransposeAllAxes(images, 0, 2, 3, 1))
	return n.fw
}

// DType is the precision the model computes in (float32, or float64 after Float64).
func (m *Model) DType() dtypes.DType { return m.dtype }

// Float64 returns a copy of the model that computes in float64, on the same backend: slower,
// for verification (near-ties of max pooling, which float32 rounding may order differently
// from exact arithmetic, are decided like PyTorch's float64).
func (m *Model) Float64() *Model {
	ctx := context.New()
	for v := range m.ctx.IterVariables() {
		t, err := v.Value()
		if err != nil {
			panic(err)
		}
		f32 := tensors.MustCopyFlatData[float32](t)
		f64 := make([]float64, len(f32))
		for i, x := range f32 {
			f64[i] = float64(x)
		}
		ctx.VariableWithValue(v.Name(), tensors.FromFlatDataAndDimensions(f64, t.Shape().Dimensions...))
	}
	return &Model{Arch: m.Arch, Source: m.Source, backend: m.backend, ctx: ctx.Reuse(), conv: m.conv, dtype: dtypes.Float64}
}

// ForwardBuilds counts how many times the network has been built into a graph (a graph built
// once and executed many times counts once). Tests use it to prove work is shared.
func (m *Model) ForwardBuilds() int64 { return m.forwardBuilds.Load() }

// Logits runs the model on a preprocessed NCHW batch and returns the logits, [B, 1000].
func (m *Model) Logits(images *tensors.Tensor) (logits [][]float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.CheckInput(images); err != nil {
		return nil, err
	}
	if m.predict == nil {
		m.predict, err = context.NewExec(m.backend, m.ctx, func(ctx *context.Context, x *Node) *Node {
			return m.ForwardInference(ctx, x).Logits
		})
		if err != nil {
			return nil, err
		}
	}
	var out []*tensors.Tensor
	if err := catch.Panic(func() (err error) { out, err = m.predict.Exec(images); return err }); err != nil {
		return nil, fmt.Errorf("%s forward: %w", m.Name, err)
	}
	defer out[0].FinalizeAll()
	if m.dtype != dtypes.Float32 {
		return nil, fmt.Errorf("Logits returns float32: use a float32 model")
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	b := out[0].Shape().Dimensions[0]
	for i := range b {
		logits = append(logits, flat[i*NumClasses:(i+1)*NumClasses])
	}
	return logits, nil
}

// CheckInput validates an image batch: [batch, 3, 224, 224] in the model's precision.
func (m *Model) CheckInput(images *tensors.Tensor) error {
	s := images.Shape()
	if s.DType != m.dtype || s.Rank() != 4 || s.Dimensions[0] < 1 || s.Dimensions[1] != 3 ||
		s.Dimensions[2] != InputSize || s.Dimensions[3] != InputSize {
		return fmt.Errorf("images must be a %s [batch, 3, %d, %d] tensor (models.Preprocess makes one), got %s",
			strings.ToLower(m.dtype.String()), InputSize, InputSize, s)
	}
	return nil
}

// ErrNoCAM is returned when CAM is asked of a model that does not end in global average pooling
// followed by a linear classifier.
var ErrNoCAM = errors.New("CAM does not apply")

// CheckCAM says whether CAM applies to the architecture: nil, or an ErrNoCAM error explaining
// why not.
func (a *Arch) CheckCAM() error {
	if a.CAM == nil {
		return fmt.Errorf("%w to %s: it has fully connected layers after its last convolution, not global "+
			"average pooling + one linear layer (CAM models: resnet*, squeezenet*, mobilenet_v2); use gradcam, which "+
			"generalizes CAM to any architecture", ErrNoCAM, a.Name)
	}
	return nil
}

// CAMWeights returns, in the graph being built, the class weights CAM combines the channels of
// Arch.CAM.Layer with, [classes, channels], and the class biases, [classes].
func (m *Model) CAMWeights(ctx *context.Context, g *Graph) (w, b *Node, err error) {
	if err := m.CheckCAM(); err != nil {
		return nil, nil, err
	}
	get := func(key string) *Node {
		v := ctx.GetVariableByScopeAndName(context.RootScope, key)
		if v == nil {
			panic(fmt.Sprintf("model %s has no parameter %q", m.Name, key))
		}
		return v.ValueGraph(g)
	}
	w, b = get(m.CAM.Weight), get(m.CAM.Bias)
	if w.Rank() == 4 { // a 1x1 convolution stored [1, 1, channels, classes]
		d := w.Shape().Dimensions
		w = Reshape(w, d[2], d[3])
	}
	params, err := m.Arch.Params()
	if err != nil {
		return nil, nil, err
	}
	for _, p := range params {
		if p.Key == m.CAM.Weight && p.kind == convHWIO { // [channels, classes] -> [classes, channels]
			w = Transpose(w, 0, 1)
		}
	}
	return w, b, nil
}
