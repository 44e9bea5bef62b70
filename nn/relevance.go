// Layer-wise relevance propagation: the backward pass of each layer replaced by a rule.

package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// LayerKind is what a layer is, for choosing its relevance rule (Zennit's layer types).
type LayerKind int

const (
	// Convolution is a convolution (Conv2D, Conv1D).
	Convolution LayerKind = iota
	// Dense is a fully connected layer (Linear).
	Dense
	// BatchNormalization is batch norm in inference.
	BatchNormalization
	// AveragePooling is average pooling, adaptive or global.
	AveragePooling
	// Activation is ReLU or ReLU6.
	Activation
	// Sum is the element-wise sum of a residual connection (Add).
	Sum
	// Recurrent is a layer no relevance rule applies to (GRU).
	Recurrent
)

// String returns the kind's name.
func (k LayerKind) String() string {
	switch k {
	case Convolution:
		return "convolution"
	case Dense:
		return "dense"
	case BatchNormalization:
		return "batch norm"
	case AveragePooling:
		return "average pooling"
	case Activation:
		return "activation"
	case Sum:
		return "sum"
	case Recurrent:
		return "recurrent"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// ruleKind is which propagation rule an LRPRule is.
type ruleKind int

const (
	ruleGradient ruleKind = iota // no rule: the layer's gradient
	rulePass
	ruleNorm
	ruleEpsilon
	ruleGamma
	ruleAlphaBeta
	ruleZPlus
	ruleZBox
	ruleFlat
	ruleWSquare
	ruleWeightGamma
	rulePositiveWeights
)

// LRPRule is how one layer passes relevance down: R_in from R_out, the relevance arriving at its
// output. The rules are Zennit's (rules.py), with their stabilizer: a denominator z becomes
// z + Stabilizer * sign(z), the sign of 0 being +1.
//
// With x the layer's input, z = W x + b its output, x+ and x- (W+, W-) the positive and negative
// parts, and c_k = W_k^T (R_out / z_k) for the modified weights W_k of each term:
//
//	Epsilon:    R = x c,  z stabilized by Epsilon
//	Gamma:      positive outputs share by (W + γW+) x+ + (W + γW-) x-, negative ones by
//	            (W + γW-) x+ + (W + γW+) x-
//	AlphaBeta:  R = α (x+ c(W+) + x- c(W-)) - β (x+ c(W-) + x- c(W+))
//	ZPlus:      AlphaBeta with α = 1, β = 0
//	ZBox:       R = x c(W) - l c(W+) - h c(W-), for inputs bounded by l <= x <= h
//	Flat:       R = c(1) with the input 1: relevance spread evenly over the receptive field
//	WSquare:    R = c(W²) with the input 1
//	Norm:       the Epsilon rule of a parameterless linear layer (sums, average pooling)
//	Pass:       R_in = R_out (activations, batch norm)
//
// and the single-term forms Captum implements, the Epsilon rule on modified weights (bias kept):
//
//	WeightGamma:      W + γW+ (Captum's GammaRule; Montavon et al.'s γ rule for positive inputs)
//	PositiveWeights:  W+ (Captum's Alpha1_Beta0_Rule; z+ for positive inputs)
type LRPRule struct {
	kind ruleKind
	// Epsilon is the Epsilon rule's epsilon, and the stabilizer of the others.
	Epsilon float64
	// Gamma is the Gamma rule's γ.
	Gamma float64
	// Alpha and Beta weigh AlphaBeta's positive and negative parts.
	Alpha, Beta float64
	// Low and High bound ZBox's input: one value, or one per channel.
	Low, High []float64
	// NoBias leaves the layer's bias out of the rule (Zennit's zero_params=["bias"]; excitation
	// backprop's normalization).
	NoBias bool
	// Negate applies the rule to the layer with its weights and bias negated: the dual unit of
	// contrastive excitation backprop.
	Negate bool
}

// DefaultStabilizer is Zennit's stabilizer of every rule but Epsilon (and Epsilon's default).
const DefaultStabilizer = 1e-6

// Epsilon is the LRP-ε rule; a tiny eps gives LRP-0, the z-rule.
func Epsilon(eps float64) LRPRule { return LRPRule{kind: ruleEpsilon, Epsilon: eps} }

// Gamma is the LRP-γ rule, favouring positive contributions by γ.
func Gamma(gamma float64) LRPRule {
	return LRPRule{kind: ruleGamma, Gamma: gamma, Epsilon: DefaultStabilizer}
}

// AlphaBeta is the LRP-αβ rule; alpha - beta must be 1.
func AlphaBeta(alpha, beta float64) LRPRule {
	return LRPRule{kind: ruleAlphaBeta, Alpha: alpha, Beta: beta, Epsilon: DefaultStabilizer}
}

// ZPlus is the z+ rule (αβ with α = 1, β = 0).
func ZPlus() LRPRule { return LRPRule{kind: ruleZPlus, Epsilon: DefaultStabilizer} }

// ZBox is the bounded first-layer rule for inputs in [low, high] (one value, or one per channel).
func ZBox(low, high []float64) LRPRule {
	return LRPRule{kind: ruleZBox, Low: low, High: high, Epsilon: DefaultStabilizer}
}

// Flat is the flat rule: relevance spread evenly over each output's receptive field.
func Flat() LRPRule { return LRPRule{kind: ruleFlat, Epsilon: DefaultStabilizer} }

// WSquare is the w² rule.
func WSquare() LRPRule { return LRPRule{kind: ruleWSquare, Epsilon: DefaultStabilizer} }

// WeightGamma is Captum's GammaRule: the Epsilon rule with weights W + γW+ and the bias kept,
// stabilized by Captum's 1e-9.
func WeightGamma(gamma float64) LRPRule {
	return LRPRule{kind: ruleWeightGamma, Gamma: gamma, Epsilon: 1e-9}
}

// PositiveWeights is Captum's Alpha1_Beta0_Rule: the Epsilon rule with weights W+ and the bias
// kept, stabilized by Captum's 1e-9.
func PositiveWeights() LRPRule { return LRPRule{kind: rulePositiveWeights, Epsilon: 1e-9} }

// Norm is the Epsilon rule of a parameterless layer (sums and average pooling).
func Norm() LRPRule { return LRPRule{kind: ruleNorm, Epsilon: DefaultStabilizer} }

// Pass passes relevance through unchanged (activations, batch norm).
func Pass() LRPRule { return LRPRule{kind: rulePass} }

// String names the rule.
func (r LRPRule) String() string {
	switch r.kind {
	case ruleGradient:
		return "gradient"
	case rulePass:
		return "pass"
	case ruleNorm:
		return "norm"
	case ruleEpsilon:
		return fmt.Sprintf("epsilon(%g)", r.Epsilon)
	case ruleGamma:
		return fmt.Sprintf("gamma(%g)", r.Gamma)
	case ruleAlphaBeta:
		return fmt.Sprintf("alpha%gbeta%g", r.Alpha, r.Beta)
	case ruleZPlus:
		return "zplus"
	case ruleZBox:
		return "zbox"
	case ruleFlat:
		return "flat"
	case ruleWSquare:
		return "wsquare"
	case ruleWeightGamma:
		return fmt.Sprintf("weightgamma(%g)", r.Gamma)
	case rulePositiveWeights:
		return "positiveweights"
	}
	return "unknown"
}

// Check says whether the rule's parameters are valid.
func (r LRPRule) Check() error {
	if r.kind == ruleEpsilon && !(r.Epsilon > 0) {
		return fmt.Errorf("LRP epsilon must be > 0, got %g (use a tiny value such as 1e-9 for the z-rule)", r.Epsilon)
	}
	if (r.kind == ruleGamma || r.kind == ruleWeightGamma) && !(r.Gamma >= 0) {
		return fmt.Errorf("LRP gamma must be >= 0, got %g", r.Gamma)
	}
	if r.kind == ruleAlphaBeta && (r.Alpha < 0 || r.Beta < 0 || math.Abs(r.Alpha-r.Beta-1) > 1e-12) {
		return fmt.Errorf("LRP alpha and beta must be >= 0 with alpha - beta = 1, got alpha %g, beta %g", r.Alpha, r.Beta)
	}
	if r.kind == ruleZBox {
		if len(r.Low) == 0 || len(r.Low) != len(r.High) {
			return fmt.Errorf("LRP zbox needs low and high bounds of the same length (one value or one per channel), got %d and %d",
				len(r.Low), len(r.High))
		}
		for i := range r.Low {
			if !(r.Low[i] < r.High[i]) {
				return fmt.Errorf("LRP zbox bounds must have low < high, got %g and %g", r.Low[i], r.High[i])
			}
		}
	}
	return nil
}

// Composite assigns an LRP rule to every layer by its kind and position, as Zennit's composites
// do. Activations and batch norm pass relevance; sums (residual connections) and average pooling
// take the Norm rule; max pooling, concatenation, flattening and dropout pass gradients.
//
// Canonization is built in: a batch norm right after a convolution or dense layer is merged into
// it (the rule sees the merged weights and bias), and residual sums take the Norm rule, as
// Zennit's SequentialMergeBatchNorm and ResNetCanonizer do.
type Composite struct {
	// Name names the composite ("epsilon-plus").
	Name string
	// Convolution and Dense are the rules of convolutions and fully connected layers.
	Convolution, Dense LRPRule
	// First, when set, is the rule of the first layer of a kind in FirstOf (Zennit's first_map):
	// ZBox or Flat at the input.
	First *LRPRule
	// FirstOf are the layer kinds First applies to.
	FirstOf []LayerKind
	// Last, when set, is the rule of the last convolution or dense layer (the one making the
	// network's output).
	Last *LRPRule
	// Stabilizer is the Norm rule's (0 means DefaultStabilizer).
	Stabilizer float64
}

// Check says whether every rule of the composite is valid.
func (c Composite) Check() error {
	rules := []LRPRule{c.Convolution, c.Dense}
	for _, r := range []*LRPRule{c.First, c.Last} {
		if r != nil {
			rules = append(rules, *r)
		}
	}
	for _, r := range rules {
		if err := r.Check(); err != nil {
			return fmt.Errorf("composite %s: %w", c.Name, err)
		}
	}
	return nil
}

// ruleFor is the composite's rule for a layer of kind k; first says the layer is the first of
// FirstOf's kinds.
func (c Composite) ruleFor(k LayerKind, first bool) LRPRule {
	if first && c.First != nil {
		return *c.First
	}
	norm := Norm()
	if c.Stabilizer > 0 {
		norm.Epsilon = c.Stabilizer
	}
	switch k {
	case Activation, BatchNormalization:
		return Pass()
	case Sum, AveragePooling:
		return norm
	case Convolution:
		return c.Convolution
	case Dense:
		return c.Dense
	}
	return LRPRule{} // the gradient
}

// lrpLayer is a layer as relevance propagation sees it: its inputs, its parameters and the
// function it computes, and, while a backward pass runs, the relevance arriving at its output.
type lrpLayer struct {
	kind   LayerKind
	path   string
	inputs []*graph.Node // channels-last
	// w and bias are a convolution's or dense layer's parameters (bias nil when it has none),
	// already merged with the batch norm after it when there is one.
	w, bias *graph.Node
	// apply computes the layer without bias on its inputs (parameterized layers: with kernel w).
	apply func(w *graph.Node, xs ...*graph.Node) *graph.Node
	// merged: this batch norm was merged into the layer before it (it passes relevance).
	merged bool
	// nonNegative: the input is known >= 0 (a ReLU's output, pooled): the rules' terms of its
	// negative part are zero and skipped.
	nonNegative bool

	rule LRPRule     // this backward pass's rule
	out  *graph.Node // the relevance arriving at the output during this backward pass
	rel  []*graph.Node
}

// lrpState is a Forward's relevance propagation: its layers, and whether a backward pass now
// propagates relevance.
type lrpState struct {
	layers []*lrpLayer
	active bool
}

// hook wraps a layer computed by build on inputs, so that a relevance backward pass
// (Forward.Relevance) replaces its gradient by the layer's rule; any other backward pass sees
// the ordinary gradient. It returns the layer's output, to use in place of build's.
func (b *Builder) hook(l *lrpLayer, build func(xs ...*graph.Node) *graph.Node) *graph.Node {
	if b.fw.lrp == nil {
		return build(l.inputs...)
	}
	st := b.fw.lrp
	st.layers = append(st.layers, l)
	xs := make([]*graph.Node, len(l.inputs))
	for i, x := range l.inputs {
		xs[i] = graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node {
			switch {
			case l.out == nil:
				return v
			case st.active && l.rule.kind != ruleGradient:
				if l.rel == nil {
					l.rel = l.relevance(l.out)
				}
				return l.rel[i]
			}
			return v
		})
	}
	y := build(xs...)
	return graph.IdentityWithCustomGradient(y, func(_, v *graph.Node) *graph.Node {
		if st.active {
			l.out, l.rel = v, nil
		}
		return v
	})
}

// rescale is DeepLift's rescale rule at an element-wise activation with input x and output y, on
// a batch of inputs followed by their references: v Δy/Δx, or plain (the gradient) where
// |Δx| < 1e-10, as Captum's nonlinear does. Δx and Δy are each input's difference with its
// reference, the same for both halves of the batch: they are computed, tested and divided by
// once, and the products broadcast them over the halves (the same values as on the whole batch,
// in half the passes).
func rescale(x, y, v, plain *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	n := dims[0]
	if n%2 != 0 {
		panic(fmt.Sprintf("DeepLift's rescale rule needs a batch of inputs followed by their references, got a batch of %d", n))
	}
	g := x.Graph()
	halves := append([]int{2, n / 2}, dims[1:]...) // [input or reference, example, ...]
	one := append([]int{1, n / 2}, dims[1:]...)
	dx, dy := graph.Reshape(halfDelta(x), one...), graph.Reshape(halfDelta(y), one...)
	moved := graph.GreaterOrEqual(graph.Abs(dx), graph.Scalar(g, dx.DType(), 1e-10))
	safe := graph.Where(moved, dx, graph.ScalarOne(g, dx.DType()))
	q := graph.Div(graph.Mul(graph.Reshape(v, halves...), dy), safe)
	out := graph.Where(graph.BroadcastToDims(moved, halves...), q, graph.Reshape(plain, halves...))
	return graph.Reshape(out, dims...)
}

// halfDelta is, for a batch of inputs followed by their references, each input's value minus its
// reference's.
func halfDelta(x *graph.Node) *graph.Node {
	n := x.Shape().Dimensions[0]
	return graph.Sub(graph.Slice(x, graph.AxisRange(0, n/2)), graph.Slice(x, graph.AxisRange(n/2, n)))
}

// stabilize is Zennit's stabilize: z + eps * sign(z), with the sign of 0 taken as +1.
func stabilize(z *graph.Node, eps float64) *graph.Node {
	g := z.Graph()
	sign := graph.Where(graph.GreaterOrEqual(z, graph.ScalarZero(g, z.DType())), graph.ScalarOne(g, z.DType()),
		graph.Scalar(g, z.DType(), -1))
	return graph.Add(z, graph.MulScalar(sign, eps))
}

// term is one modified forward of a rule: input x', kernel w' and bias b' (nil: none); sub
// subtracts its output in the denominator (ZBox's bound terms).
type term struct {
	x, w, bias *graph.Node
	sub        bool
}

// relevance is the relevance at the layer's inputs given the relevance v at its output.
func (l *lrpLayer) relevance(v *graph.Node) []*graph.Node {
	r := l.rule
	g := v.Graph()
	if r.kind == rulePass {
		return []*graph.Node{v}
	}
	if l.w == nil { // Norm on a sum or an average pool: R_i = x_i c, c = J^T (v / z)
		xs := make([]*graph.Node, len(l.inputs))
		for i, x := range l.inputs {
			xs[i] = graph.Identity(x)
		}
		z := l.apply(nil, xs...)
		s := graph.StopGradient(graph.Div(v, stabilize(z, r.Epsilon)))
		c := graph.Gradient(graph.ReduceAllSum(graph.Mul(z, s)), xs...)
		out := make([]*graph.Node, len(xs))
		for i := range xs {
			out[i] = graph.Mul(l.inputs[i], c[i])
		}
		return out
	}
	x, w, bias := l.inputs[0], l.w, l.bias
	if r.NoBias {
		bias = nil
	}
	if r.Negate {
		w = graph.Neg(w)
		if bias != nil {
			bias = graph.Neg(bias)
		}
	}
	zero := graph.ScalarZero(g, x.DType())
	pos := func(t *graph.Node) *graph.Node { return graph.Max(t, zero) }
	neg := func(t *graph.Node) *graph.Node { return graph.Min(t, zero) }
	opt := func(f func(*graph.Node) *graph.Node, t *graph.Node) *graph.Node {
		if t == nil {
			return nil
		}
		return f(t)
	}
	// vjps computes, for each group of terms sharing a denominator, c_k = J_k^T (v m / stab(sum z_k)),
	// where m masks the outputs the group explains (nil: all).
	vjps := func(groups [][]term, masks []*graph.Node) [][]*graph.Node {
		var vars []*graph.Node
		var total *graph.Node
		for gi, grp := range groups {
			zs := make([]*graph.Node, len(grp))
			var den *graph.Node
			for k, t := range grp {
				xv := graph.Identity(t.x)
				vars = append(vars, xv)
				zs[k] = l.apply(t.w, xv)
				z := zs[k]
				if t.bias != nil {
					z = graph.Add(z, graph.ExpandLeftToRank(t.bias, z.Rank()))
				}
				switch {
				case den == nil:
					den = z
				case t.sub:
					den = graph.Sub(den, z)
				default:
					den = graph.Add(den, z)
				}
			}
			s := graph.Div(v, stabilize(den, r.Epsilon))
			if masks != nil {
				s = graph.Mul(s, masks[gi])
			}
			s = graph.StopGradient(s)
			for _, z := range zs {
				t := graph.ReduceAllSum(graph.Mul(z, s))
				if total == nil {
					total = t
				} else {
					total = graph.Add(total, t)
				}
			}
		}
		c := graph.Gradient(total, vars...)
		out := make([][]*graph.Node, len(groups))
		for gi, grp := range groups {
			out[gi], c = c[:len(grp)], c[len(grp):]
		}
		return out
	}
	sum := func(ts ...*graph.Node) *graph.Node {
		s := ts[0]
		for _, t := range ts[1:] {
			s = graph.Add(s, t)
		}
		return s
	}
	xp, xn := pos(x), neg(x)
	wp, wn := pos(w), neg(w)
	bp, bn := opt(pos, bias), opt(neg, bias)
	var rel *graph.Node
	switch r.kind {
	case ruleEpsilon:
		c := vjps([][]term{{{x, w, bias, false}}}, nil)
		rel = graph.Mul(x, c[0][0])
	case ruleWeightGamma:
		c := vjps([][]term{{{x, graph.Add(w, graph.MulScalar(wp, r.Gamma)), bias, false}}}, nil)
		rel = graph.Mul(x, c[0][0])
	case rulePositiveWeights:
		c := vjps([][]term{{{x, wp, bias, false}}}, nil)
		rel = graph.Mul(x, c[0][0])
	case ruleZPlus:
		if l.nonNegative {
			rel = graph.Mul(x, vjps([][]term{{{x, wp, bp, false}}}, nil)[0][0])
			break
		}
		c := vjps([][]term{{{xp, wp, bp, false}, {xn, wn, nil, false}}}, nil)
		rel = graph.Add(graph.Mul(xp, c[0][0]), graph.Mul(xn, c[0][1]))
	case ruleAlphaBeta:
		var a, bt *graph.Node
		if l.nonNegative {
			c := vjps([][]term{{{x, wp, bp, false}}, {{x, wn, bn, false}}}, nil)
			a, bt = graph.Mul(x, c[0][0]), graph.Mul(x, c[1][0])
		} else {
			c := vjps([][]term{{{xp, wp, bp, false}, {xn, wn, nil, false}}, {{xp, wn, bn, false}, {xn, wp, nil, false}}}, nil)
			a = graph.Add(graph.Mul(xp, c[0][0]), graph.Mul(xn, c[0][1]))
			bt = graph.Add(graph.Mul(xp, c[1][0]), graph.Mul(xn, c[1][1]))
		}
		rel = graph.Sub(graph.MulScalar(a, r.Alpha), graph.MulScalar(bt, r.Beta))
	case ruleGamma:
		gam := func(t, part *graph.Node) *graph.Node {
			if t == nil {
				return nil
			}
			return graph.Add(t, graph.MulScalar(part, r.Gamma))
		}
		z := l.apply(w, x)
		if bias != nil {
			z = graph.Add(z, graph.ExpandLeftToRank(bias, z.Rank()))
		}
		up := graph.ConvertDType(graph.GreaterThan(z, zero), x.DType())
		down := graph.ConvertDType(graph.LessThan(z, zero), x.DType())
		if l.nonNegative {
			c := vjps([][]term{{{x, gam(w, wp), gam(bias, bp), false}}, {{x, gam(w, wn), gam(bias, bn), false}}},
				[]*graph.Node{up, down})
			rel = graph.Add(graph.Mul(x, c[0][0]), graph.Mul(x, c[1][0]))
			break
		}
		c := vjps([][]term{
			{{xp, gam(w, wp), gam(bias, bp), false}, {xn, gam(w, wn), nil, false}},
			{{xp, gam(w, wn), gam(bias, bn), false}, {xn, gam(w, wp), nil, false}},
		}, []*graph.Node{up, down})
		rel = sum(graph.Mul(xp, c[0][0]), graph.Mul(xn, c[0][1]), graph.Mul(xp, c[1][0]), graph.Mul(xn, c[1][1]))
	case ruleZBox:
		bound := func(vs []float64) *graph.Node {
			c := graph.Const(g, vs)
			c = graph.ConvertDType(c, x.DType())
			if len(vs) == 1 {
				return graph.BroadcastToDims(graph.Reshape(c), x.Shape().Dimensions...)
			}
			return graph.BroadcastToDims(graph.ExpandLeftToRank(c, x.Rank()), x.Shape().Dimensions...)
		}
		lo, hi := bound(r.Low), bound(r.High)
		c := vjps([][]term{{{x, w, bias, false}, {lo, wp, bp, true}, {hi, wn, bn, true}}}, nil)
		rel = graph.Sub(graph.Mul(x, c[0][0]), graph.Add(graph.Mul(lo, c[0][1]), graph.Mul(hi, c[0][2])))
	case ruleFlat, ruleWSquare:
		ones := graph.OnesLike(x)
		wm, bm := graph.OnesLike(w), (*graph.Node)(nil)
		if r.kind == ruleWSquare {
			wm = graph.Square(w)
			bm = opt(graph.Square, bias)
		}
		c := vjps([][]term{{{ones, wm, bm, false}}}, nil)
		rel = c[0][0]
	default:
		panic(fmt.Sprintf("internal error: LRP rule %s on layer %s", r, l.path))
	}
	return []*graph.Node{rel}
}

// Relevance propagates relevance from the scalar y down to each node in wrt by the composite's
// rules (layer-wise relevance propagation): what arrives at wrt is relevance, not gradient. y's
// gradient at the network's output is the relevance it starts from (a one-hot of the class for
// the logit; y = sum(StopGradient(logit) * logit) starts from the logit itself).
//
// The forward must have been built with Config.LayerRules. It returns an error naming the first
// layer the composite has no rule for.
func (f *Forward) Relevance(y *graph.Node, c Composite, wrt ...*graph.Node) ([]*graph.Node, error) {
	if f.lrp == nil {
		return nil, fmt.Errorf("relevance needs a forward built with nn.Config{LayerRules: true}")
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(f.lrp.layers, func(l *lrpLayer) bool { return l.kind == Convolution || l.kind == Dense }) {
		return nil, fmt.Errorf("LRP composite %s found no convolution or dense layer built with package nn: its rules apply to "+
			"nn's layers (define the network with nn.Builder, or import it from ONNX)", c.Name)
	}
	last := -1
	for i, l := range f.lrp.layers {
		if l.kind == Convolution || l.kind == Dense {
			last = i
		}
	}
	firstSeen := false
	for i, l := range f.lrp.layers {
		if l.kind == Recurrent {
			return nil, fmt.Errorf("LRP composite %s has no rule for layer %s (%s): use a gradient method for this network", c.Name, l.path, l.kind)
		}
		first := !firstSeen && slices.Contains(c.FirstOf, l.kind)
		firstSeen = firstSeen || first
		l.rule = c.ruleFor(l.kind, first)
		if i == last && c.Last != nil {
			l.rule = *c.Last
		}
		if l.merged {
			l.rule = Pass()
		}
		l.out, l.rel = nil, nil
	}
	saved := *f.rule
	*f.rule = Backprop
	f.lrp.active = true
	defer func() { *f.rule, f.lrp.active = saved, false }()
	return graph.Gradient(y, wrt...), nil
}

// LRPLayers lists the layers relevance propagation sees, as "path (kind)", in forward order.
func (f *Forward) LRPLayers() []string {
	if f.lrp == nil {
		return nil
	}
	out := make([]string, len(f.lrp.layers))
	for i, l := range f.lrp.layers {
		out[i] = fmt.Sprintf("%s (%s)", l.path, l.kind)
	}
	return out
}
