package gradcam

import (
	"fmt"
	"regexp"
	"slices"
	"sync"

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

var (
	registerMu sync.Mutex
	registered = map[Method]CAMMethod{}
	validName  = regexp.MustCompile(`^[a-z][a-z0-9+-]*$`)
)

// RegisterCAM adds a CAM-family method. It then works wherever the built-in CAM methods do:
// Explain (with Counterfactual, EigenSmooth, AugSmooth, as Guided Grad-CAM's CAM), ParseMethods
// and so the command line's --method, `gradcam methods`, figure titles (MethodTitles), and the
// metrics. Register from an init function, before any explanation: registering is not safe
// alongside Explain calls.
func RegisterCAM(m CAMMethod) error {
	registerMu.Lock()
	defer registerMu.Unlock()
	switch {
	case !validName.MatchString(string(m.Name)):
		return fmt.Errorf("register %q: a method's name is lower case letters, digits, '-' and '+'", m.Name)
	case slices.Contains(AllMethods, m.Name):
		return fmt.Errorf("register %q: there is already a method of that name", m.Name)
	case m.Title == "" || m.Summary == "":
		return fmt.Errorf("register %q: give it a title (figure captions) and a summary (gradcam methods)", m.Name)
	case m.Weights == nil:
		return fmt.Errorf("register %q: no Weights function", m.Name)
	}
	registered[m.Name] = m
	AllMethods = append(AllMethods, m.Name)
	MethodTitles[m.Name] = m.Title
	MethodSummaries[m.Name] = m.Summary
	layerMaps = append(layerMaps, m.Name)
	camMaps = append(camMaps, m.Name)
	needsLayerGradient = append(needsLayerGradient, m.Name)
	eigenSmoothable = append(eigenSmoothable, m.Name)
	counterfactuals = append(counterfactuals, m.Name)
	return nil
}

// registeredTerms are a registered method's per-channel terms w_k A_k, or nil for a method that
// is not registered.
func registeredTerms(method Method, a, g *Node, spatial []int) *Node {
	m, ok := registered[method]
	if !ok {
		return nil
	}
	w := m.Weights(a, g, spatial)
	for w.Rank() < a.Rank() {
		w = ExpandAxes(w, 1)
	}
	return Mul(a, w)
}
