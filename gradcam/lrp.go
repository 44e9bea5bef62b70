// Layer-wise relevance propagation: the composites as methods.

package gradcam

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/nn"
)

// LRPOptions configures the LRP methods. Zero values mean the defaults, Zennit's.
type LRPOptions struct {
	// Epsilon is the ε rule's ε (default 1e-6); must be > 0.
	Epsilon float64
	// Gamma is the γ rule's γ (default 0.25); must be >= 0 (0 means the default: for γ = 0 use
	// lrp-epsilon, the z-rule).
	Gamma float64
	// Low and High bound the input for the ZBox rule of lrp-epsilon-gamma-box: one value, or one
	// per channel, in the units the network sees (after normalization;
	// preprocess.Transform.Bounds gives them for a transform). nil: each channel's minimum and
	// maximum over the batch explained, which makes an image's map depend on its batch; give
	// the transform's bounds where they are known.
	Low, High []float64
	// Composite is the method lrp's rule assignment: a composite of your own (nn.Composite with
	// the nn rules, e.g. Captum's nn.WeightGamma at convolutions and nn.Epsilon at dense layers).
	Composite *nn.Composite
}

// key identifies the options in a compiled graph's cache key.
func (o LRPOptions) key() string {
	k := fmt.Sprintf("%g|%g|%v|%v", o.Epsilon, o.Gamma, o.Low, o.High)
	if o.Composite != nil {
		k += fmt.Sprintf("|%+v", *o.Composite)
		for _, r := range []*nn.LRPRule{o.Composite.First, o.Composite.Last} {
			if r != nil {
				k += fmt.Sprintf("|%+v", *r)
			}
		}
	}
	return k
}

// batchBounds are each channel's minimum and maximum over the batch x ([B, C, ...]).
func batchBounds(x *tensors.Tensor) (low, high []float64) {
	d := x.Shape().Dimensions
	c, per := d[1], 1
	for _, n := range d[2:] {
		per *= n
	}
	low, high = make([]float64, c), make([]float64, c)
	for i := range low {
		low[i], high[i] = math.Inf(1), math.Inf(-1)
	}
	for i, v := range toFloat32(x) {
		ch := i / per % c
		low[ch], high[ch] = min(low[ch], float64(v)), max(high[ch], float64(v))
	}
	for i := range low {
		if low[i] == high[i] { // a constant channel: a box around it
			low[i], high[i] = low[i]-1, high[i]+1
		}
	}
	return low, high
}

func (o LRPOptions) withDefaults() LRPOptions {
	if o.Epsilon == 0 {
		o.Epsilon = nn.DefaultStabilizer
	}
	if o.Gamma == 0 {
		o.Gamma = 0.25
	}
	return o
}

// check validates the options for the methods asked.
func (o LRPOptions) check(methods []Method, channels int) error {
	if !(o.Epsilon > 0) {
		return fmt.Errorf("LRP epsilon must be > 0, got %g", o.Epsilon)
	}
	if !(o.Gamma >= 0) {
		return fmt.Errorf("LRP gamma must be >= 0, got %g", o.Gamma)
	}
	for _, m := range methods {
		if m == LRP {
			if _, err := o.composite(m); err != nil {
				return err
			}
		}
		if m != LRPEpsilonGammaBox {
			continue
		}
		if len(o.Low) == 0 || len(o.High) == 0 {
			return fmt.Errorf("%s needs both of the input's bounds for its first layer, or neither: set LRPOptions.Low and High "+
				"(preprocess.Transform.Bounds gives them)", m)
		}
		for _, b := range [][]float64{o.Low, o.High} {
			if len(b) != 1 && len(b) != channels {
				return fmt.Errorf("%s: give one input bound or one per channel (%d), got %d", m, channels, len(b))
			}
		}
		if _, err := o.composite(m); err != nil {
			return err
		}
	}
	return nil
}

// composite is the rule assignment of an LRP method.
func (o LRPOptions) composite(m Method) (nn.Composite, error) {
	eps, gamma := nn.Epsilon(o.Epsilon), nn.Gamma(o.Gamma)
	ab, zplus, flat := nn.AlphaBeta(2, 1), nn.ZPlus(), nn.Flat()
	linear := []nn.LayerKind{nn.Convolution, nn.Dense}
	c := nn.Composite{Name: string(m)}
	switch m {
	case LRPEpsilon:
		c.Convolution, c.Dense = eps, eps
	case LRPGamma:
		c.Convolution, c.Dense = gamma, gamma
	case LRPAlpha2Beta1:
		c.Convolution, c.Dense = ab, ab
	case LRPEpsilonPlus:
		c.Convolution, c.Dense = zplus, eps
	case LRPEpsilonPlusFlat:
		c.Convolution, c.Dense, c.First, c.FirstOf = zplus, eps, &flat, linear
	case LRPEpsilonAlpha2Beta1:
		c.Convolution, c.Dense = ab, eps
	case LRPEpsilonAlpha2Beta1Flat:
		c.Convolution, c.Dense, c.First, c.FirstOf = ab, eps, &flat, linear
	case LRPEpsilonGammaBox:
		box := nn.ZBox(o.Low, o.High)
		c.Convolution, c.Dense, c.First, c.FirstOf = gamma, eps, &box, []nn.LayerKind{nn.Convolution}
	case LRP:
		if o.Composite == nil {
			return c, fmt.Errorf("lrp takes the composite of LRPOptions.Composite, and none is set: set one, or use a named "+
				"composite (%s)", joinMethods(lrpMethods()))
		}
		c = *o.Composite
		if c.Name == "" {
			c.Name = "lrp"
		}
	default:
		return c, fmt.Errorf("%s is not an LRP method", m)
	}
	return c, c.Check()
}

// lrpMethods are the LRP methods with a composite of their own, in the order gradcam methods
// lists them.
func lrpMethods() []Method {
	return []Method{LRPEpsilon, LRPGamma, LRPAlpha2Beta1, LRPEpsilonPlus, LRPEpsilonPlusFlat, LRPEpsilonGammaBox,
		LRPEpsilonAlpha2Beta1, LRPEpsilonAlpha2Beta1Flat}
}

func lrpSpec(name Method, title, summary string) MethodSpec {
	return MethodSpec{Name: name, Title: title, Family: InputMap, Summary: summary, InputGradient: true, GradientImage: true,
		Relevance: true, Signed: true}
}

var (
	lrpSpecCustom = lrpSpec(LRP, "LRP",
		"layer-wise relevance propagation with a composite of your own (Request.LRP.Composite)")
	lrpEpsilonSpec = lrpSpec(LRPEpsilon, "LRP-ε",
		"layer-wise relevance propagation, the ε rule at every convolution and dense layer (Bach et al. 2015)")
	lrpGammaSpec = lrpSpec(LRPGamma, "LRP-γ",
		"layer-wise relevance propagation, the γ rule at every convolution and dense layer (Montavon et al. 2019)")
	lrpAlpha2Beta1Spec = lrpSpec(LRPAlpha2Beta1, "LRP-α2β1",
		"layer-wise relevance propagation, the α2β1 rule at every convolution and dense layer (Bach et al. 2015)")
	lrpEpsilonPlusSpec = lrpSpec(LRPEpsilonPlus, "LRP ε+",
		"LRP composite: z+ at convolutions, ε at dense layers (Zennit's EpsilonPlus)")
	lrpEpsilonPlusFlatSpec = lrpSpec(LRPEpsilonPlusFlat, "LRP ε+ flat",
		"LRP composite: flat at the first layer, z+ at convolutions, ε at dense layers (Zennit's EpsilonPlusFlat)")
	lrpEpsilonGammaBoxSpec = lrpSpec(LRPEpsilonGammaBox, "LRP ε-γ-box",
		"LRP composite: ZBox at the first convolution, γ at the others, ε at dense layers (Zennit's EpsilonGammaBox)")
	lrpEpsilonAlpha2Beta1Spec = lrpSpec(LRPEpsilonAlpha2Beta1, "LRP ε-α2β1",
		"LRP composite: α2β1 at convolutions, ε at dense layers (Zennit's EpsilonAlpha2Beta1)")
	lrpEpsilonAlpha2Beta1FlatSpec = lrpSpec(LRPEpsilonAlpha2Beta1Flat, "LRP ε-α2β1 flat",
		"LRP composite: flat at the first layer, α2β1 at convolutions, ε at dense layers (Zennit's EpsilonAlpha2Beta1Flat)")
)
