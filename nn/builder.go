package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// Layout says how a parameter is stored inside the graph relative to PyTorch's layout.
type Layout int

const (
	// AsIs parameters keep PyTorch's layout (linear weights [out, in], biases, batch norm).
	AsIs Layout = iota
	// ConvKernel is a convolution kernel, PyTorch [O, I/groups, kh, kw] ([O, I/groups, k] in 1-D),
	// stored [kh, kw, I/groups, O] (Conv.Im2col: the same data as the matrix [kh*kw*I/groups, O]).
	ConvKernel
	// DepthwiseKernel is a depthwise kernel, PyTorch [C, 1, kh, kw], stored [kh, kw, C].
	DepthwiseKernel
)

// Init says how a parameter is initialized when a network is created without weights. The
// defaults are PyTorch's: convolution and linear weights and biases uniform in
// ±1/sqrt(fan_in), batch norm weight and running variance 1, bias and running mean 0.
type Init int

const (
	InitFanIn Init = iota
	InitOnes
	InitZeros
	// InitNormal is N(0, 1), PyTorch's initialization of an embedding table.
	InitNormal
)

// ParamSpec is one parameter a network declares: its PyTorch state_dict key and shape.
type ParamSpec struct {
	Key    string
	Shape  []int // PyTorch's layout
	Layout Layout
	Init   Init
	FanIn  int
	// Trainable is false for batch norm's running statistics, which training updates by their
	// moving averages, not by gradients.
	Trainable bool
}

// ConvImpl says how convolutions are computed.
type ConvImpl int

const (
	// Im2col computes a convolution as strided slices concatenated and contracted with one
	// DotGeneral, which the pure-Go backend runs on its fast matrix multiply.
	Im2col ConvImpl = iota
	// Native uses graph.Convolve, what XLA compiles best.
	Native
	// ConvolveDense uses graph.Convolve for ungrouped and depthwise convolutions and Im2col's
	// views for other grouped ones: the pure-Go backend with internal/fastdot's convolution
	// executor, which runs ConvGeneral on the fast matrix multiply (internal/fastvjp's
	// gradient handles those two kinds; GoMLX's splits a grouped convolution per group).
	ConvolveDense
)

// Config is what a Builder needs from the code that runs it (package models).
type Config struct {
	// Param returns a parameter's value in the graph, in the layout InternalShape gives.
	Param func(ParamSpec) *graph.Node
	// Update sets a non-trainable parameter's new value (batch norm running statistics in
	// training); nil outside training.
	Update func(key string, value *graph.Node)
	// Context provides random numbers to dropout in training.
	Context *context.Context
	Conv    ConvImpl
	// Training: batch norm uses batch statistics and updates its running ones, dropout drops.
	Training bool
	// Frozen, in training, names the modules that do not train: their batch norms normalize with
	// their running statistics and keep them, and their dropout is off, as at inference (Keras's
	// trainable=False). nil: every module trains.
	Frozen func(path string) bool
	// Plain builds a forward-only network: plain ReLUs without the rule-aware gradients.
	Plain bool
	// RulesFrom, when set, builds plain ReLUs (as Plain) up to the first Tap of one of these
	// paths and rule-aware ones after it: for graphs whose gradients go down to those layers
	// and no further (Grad-CAM and its family), which then skip the rules' extra work below.
	RulesFrom []string
	// Replace, when set, sees every recorded layer output with its module path; what it returns
	// takes the output's place downstream (Ablation-CAM sets one layer's channels this way). It
	// returns x itself for the layers it leaves alone.
	Replace func(path string, x *graph.Node) *graph.Node
	// Side holds the network's side inputs by name (Network.Side), batch first.
	Side map[string]*graph.Node
	// LayerRules builds the layer hooks layer-wise relevance propagation needs
	// (Forward.Relevance). Other backward passes of the forward see ordinary gradients.
	LayerRules bool
}

// Builder builds a network's graph. Network.Build receives one; its methods are the blocks.
// Each block takes the module path its parameters are named under ("features.0" gives
// "features.0.weight") and under which its output is recorded (an empty path records nothing:
// a block without parameters, such as a ReLU shared by several places, may stay unnamed).
type Builder struct {
	cfg     Config
	plain   bool // ReLUs built now are plain: Plain, or before RulesFrom's first layer
	fw      *Forward
	prov    map[*graph.Node]provenance
	windows map[*graph.Node]fieldWindow // the spatial geometry of convolutions and pools, for receptive fields

	channelsFirst bool                      // a GoMLX function that computes in NCHW / NCL (BuildFunction)
	relus         int                       // the rule-aware ReLUs a GoMLX function built with ReLU
	lrpOut        map[*graph.Node]*lrpLayer // convolutions and dense layers by output, for merging batch norm
	nonNegative   map[*graph.Node]bool      // nodes known >= 0 (ReLU outputs, their pools), whose rules skip the negative parts
}

// provenance is what produced a node, recorded to find a CAM head.
type provenance struct {
	op   string // "gap", "flatten", "linear", "conv1x1", "relu"
	in   *graph.Node
	path string
}

// NewBuilder starts building a network. Package models calls it; a Network's Build function
// receives the result.
func NewBuilder(cfg Config) *Builder {
	r := Backprop
	b := &Builder{cfg: cfg, plain: cfg.Plain || len(cfg.RulesFrom) > 0, fw: &Forward{taps: map[string]*graph.Node{}, rule: &r, ruleReLUs: -1},
		prov: map[*graph.Node]provenance{}, windows: map[*graph.Node]fieldWindow{}}
	if cfg.LayerRules && !b.plain && !cfg.Training {
		b.fw.lrp = &lrpState{}
		b.lrpOut = map[*graph.Node]*lrpLayer{}
		b.nonNegative = map[*graph.Node]bool{}
	}
	return b
}

// Forward is what was built: the taps, the output (once Finish is called) and the rules.
func (b *Builder) Forward() *Forward { return b.fw }

// Finish records the network's input and output.
func (b *Builder) Finish(input, output *graph.Node) *Forward {
	b.fw.Input, b.fw.Output = input, output
	return b.fw
}

// Side returns the side input of that name (Network.Side): [B, shape...].
func (b *Builder) Side(name string) *graph.Node {
	x, ok := b.cfg.Side[name]
	if !ok {
		panic(fmt.Sprintf("the network reads side input %q, which was not given (models.Model.Given holds side inputs "+
			"fixed for explanations)", name))
	}
	return x
}

// Training reports whether the graph is a training step (batch statistics, dropout).
func (b *Builder) Training() bool { return b.cfg.Training }

// trainingAt reports whether the module at path runs in training mode: a training step, and the
// module is not frozen.
func (b *Builder) trainingAt(path string) bool {
	return b.cfg.Training && (b.cfg.Frozen == nil || !b.cfg.Frozen(path))
}

// Tap records x as the output of the module at path and returns x. Blocks call it for their
// own outputs; call it for outputs composed of several blocks ("layer4", a residual block).
func (b *Builder) Tap(path string, x *graph.Node) *graph.Node {
	if path == "" {
		return x
	}
	if b.cfg.Replace != nil {
		x = b.cfg.Replace(path, x)
	}
	if b.plain && !b.cfg.Plain && slices.Contains(b.cfg.RulesFrom, path) {
		b.plain = false // gradients reach this layer: the ReLUs after it follow the rules
	}
	if _, dup := b.fw.taps[path]; !dup {
		b.fw.order = append(b.fw.order, path)
	}
	b.fw.taps[path] = x
	return x
}

// bias records the per-channel bias ([C]) added by the spatial layer at path (a convolution's
// bias, batch norm's effective shift), for FullGrad.
func (b *Builder) bias(path string, y, bias *graph.Node) {
	if path != "" && y.Rank() >= 3 {
		b.fw.biases = append(b.fw.biases, Bias{Layer: path, Value: bias})
	}
}

func (b *Builder) param(key string, shape []int, l Layout, init Init, fanIn int, trainable bool) *graph.Node {
	if b.cfg.Param == nil {
		panic(fmt.Sprintf("parameter %q used by a network built without parameters", key))
	}
	return b.cfg.Param(ParamSpec{Key: key, Shape: shape, Layout: l, Init: init, FanIn: fanIn, Trainable: trainable})
}

// Path joins module path parts with dots, skipping empty ones: Path("layer1", 0, "conv1") is
// "layer1.0.conv1".
func Path(parts ...any) string {
	s := make([]string, 0, len(parts))
	for _, p := range parts {
		if str := fmt.Sprint(p); str != "" {
			s = append(s, str)
		}
	}
	return strings.Join(s, ".")
}

// ReLU is max(x, 0). Explanations choose how it passes gradients backwards (Rule).
func (b *Builder) ReLU(path string, x *graph.Node) *graph.Node { return b.Tap(path, b.relu(x, 0)) }

// ReLU6 is min(max(x, 0), 6) (MobileNet). The rules apply to it as to ReLU.
func (b *Builder) ReLU6(path string, x *graph.Node) *graph.Node { return b.Tap(path, b.relu(x, 6)) }

// relu applies ReLU (upper == 0) or ReLU6 (upper == 6).
//
// Its gradient is set by the Forward's current Rule: the activation's own node (Min for ReLU6,
// whose Max passes gradients through) carries the rule as its gradient (setGradient), so the
// forward value is exactly act(x) in one pass, and the whole backward pass of the activation is
// the rule (the deconvnet rule must pass gradients where x < 0, which the gradient of Max would
// block). The Backprop rule is PyTorch's gradient, 0 at the kinks. Should setGradient fail, the
// output is built as StopGradient(act(x)) + (xi - StopGradient(x)), with xi x behind an identity
// with the rule as its gradient: the same values, in four more passes.
func (b *Builder) relu(x *graph.Node, upper float64) *graph.Node {
	g := x.Graph()
	zero := graph.ScalarZero(g, x.DType())
	m := graph.Max(x, zero)
	y := m
	if upper > 0 {
		y = graph.Min(m, graph.Scalar(g, x.DType(), upper))
	}
	if b.plain {
		return y
	}
	rules, lrp := b.fw.rule, b.fw.lrp
	rule := func(v *graph.Node) *graph.Node {
		if lrp != nil && lrp.active {
			return v // relevance passes activations (Zennit's Pass)
		}
		// Scalar zeros, and Max(v, 0) for "v > 0": no tensor of zeros, no third mask. The mask
		// reads the activation y, not x: 0 < x (< upper) exactly where 0 < y (< upper), and x,
		// a batch norm's output, need not be kept beside the ReLU's (a batch norm and its ReLU
		// run as one pass on the pure-Go backend).
		zero := graph.ScalarZero(v.Graph(), v.DType())
		switch *rules {
		case Rescale:
			return rescale(x, y, v, graph.Where(inside(y, upper), v, zero))
		case Deconvnet:
			return graph.Max(v, zero)
		case Guided:
			return graph.Where(inside(y, upper), graph.Max(v, zero), zero)
		}
		return graph.Where(inside(y, upper), v, zero)
	}
	out := y
	ruled := rulesOnActivation && setGradient(y, func(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
		return []*graph.Node{rule(v[0]), nil} // nothing for the bound
	})
	if ruled && upper > 0 {
		ruled = setGradient(m, func(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
			return []*graph.Node{v[0], nil} // the rule, from the Min, passes to x
		})
	}
	if !ruled {
		xi := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node { return rule(v) })
		out = graph.Add(graph.StopGradient(activation(x, upper)), graph.Sub(xi, graph.StopGradient(x)))
	}
	b.prov[out] = provenance{op: "relu", in: x}
	b.markNonNegative(out, true)
	return out
}

// rulesOnActivation chooses relu's formulation (tests compare the two).
var rulesOnActivation = true

// activation is ReLU (upper == 0) or ReLU6 (upper == 6).
func activation(x *graph.Node, upper float64) *graph.Node {
	g := x.Graph()
	if upper > 0 {
		return graph.Min(graph.Max(x, graph.ScalarZero(g, x.DType())), graph.Scalar(g, x.DType(), upper))
	}
	return graph.Max(x, graph.ScalarZero(g, x.DType()))
}

// inside is 0 < x (< upper when upper > 0): where ReLU or ReLU6 passes gradients. It is the same
// of a ReLU's input and of its output.
func inside(x *graph.Node, upper float64) *graph.Node {
	m := graph.GreaterThan(x, graph.ScalarZero(x.Graph(), x.DType()))
	if upper > 0 {
		m = graph.LogicalAnd(m, graph.LessThan(x, graph.Scalar(x.Graph(), x.DType(), upper)))
	}
	return m
}

// Linear is PyTorch's Linear: weight [out, in], bias [out], on x [batch, in].
func (b *Builder) Linear(path string, x *graph.Node, out int) *graph.Node {
	if x.Rank() != 2 {
		panic(fmt.Sprintf("Linear %s: input must be [batch, features], got %s (use Flatten or GlobalAvgPool first)", path, x.Shape()))
	}
	in := x.Shape().Dimensions[1]
	w := b.param(path+".weight", []int{out, in}, AsIs, InitFanIn, in, true)
	bias := b.param(path+".bias", []int{out}, AsIs, InitFanIn, in, true)
	dense := func(w *graph.Node, xs ...*graph.Node) *graph.Node { return graph.Einsum("bi,oi->bo", xs[0], w) }
	l := &lrpLayer{kind: Dense, path: path, inputs: []*graph.Node{x}, w: w, bias: bias, apply: dense, nonNegative: b.allNonNegative(x)}
	y := b.hook(l, func(xs ...*graph.Node) *graph.Node {
		return graph.Add(dense(w, xs...), graph.ExpandLeftToRank(bias, 2))
	})
	b.lrpRecord(y, l)
	b.prov[y] = provenance{op: "linear", in: x, path: path}
	return b.Tap(path, y)
}

// BatchNorm is PyTorch's BatchNorm1d/2d (eps 1e-5, momentum 0.1) over the channels (the last
// axis inside the graph). In inference, and in a frozen module (Config.Frozen), it is a
// per-channel scale and shift from the running statistics; in training it normalizes by the
// batch's statistics (biased variance) and moves the running ones towards them (unbiased
// variance), as PyTorch does.
func (b *Builder) BatchNorm(path string, x *graph.Node) *graph.Node {
	rank := x.Rank()
	c := x.Shape().Dimensions[rank-1]
	w := b.param(path+".weight", []int{c}, AsIs, InitOnes, 0, true)
	bias := b.param(path+".bias", []int{c}, AsIs, InitZeros, 0, true)
	mean := b.param(path+".running_mean", []int{c}, AsIs, InitZeros, 0, false)
	variance := b.param(path+".running_var", []int{c}, AsIs, InitOnes, 0, false)
	const eps, momentum = 1e-5, 0.1
	if b.trainingAt(path) {
		axes := make([]int, rank-1)
		n := 1
		for i := range axes {
			axes[i] = i
			n *= x.Shape().Dimensions[i]
		}
		bm := graph.ReduceMean(x, axes...)
		centered := graph.Sub(x, graph.ExpandLeftToRank(bm, rank))
		bv := graph.ReduceMean(graph.Square(centered), axes...)
		if b.cfg.Update != nil {
			unbiased := bv
			if n > 1 {
				unbiased = graph.MulScalar(bv, float64(n)/float64(n-1))
			}
			b.cfg.Update(path+".running_mean", graph.Add(graph.MulScalar(graph.StopGradient(mean), 1-momentum), graph.MulScalar(graph.StopGradient(bm), momentum)))
			b.cfg.Update(path+".running_var", graph.Add(graph.MulScalar(graph.StopGradient(variance), 1-momentum), graph.MulScalar(graph.StopGradient(unbiased), momentum)))
		}
		scale := graph.Div(w, graph.Sqrt(graph.AddScalar(bv, eps))) // Rsqrt has no gradient in GoMLX v0.26
		return b.Tap(path, graph.Add(graph.Mul(centered, graph.ExpandLeftToRank(scale, rank)), graph.ExpandLeftToRank(bias, rank)))
	}
	scale := graph.Mul(w, graph.Rsqrt(graph.AddScalar(variance, eps)))
	shift := graph.Sub(bias, graph.Mul(mean, scale))
	b.bias(path, x, shift)
	l := &lrpLayer{kind: BatchNormalization, path: path, inputs: []*graph.Node{x}}
	if prev := b.lrpOut[x]; prev != nil && b.fw.lrp != nil {
		// Canonization: merge into the convolution or dense layer before (Zennit's
		// SequentialMergeBatchNorm): its rule sees W*scale and (b - mean)*scale + beta.
		l.merged = true
		s := scale
		if prev.kind == Dense {
			s = graph.ExpandAxes(scale, -1) // [out, 1] against [out, in]
		}
		prev.w = graph.Mul(prev.w, graph.ExpandLeftToRank(s, prev.w.Rank()))
		pb := graph.Neg(mean)
		if prev.bias != nil {
			pb = graph.Sub(prev.bias, mean)
		}
		prev.bias = graph.Add(graph.Mul(pb, scale), bias)
	}
	y := b.hook(l, func(xs ...*graph.Node) *graph.Node {
		return graph.Add(graph.Mul(xs[0], graph.ExpandLeftToRank(scale, rank)), graph.ExpandLeftToRank(shift, rank))
	})
	return b.Tap(path, y)
}

// Dropout zeroes each element with probability p and scales the rest by 1/(1-p) in training;
// in inference, and in a frozen module, it is the identity (the same node, recorded under path
// too).
func (b *Builder) Dropout(path string, x *graph.Node, p float64) *graph.Node {
	if !b.trainingAt(path) || p <= 0 {
		return b.Tap(path, x)
	}
	if b.cfg.Context == nil {
		panic("Dropout in training needs a context for its random numbers")
	}
	return b.Tap(path, layers.DropoutStatic(b.cfg.Context, x, p))
}

// Flatten is PyTorch's flatten(x, 1) of a channels-first tensor: [batch, C*H*W] in NCHW order,
// so a Linear layer's weights line up with PyTorch's.
func (b *Builder) Flatten(path string, x *graph.Node) *graph.Node {
	in := x
	x = ChannelsFirst(x)
	y := graph.Reshape(x, x.Shape().Dimensions[0], -1)
	if y != in {
		b.prov[y] = provenance{op: "flatten", in: in}
	}
	b.markNonNegative(y, b.allNonNegative(in))
	return b.Tap(path, y)
}

// Concat concatenates activations along the channels (PyTorch's torch.cat(xs, 1)).
func (b *Builder) Concat(path string, xs ...*graph.Node) *graph.Node {
	y := graph.Concatenate(xs, -1)
	b.markNonNegative(y, b.allNonNegative(xs...))
	return b.Tap(path, y)
}

// Add is the element-wise sum of activations of one shape (a residual connection).
func (b *Builder) Add(path string, xs ...*graph.Node) *graph.Node {
	sum := func(_ *graph.Node, xs ...*graph.Node) *graph.Node {
		y := xs[0]
		for _, x := range xs[1:] {
			y = graph.Add(y, x)
		}
		return y
	}
	l := &lrpLayer{kind: Sum, path: path, inputs: xs, apply: sum}
	y := b.hook(l, func(xs ...*graph.Node) *graph.Node { return sum(nil, xs...) })
	b.markNonNegative(y, b.allNonNegative(xs...))
	return b.Tap(path, y)
}

// markNonNegative records that y is >= 0 when known is true (LRP's rules then skip the negative
// parts of the input, which are zero: the same result for less work).
func (b *Builder) markNonNegative(y *graph.Node, known bool) {
	if b.nonNegative != nil && known {
		b.nonNegative[y] = true
	}
}

// allNonNegative reports whether every node is known >= 0.
func (b *Builder) allNonNegative(xs ...*graph.Node) bool {
	for _, x := range xs {
		if !b.nonNegative[x] {
			return false
		}
	}
	return len(xs) > 0
}

// lrpRecord notes y as the output of the convolution or dense layer l, whose parameters a batch
// norm reading y merges into.
func (b *Builder) lrpRecord(y *graph.Node, l *lrpLayer) {
	if b.lrpOut != nil {
		b.lrpOut[y] = l
	}
}

// cam finds CAM's head on a network's output: global average pooling of a recorded activation A
// followed by one linear layer (optionally flattened), or a 1x1 convolution of A (optionally
// followed by a ReLU) then global average pooling (SqueezeNet). It returns the head or the reason
// there is none.
func (b *Builder) cam(output *graph.Node) (*CAMHead, string) {
	p, ok := b.prov[output]
	names := func(a *graph.Node) []string {
		var out []string
		for _, n := range b.fw.order {
			if b.fw.taps[n] == a {
				out = append(out, n)
			}
		}
		return out
	}
	through := func(x *graph.Node, ops ...string) *graph.Node {
		for {
			q, ok := b.prov[x]
			if !ok || !slices.Contains(ops, q.op) {
				return x
			}
			x = q.in
		}
	}
	if ok && p.op == "linear" {
		pooled := through(p.in, "flatten")
		q, ok := b.prov[pooled]
		if !ok || q.op != "gap" {
			return nil, fmt.Sprintf("its last linear layer %s does not read global average pooling (CAM needs "+
				"conv features -> global average pooling -> one linear layer)", p.path)
		}
		aliases := names(q.in)
		if len(aliases) == 0 {
			return nil, "the activation before its global average pooling has no module path (record it with Tap)"
		}
		return &CAMHead{Layer: aliases[0], Aliases: aliases, Weight: p.path + ".weight", Bias: p.path + ".bias"}, ""
	}
	pooled := through(output, "flatten")
	if q, ok := b.prov[pooled]; ok && q.op == "gap" {
		maps := q.in
		r, reluAfter := b.prov[maps]
		if reluAfter && r.op == "relu" {
			maps = r.in
		}
		reluAfter = reluAfter && r.op == "relu"
		c, ok := b.prov[maps]
		if ok && c.op == "conv1x1" {
			aliases := names(c.in)
			if len(aliases) == 0 {
				return nil, "the activation before its 1x1 class convolution has no module path (record it with Tap)"
			}
			return &CAMHead{Layer: aliases[0], Aliases: aliases, Weight: c.path + ".weight",
				Bias: c.path + ".bias", ReLUAfter: reluAfter}, ""
		}
		return nil, "its global average pooling is not preceded by a 1x1 convolution nor followed by one linear layer"
	}
	return nil, "it does not end in global average pooling followed by one linear layer (it has fully connected " +
		"layers after its last convolution)"
}
