package models

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/loadcache"
	"github.com/gradcam-go/gradcam/models/store"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
)

// Model is a network with its weights, ready to build graphs on a backend: one of the
// torchvision architectures (Load, LoadFile), a network defined with package nn (New,
// NewModel), or a checkpoint of either.
type Model struct {
	*nn.Network
	// Spec is what the network declares: parameters, layers, outputs, CAM head.
	*nn.Spec
	// Source names where the weights came from (a file path, or "random init (seed N)").
	Source string

	backend backends.Backend
	ctx     *context.Context
	conv    nn.ConvImpl

	dtype dtypes.DType

	mu            sync.Mutex
	predict       *context.Exec
	activations   map[string]*context.Exec // Activations' executors by layer list
	forwardBuilds atomic.Int64
}

// Option configures how a model is made: every constructor of the toolkit takes them last.
type Option func(*options)

type options struct {
	backend   backends.Backend
	store     *store.Store
	loadCache *loadcache.Folder
}

// OnBackend builds the model on backend b; without it, models compute on backend.New(), the
// process-wide backend.
func OnBackend(b backends.Backend) Option { return func(o *options) { o.backend = b } }

// FromStore finds (or downloads) the weights Load needs with store s; without it, Load uses a
// zero store.Store (no search folders, store.DefaultCacheDir, torchvision's address).
func FromStore(s *store.Store) Option { return func(o *options) { o.store = s } }

// WithLoadCache keeps the load cache of large checkpoints in folder f (a zero Folder turns it
// off); without it, the cache is the store's folder's "loaded" subfolder.
func WithLoadCache(f loadcache.Folder) Option { return func(o *options) { o.loadCache = &f } }

// optionsOf applies opts over the defaults.
func optionsOf(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.store == nil {
		o.store = &store.Store{}
	}
	if o.loadCache == nil {
		o.loadCache = &loadcache.Folder{Dir: filepath.Join(o.store.Dir(), "loaded"), MinSize: loadcache.DefaultMinSize}
	}
	return o
}

// backendOf is the backend the options ask for, or backend.New()'s.
func backendOf(opts []Option) (backends.Backend, error) {
	return orDefault(optionsOf(opts).backend)
}

// New creates a model of the network with PyTorch's default initialization (see nn.Init),
// deterministic from seed: the start of training.
func New(net *nn.Network, seed uint64, opts ...Option) (*Model, error) {
	spec, err := net.Spec()
	if err != nil {
		return nil, err
	}
	return NewModel(net, initWeights(spec, seed), fmt.Sprintf("random init (seed %d)", seed), opts...)
}

// initWeights draws every parameter of spec as PyTorch initializes it, in spec order from one
// seeded generator, in PyTorch's layout.
func initWeights(spec *nn.Spec, seed uint64) map[string]*checkpoint.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	weights := map[string]*checkpoint.Tensor{}
	for _, p := range spec.Params {
		data := make([]float32, shapeSize(p.Shape))
		switch p.Init {
		case nn.InitOnes:
			for i := range data {
				data[i] = 1
			}
		case nn.InitFanIn:
			bound := 1 / math.Sqrt(float64(max(p.FanIn, 1)))
			for i := range data {
				data[i] = float32((rng.Float64()*2 - 1) * bound)
			}
		case nn.InitNormal:
			for i := range data {
				data[i] = float32(rng.NormFloat64())
			}
		}
		weights[p.Key] = &checkpoint.Tensor{Shape: slices.Clone(p.Shape), Data: data}
	}
	return weights
}

// NewModel binds a network to weights (PyTorch state_dict keys). Every expected key must be
// present with the right shape; extra keys are an error too (it is most likely another network's
// checkpoint), except num_batches_tracked.
func NewModel(net *nn.Network, weights map[string]*checkpoint.Tensor, source string, opts ...Option) (*Model, error) {
	b, err := backendOf(opts)
	if err != nil {
		return nil, err
	}
	return newModel(net, weights, source, b, nil)
}

// newModel is NewModel with a choice of convolution (nil: by backend; tests force one).
func newModel(net *nn.Network, weights map[string]*checkpoint.Tensor, source string, b backends.Backend, force *nn.ConvImpl) (*Model, error) {
	return buildModel(net, weights, source, b, force, func(p nn.ParamSpec, _ []int, dst []float32) error {
		copy(dst, nn.ToInternal(weights[p.Key].Data, p.Shape, p.Layout))
		return nil
	})
}

// paramFill writes parameter p's values, in the graph's layout (shape internal), into dst.
type paramFill func(p nn.ParamSpec, internal []int, dst []float32) error

// buildModel checks that weights (the shapes of a state dict) fit the network, then creates
// each parameter's buffer on the backend and has fill write its values there: one copy.
func buildModel(net *nn.Network, weights map[string]*checkpoint.Tensor, source string, b backends.Backend, force *nn.ConvImpl, fill paramFill) (*Model, error) {
	spec, err := net.Spec()
	if err != nil {
		return nil, err
	}
	if err := checkWeights(net.Name, spec.Params, weights, source); err != nil {
		return nil, err
	}
	if b, err = orDefault(b); err != nil {
		return nil, err
	}
	conv := convFor(b)
	if force != nil {
		conv = *force
	}
	ctx := context.New()
	for _, p := range spec.Params {
		t, err := deviceTensor(b, nn.InternalShape(p.Shape, p.Layout, conv), func(dst []float32) error {
			return fill(p, nn.InternalShape(p.Shape, p.Layout, conv), dst)
		})
		if err != nil {
			return nil, fmt.Errorf("placing %s on backend %s: %w", p.Key, b.Name(), err)
		}
		ctx.VariableWithValue(p.Key, t).SetTrainable(p.Trainable)
	}
	return &Model{Network: net, Spec: spec, Source: source, backend: b, ctx: ctx.Reuse(), conv: conv, dtype: dtypes.Float32}, nil
}

// orDefault returns b, or backend.New() if b is nil.
func orDefault(b backends.Backend) (backends.Backend, error) {
	if b != nil {
		return b, nil
	}
	return backend.New()
}

// convFor is how convolutions are built on backend b.
func convFor(b backends.Backend) nn.ConvImpl {
	switch {
	case !backend.IsPureGo(b):
		return nn.Native
	case backend.FastConvolutions(b):
		return nn.ConvolveDense
	}
	return nn.Im2col
}

// deviceTensor makes a float32 tensor of the given dimensions on backend b, its values written
// by fill: straight into the backend's buffer where the backend shares its memory (the pure-Go
// backend), else into a local tensor then transferred.
func deviceTensor(b backends.Backend, dims []int, fill func([]float32) error) (*tensors.Tensor, error) {
	shape := shapes.Make(dtypes.Float32, dims...)
	if b.HasSharedBuffers() {
		buf, flat, err := b.NewSharedBuffer(0, shape)
		if err != nil {
			return nil, err
		}
		if err := fill(flat.([]float32)); err != nil {
			b.BufferFinalize(buf)
			return nil, err
		}
		return tensors.FromBuffer(b, buf)
	}
	t := tensors.FromShape(shape)
	var ferr error
	if err := tensors.MutableFlatData(t, func(flat []float32) { ferr = fill(flat) }); err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, ferr
	}
	return t, t.MaterializeOnDevice(b, false, 0)
}

// checkWeights compares a checkpoint with what the network expects.
func checkWeights(name string, params []nn.ParamSpec, weights map[string]*checkpoint.Tensor, source string) error {
	want := map[string]bool{}
	var missing, wrongShape []string
	for _, p := range params {
		want[p.Key] = true
		w, ok := weights[p.Key]
		switch {
		case !ok:
			missing = append(missing, p.Key)
		case !slices.Equal(w.Shape, p.Shape):
			wrongShape = append(wrongShape, fmt.Sprintf("%s is %v, %s needs %v", p.Key, w.Shape, name, p.Shape))
		case w.Data != nil && len(w.Data) != shapeSize(w.Shape): // nil: shapes only (the load cache)
			wrongShape = append(wrongShape, fmt.Sprintf("%s has %d values for shape %v", p.Key, len(w.Data), w.Shape))
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
	msg := fmt.Sprintf("%s is not a %s checkpoint: %s", source, name, strings.Join(parts, "; "))
	if guess := guessArch(weights); guess != "" && guess != name {
		msg += fmt.Sprintf("; it looks like a %s checkpoint (try --model %s)", guess, guess)
	}
	return fmt.Errorf("%s", msg)
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func firstFew(s []string) string {
	if len(s) <= 3 {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:3], ", ") + ", ..."
}

// guessArch names the torchvision architecture whose parameters a checkpoint matches exactly,
// if any.
func guessArch(weights map[string]*checkpoint.Tensor) string {
	for _, name := range zoo.Names() {
		a, _ := zoo.Lookup(name)
		spec, err := a.Spec()
		if err != nil || len(spec.Params) > len(weights) {
			continue
		}
		ok := true
		for _, p := range spec.Params {
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

// Context holds the model's weights as GoMLX variables named by their PyTorch keys (in the
// graph's layout, nn.InternalShape). Pass it to context.NewExec together with a function that
// calls Forward, or to GoMLX's trainer (package train does).
func (m *Model) Context() *context.Context { return m.ctx }

// Forward builds the network on inputs, a batch in PyTorch's layout ([B, C, H, W] images
// normalized as Preprocess does, or [B, C, L] sequences), in the graph being built by a
// context.Exec over m.Context(). Explanations take gradients through it under nn.Rule.
func (m *Model) Forward(ctx *context.Context, inputs *Node) *nn.Forward {
	return m.ForwardWith(ctx, inputs, nn.Config{})
}

// ForwardAbove is Forward for graphs whose gradients go down to layers and no further
// (Grad-CAM and the other layer methods): the ReLUs below the first of layers are plain
// (nn.Config.RulesFrom), which saves the rules' extra work there. A gradient taken below those
// layers would follow graph's default rule, not an nn.Rule.
func (m *Model) ForwardAbove(ctx *context.Context, inputs *Node, layers ...string) *nn.Forward {
	return m.ForwardWith(ctx, inputs, nn.Config{RulesFrom: layers})
}

// ForwardInference is Forward for graphs that take no gradients through the network (scores for
// occlusion, predictions): plain ReLUs, without the custom-gradient identities, so it is a little
// cheaper. Gradient through its ReLUs follows graph's default rule, not an nn.Rule.
func (m *Model) ForwardInference(ctx *context.Context, inputs *Node) *nn.Forward {
	return m.ForwardWith(ctx, inputs, nn.Config{Plain: true})
}

// ForwardReplacing is ForwardInference with replace applied to every recorded layer output (see
// nn.Config.Replace): what it returns for a layer takes that layer's place downstream.
func (m *Model) ForwardReplacing(ctx *context.Context, inputs *Node, replace func(layer string, x *Node) *Node) *nn.Forward {
	return m.ForwardWith(ctx, inputs, nn.Config{Plain: true, Replace: replace})
}

// ForwardTraining is Forward in training mode: batch norm normalizes with the batch's statistics
// and updates its running ones, dropout drops. The modules frozen names (nil: none) run as at
// inference instead (nn.Config.Frozen). GoMLX's trainer calls it through package train.
func (m *Model) ForwardTraining(ctx *context.Context, inputs *Node, frozen func(path string) bool) *nn.Forward {
	return m.ForwardWith(ctx, inputs, nn.Config{Training: true, Frozen: frozen})
}

// ForwardWith builds the network with cfg's options (Plain, RulesFrom, Training, Frozen, Replace);
// it fills in cfg's parameters, context and convolution path. Forward, ForwardAbove,
// ForwardInference, ForwardReplacing and ForwardTraining are its common cases.
func (m *Model) ForwardWith(ctx *context.Context, inputs *Node, cfg nn.Config) *nn.Forward {
	m.forwardBuilds.Add(1)
	g := inputs.Graph()
	variable := func(key string) *context.Variable {
		v := ctx.GetVariableByScopeAndName(context.RootScope, key)
		if v == nil {
			panic(fmt.Sprintf("model %s has no parameter %q", m.Name, key))
		}
		return v
	}
	cfg.Param = func(p nn.ParamSpec) *Node {
		v := variable(p.Key)
		want := nn.InternalShape(p.Shape, p.Layout, m.conv)
		if got := v.Shape().Dimensions; !slices.Equal(got, want) {
			panic(fmt.Sprintf("%s: parameter %s has shape %v but this input needs %v: the network takes inputs of %v "+
				"only (no pooling adapts the size before this layer)", m.Name, p.Key, got, want, m.Input))
		}
		return v.ValueGraph(g)
	}
	cfg.Context, cfg.Conv = ctx, m.conv
	if cfg.Training {
		cfg.Update = func(key string, value *Node) { variable(key).SetValueGraph(value) }
	}
	b := nn.NewBuilder(cfg)
	return b.Finish(inputs, m.Build(b, nn.ChannelsLast(inputs)))
}

// DType is the precision the model computes in (float32, or float64 after Float64).
func (m *Model) DType() dtypes.DType { return m.dtype }

// Float64 returns a copy of the model that computes in float64, on the same backend: slower,
// for verification (near-ties of max pooling, which float32 rounding may order differently
// from exact arithmetic, are decided like PyTorch's float64).
func (m *Model) Float64() (*Model, error) {
	// Float64 graphs run on simplego's own loops: its DotGeneral beats its generic ConvGeneral,
	// so an ungrouped convolution is an im2col product there (the same data, another shape).
	conv := m.conv
	if conv == nn.ConvolveDense {
		conv = nn.Im2col
	}
	ctx := context.New()
	for _, p := range m.Params {
		v := m.ctx.GetVariableByScopeAndName(context.RootScope, p.Key)
		t, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", v.Name(), err)
		}
		f32 := tensors.MustCopyFlatData[float32](t)
		f64 := make([]float64, len(f32))
		for i, x := range f32 {
			f64[i] = float64(x)
		}
		ctx.VariableWithValue(v.Name(), tensors.FromFlatDataAndDimensions(f64, nn.InternalShape(p.Shape, p.Layout, conv)...))
	}
	return &Model{Network: m.Network, Spec: m.Spec, Source: m.Source, backend: m.backend, ctx: ctx.Reuse(), conv: conv,
		dtype: dtypes.Float64}, nil
}

// ForwardBuilds counts how many times the network has been built into a graph (a graph built
// once and executed many times counts once). Tests use it to prove work is shared.
func (m *Model) ForwardBuilds() int64 { return m.forwardBuilds.Load() }

// Logits runs the model on a preprocessed batch and returns its outputs, [B][outputs] (class
// scores of a classifier, values of a regression head). A network with side inputs
// (nn.Network.Side) takes them after the batch, in its Side order, each [B, shape...].
func (m *Model) Logits(inputs *tensors.Tensor, side ...*tensors.Tensor) (logits [][]float32, err error) {
	if m.dtype != dtypes.Float32 {
		return nil, fmt.Errorf("Logits returns float32: use a float32 model")
	}
	if err := m.CheckInput(inputs); err != nil {
		return nil, err
	}
	if len(side) != len(m.Side) {
		names := make([]string, len(m.Side))
		for i, in := range m.Side {
			names[i] = in.Name
		}
		return nil, fmt.Errorf("%s takes %d side inputs (%s) after the batch, got %d", m.Name, len(m.Side), strings.Join(names, ", "), len(side))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.predict == nil {
		m.predict, err = context.NewExec(m.backend, m.ctx, func(ctx *context.Context, inputs []*Node) *Node {
			return m.ForwardWith(ctx, inputs[0], nn.Config{Plain: true, Side: m.sideInputs(inputs[1:])}).Output
		})
		if err != nil {
			return nil, err
		}
	}
	var out []*tensors.Tensor
	args := append([]any{inputs}, anys(side)...)
	if err := catch.Panic(func() (err error) { out, err = m.predict.Exec(args...); return err }); err != nil {
		return nil, fmt.Errorf("%s forward: %w", m.Name, err)
	}
	defer out[0].FinalizeAll()
	flat := tensors.MustCopyFlatData[float32](out[0])
	b := out[0].Shape().Dimensions[0]
	for i := range b {
		logits = append(logits, flat[i*m.Outputs:(i+1)*m.Outputs])
	}
	return logits, nil
}

// sideInputs names the side input nodes, given in the network's Side order; nil for none.
func (m *Model) sideInputs(nodes []*Node) map[string]*Node {
	if len(nodes) == 0 {
		return nil
	}
	side := map[string]*Node{}
	for i, in := range m.Side {
		side[in.Name] = nodes[i]
	}
	return side
}

// ForwardWithSide is ForwardWith for a batch with side inputs in the network's Side order, as
// Logits and package train give them.
func (m *Model) ForwardWithSide(ctx *context.Context, inputs *Node, side []*Node, cfg nn.Config) *nn.Forward {
	cfg.Side = m.sideInputs(side)
	return m.ForwardWith(ctx, inputs, cfg)
}

func anys(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// CheckInput validates an input batch: [batch, C, H, W] (any H and W) for image networks,
// [batch, C, L] (any L) for sequence networks, in the model's precision.
func (m *Model) CheckInput(inputs *tensors.Tensor) error {
	d := m.Describe()
	return d.CheckInput(inputs, m.dtype)
}

// Describe is what explanations need to know of the network (gradcam.Model).
func (m *Model) Describe() *nn.Description {
	return &nn.Description{Name: m.Name, Input: m.Input, Outputs: m.Outputs, Labels: m.Labels, Layers: m.Layers,
		DefaultLayer: m.Spec.DefaultLayer, CAM: m.CAM, NoCAM: m.NoCAM, RuleReLUs: -1, Biases: true}
}

// ClassIndex reads a class as the model's output index ("243") or one of its labels ("bull
// mastiff"): what a boxes file or a command line names a class by.
func (m *Model) ClassIndex(class string) (int, error) {
	if i, err := strconv.Atoi(class); err == nil {
		if i < 0 || i >= m.Outputs {
			return 0, fmt.Errorf("class %d is out of range: %s has %d outputs (0..%d)", i, m.Name, m.Outputs, m.Outputs-1)
		}
		return i, nil
	}
	if i := slices.Index(m.Labels, class); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("class %q is neither an output index of %s nor one of its labels", class, m.Name)
}

// Label is the name of output i, or "" when the network has no labels.
func (m *Model) Label(i int) string {
	if i >= 0 && i < len(m.Labels) {
		return m.Labels[i]
	}
	return ""
}

// ExplainableLayers lists the module paths of the spatial activations, the layers Grad-CAM and
// the other activation-based methods can explain.
func (m *Model) ExplainableLayers() []string { return m.Spec.ExplainableLayers() }

// CheckCAM says whether CAM applies to the model: nil, or an nn.ErrNoCAM error explaining why
// not.
func (m *Model) CheckCAM() error { return m.Describe().CheckCAM() }

// CAMWeights returns, in the graph being built, the class weights CAM combines the channels of
// the CAM layer with, [classes, channels], and the class biases, [classes].
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
	for _, p := range m.Params {
		if p.Key == m.CAM.Weight && p.Layout == nn.ConvKernel { // 1x1 conv: [1*1*channels, classes] or [1, 1, channels, classes]
			d := w.Shape().Dimensions
			w = Transpose(Reshape(w, d[len(d)-2], d[len(d)-1]), 0, 1)
		}
	}
	return w, b, nil
}

// DefaultLayer is the layer explanations use when none is asked (nn.Spec.DefaultLayer).
func (m *Model) DefaultLayer() string { return m.Spec.DefaultLayer }

// LoadEmbedded binds a network to a checkpoint embedded in the program (a shipped model's
// .safetensors bytes); what names it in messages ("the embedded VQA model").
func LoadEmbedded(net *nn.Network, data []byte, what string, opts ...Option) (*Model, error) {
	w, err := checkpoint.ReadSafetensors(bytes.NewReader(data), int64(len(data)), net.Name+".safetensors")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return NewModel(net, w, what, opts...)
}
