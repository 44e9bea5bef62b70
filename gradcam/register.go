package gradcam

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// CAMMethod is a CAM-family method defined by its channel weights: its map is
// ReLU(sum_k w_k A_k) at the explained layer, then scaled and upsampled as every CAM map is.
// RegisterCAM makes it a method like the built-in ones.
type CAMMethod struct {
	// Name is what Request.Methods and the command line's --method call it: lower case, letters,
	// digits and dashes, not a built-in method's name.
	Name Method
	// Title captions its figures; Summary says in one line what it computes (gradcam methods).
	Title, Summary string
	// Weights returns the weight of each channel, [B, C], from the layer's activations a and the
	// gradient g of the target with respect to them, both [B, spatial..., C] (channels last),
	// spatial their spatial axes: Grad-CAM's weights are ReduceMean(g, spatial...).
	Weights func(a, g *Node, spatial []int) *Node
}

// RegisterCAM adds a CAM-family method. It then works wherever the built-in CAM methods do:
// Explain (with Counterfactual, EigenSmooth, AugSmooth, as Guided Grad-CAM's CAM), ParseMethods
// and so the command line's --method, `gradcam methods`, figure titles (Method.Title), and the
// metrics. Register from an init function, before any explanation: registering is not safe
// alongside Explain calls.
func RegisterCAM(m CAMMethod) error {
	if m.Weights == nil {
		return fmt.Errorf("register %q: no Weights function", m.Name)
	}
	return register(MethodSpec{Name: m.Name, Title: m.Title, Summary: m.Summary, Family: LayerMap,
		LayerGradient: true, Scaled: true, Counterfactual: true, EigenSmooth: true,
		Terms: func(in TermInputs) *Node { return in.Weighted(m.Weights(in.A, in.G, in.Spatial)) }})
}
