package gradcam

import (
	"fmt"
	"regexp"
	"slices"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Family says how a method computes its result.
type Family int

const (
	// LayerMap methods (the CAM family) make a heatmap at each explained layer from its
	// activations, and maybe the gradient there: the ReLU of the sum over channels of per-channel
	// terms, min-max scaled and upsampled to the input.
	LayerMap Family = iota
	// InputMap methods make a result at the input's size from one backward pass to the input
	// (saliency, guided backpropagation, FullGrad, ...).
	InputMap
	// Sampled methods run many forwards or backwards from the host (occlusion, integrated
	// gradients, SmoothGrad).
	Sampled
)

// MethodSpec describes one method: its names, what it needs, and for the CAM family how its map
// is made. Each built-in method is one MethodSpec in a file of its own (method_*.go); RegisterCAM
// adds one from outside the package.
type MethodSpec struct {
	Name Method
	// Title captions its figures; Summary says in one line what it computes (gradcam methods).
	Title, Summary string
	Family         Family
	// LayerGradient: it uses the gradient of the target at the explained layers.
	LayerGradient bool
	// InputGradient: its backward pass goes below the explained layers (to the input or every
	// bias), so the graph keeps the ReLU rules all the way down.
	InputGradient bool
	// ReLURule: it changes how ReLUs pass gradients back (guided backpropagation, the deconvnet).
	ReLURule bool
	// GradientImage: its result is [C, H, W] input attributions, not a heatmap.
	GradientImage bool
	// Relevance: it propagates relevance by LRP rules (Request.LRP), starting from the target's
	// value, so the relevance sums to it where the rules conserve.
	Relevance bool
	// Excitation: its terms use TermInputs.Excitation and Dual (excitation backprop).
	Excitation bool
	// Signed: its [C, H, W] result is signed evidence for and against the class, shown summed
	// over channels in a diverging colormap (render.Relevance) rather than as a gradient image.
	Signed bool
	// Scaled: its heatmap is min-max scaled as pytorch-grad-cam scales CAM maps (what AugSmooth
	// averages and Guided Grad-CAM multiplies).
	Scaled bool
	// Counterfactual: Request.Counterfactual negates its layer gradients.
	Counterfactual bool
	// EigenSmooth: Request.EigenSmooth replaces its sum over channels by the first principal
	// component of its terms.
	EigenSmooth bool
	// Eigen: its map is the first principal component of its terms (Eigen-CAM), on the host.
	Eigen bool
	// Perturbation: the host weights its channels by extra forwards (Score-CAM, Ablation-CAM).
	Perturbation bool
	// SmoothGradBase: SmoothGrad can average it.
	SmoothGradBase bool
	// RawMap: the map is the sum of the terms itself, not its ReLU (CAM's class activation map).
	RawMap bool
	// Terms are a LayerMap method's per-channel terms at one layer, [B, spatial..., C].
	Terms func(in TermInputs) *Node
}

// TermInputs is what a layer map's Terms function receives at one explained layer.
type TermInputs struct {
	// A are the layer's activations and G the gradient of the target with respect to them (nil
	// for methods without LayerGradient), both [B, spatial..., C], channels last.
	A, G *Node
	// Spatial are A's spatial axes.
	Spatial []int
	// Class is each image's explained class, [B] int32.
	Class *Node
	// CAMWeights returns the CAM head's class weights, [classes, C] (CAM).
	CAMWeights func() *Node
	// Excitation is excitation backprop's marginal winning probability at the layer: the z+ rule
	// without biases from the class's one-hot down to A, [B, spatial..., C]; Dual is the same
	// from the class's dual unit (its weights negated). Nil for methods without Excitation.
	Excitation, Dual *Node
}

// Weighted is the terms of channel weights w [B, C]: w_k A_k.
func (in TermInputs) Weighted(w *Node) *Node {
	for w.Rank() < in.A.Rank() {
		w = ExpandAxes(w, 1)
	}
	return Mul(in.A, w)
}

var (
	methodsMu sync.RWMutex
	specs     = map[Method]*MethodSpec{}
	order     []Method // registration order: built-ins first, in builtins' order
	validName = regexp.MustCompile(`^[a-z][a-z0-9+-]*$`)
)

func init() {
	for _, s := range builtins {
		if err := register(*s); err != nil {
			panic(err)
		}
	}
}

// register adds a method after checking its description.
func register(s MethodSpec) error {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	switch {
	case !validName.MatchString(string(s.Name)):
		return fmt.Errorf("register %q: a method's name is lower case letters, digits, '-' and '+'", s.Name)
	case specs[s.Name] != nil:
		return fmt.Errorf("register %q: there is already a method of that name", s.Name)
	case s.Title == "" || s.Summary == "":
		return fmt.Errorf("register %q: give it a title (figure captions) and a summary (gradcam methods)", s.Name)
	case s.Family == LayerMap && s.Terms == nil:
		return fmt.Errorf("register %q: a layer map needs its Terms", s.Name)
	}
	specs[s.Name] = &s
	order = append(order, s.Name)
	return nil
}

// Methods lists every method, built-in and registered, in a stable order (a copy).
func Methods() []Method {
	methodsMu.RLock()
	defer methodsMu.RUnlock()
	return slices.Clone(order)
}

// Spec returns the method's description; ok is false for an unknown method.
func (m Method) Spec() (spec MethodSpec, ok bool) {
	methodsMu.RLock()
	defer methodsMu.RUnlock()
	if s := specs[m]; s != nil {
		return *s, true
	}
	return MethodSpec{}, false
}

// spec is the method's description; the zero value for an unknown method.
func (m Method) spec() MethodSpec {
	s, _ := m.Spec()
	return s
}

// Title is how figures caption the method ("Grad-CAM"); the name itself for an unknown method.
func (m Method) Title() string {
	if s, ok := m.Spec(); ok {
		return s.Title
	}
	return string(m)
}

// Summary says in one line what the method computes.
func (m Method) Summary() string { return m.spec().Summary }

// known reports whether the method is built in or registered.
func (m Method) known() bool {
	_, ok := m.Spec()
	return ok
}

// rank orders methods as Methods lists them.
func (m Method) rank() int {
	methodsMu.RLock()
	defer methodsMu.RUnlock()
	return slices.Index(order, m)
}

// methodsWith lists the methods whose description has the property, in Methods' order.
func methodsWith(has func(MethodSpec) bool) []Method {
	var out []Method
	for _, m := range Methods() {
		if has(m.spec()) {
			out = append(out, m)
		}
	}
	return out
}
