package gradcam

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
)

// Request says what to explain.
type Request struct {
	// Methods to compute; at least one.
	Methods []Method
	// Classes are the outputs to explain for every image (0 .. outputs-1: a class of a
	// classifier, the output of a regression head); empty or -1 means the image's top-1 output.
	Classes []int
	// ImageClasses gives one class per image instead (pytorch-grad-cam's targets list): image i
	// is explained for ImageClasses[i] (-1: its top-1). Use Classes or ImageClasses, not both.
	ImageClasses []int
	// Layers are the module paths whose activations the CAM family uses; empty means the model's
	// default (the last convolutional block). With several, each layer's map is computed,
	// scaled and upsampled, and the maps are averaged and scaled again (pytorch-grad-cam's
	// aggregation of several target layers); Map.LowRes is then nil.
	Layers []string
	// Target is the explained score; the zero value means Logit.
	Target Target
	// Occlusion configures the occlusion method.
	Occlusion OcclusionOptions
	// IntegratedGradients configures IntegratedGradients; the zero value is Captum's defaults.
	IntegratedGradients IntegratedGradientsOptions
	// SmoothGrad configures SmoothGrad; the zero value is Captum's NoiseTunnel defaults.
	SmoothGrad SmoothGradOptions
	// Perturbation configures Score-CAM and Ablation-CAM.
	Perturbation PerturbationOptions
	// GuidedCAM is the CAM-family method whose map Guided Grad-CAM multiplies with guided
	// backpropagation; empty means GradCAM.
	GuidedCAM Method
	// AugSmooth averages every CAM-family map over six test-time augmentations of the input
	// (horizontal flip x multiplying the input by 0.9, 1, 1.1), each map flipped back
	// (pytorch-grad-cam's aug_smooth). Classes left to the model are the top-1 of the original
	// image for every augmentation. LowRes is then the un-augmented map's.
	AugSmooth bool
	// EigenSmooth replaces the sum over channels of the weighted activations by their projection
	// on the first principal component (pytorch-grad-cam's eigen_smooth), with Eigen-CAM's sign
	// convention. It applies to the weighted CAM methods, not to CAM, FullGrad or the eigen methods.
	EigenSmooth bool
	// Counterfactual negates the layer gradients of the gradient CAM methods (Grad-CAM,
	// HiResCAM, Grad-CAM elementwise, Grad-CAM++, XGrad-CAM, LayerCAM): their maps then show the
	// regions whose removal would raise the score (Selvaraju et al.'s counterfactual
	// explanations; the counterfactual method is Grad-CAM's). Other methods cannot be asked with it.
	Counterfactual bool
}

// Explanation is the result for one image and one class.
type Explanation struct {
	Image       int     // index in the batch
	Class       int     // explained class (output index)
	Label       string  // its label, "" when the model has none
	Logit       float32 // the class's logit (the output's value for a regression head)
	Probability float64 // its softmax probability over the outputs (1 for a single output)
	// SingleOutput says the model has one output (a regression): Logit is its value and
	// Probability means nothing.
	SingleOutput bool
	Maps         map[Method]*Map
}

// Results holds one Explanation per image and class, image-major.
type Results []*Explanation

// At is the explanation of image i for its k-th class (Request.Classes[k]; k is 0 with
// ImageClasses).
func (r Results) At(i, k int) *Explanation {
	if len(r) == 0 || r[len(r)-1].Image < 0 {
		return nil
	}
	perImage := len(r) / (r[len(r)-1].Image + 1)
	if i < 0 || k < 0 || k >= perImage || i*perImage+k >= len(r) {
		return nil
	}
	return r[i*perImage+k]
}

// Map is one method's result.
type Map struct {
	Method Method
	// Values is the result at input size: [H, W] for heatmaps ([L] for sequences), [C, H, W]
	// ([C, L]) for gradient images.
	// Heatmaps of the CAM family are normalized to [0, 1]; saliency, gradient images and
	// occlusion are raw.
	Values []float32
	Shape  []int
	// LowRes is the CAM family's map at the layer's resolution before normalization ([h, w], [l]):
	// after the ReLU for Grad-CAM and counterfactual, raw for CAM.
	LowRes      []float32
	LowResShape []int
	// AllZero says the map was identically zero (e.g. the ReLU removed everything). Values are
	// then zeros, never NaN.
	AllZero bool
	// Delta is Integrated Gradients' convergence delta: the attributions' sum minus
	// (y(x) - y(baseline)); it goes to 0 as the integral is approximated better.
	Delta float64
}

// Stats counts the explainer's work, for tests and benchmarks.
type Stats struct {
	GraphBuilds int // graph functions built (one per new method set, layer, target or shape)
	Executions  int // graph executions
	// Backwards counts the backward passes built into graphs: one per class and ReLU rule an
	// explanation graph needs, however many methods share it.
	Backwards int
}

// Explainer explains one model's decisions. It caches compiled graphs per (layers, method set,
// target, number of classes) and batch shape, so repeated calls do not recompile. It is safe
// for concurrent use; calls are serialized.
type Explainer struct {
	Model *models.Model

	mu    sync.Mutex
	execs map[string]*context.Exec
	stats Stats
	// wholeForwards marks the Ablation-CAM graphs (by key) that must run whole forwards.
	wholeForwards map[string]bool
}

// New returns an explainer for the model.
func New(m *models.Model) *Explainer {
	return &Explainer{Model: m, execs: map[string]*context.Exec{}, wholeForwards: map[string]bool{}}
}

// Stats returns the work counters.
func (e *Explainer) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// outputKind says what one tensor of the explanation graph holds.
type outputKind int

const (
	lowMap       outputKind = iota // a layer map at the layer's resolution, [B, h, w] ([B, l])
	upMap                          // that map ReLU'd, min-max scaled and upsampled to the input, [B, H, W]
	channelTerms                   // per-channel terms [B, h, w, C] the host weights and reduces (finishedOnHost)
	inputMap                       // a result at the input's size: a heatmap or a gradient image
)

// output is one tensor the explanation graph returns after the logits and the resolved classes.
type output struct {
	method Method
	class  int // index into the request's classes
	layer  int // index into Request.Layers (layer maps)
	kind   outputKind
}

// plan lists the graph's outputs after the logits and the resolved classes.
func plan(methods []Method, numClasses, numLayers int, eigenSmooth bool) []output {
	var outs []output
	for k := range numClasses {
		for _, m := range methods {
			switch {
			case m == Occlusion || m == IntegratedGradients || m == SmoothGrad: // host loops
			case slices.Contains(layerMaps, m):
				for l := range numLayers {
					if m.finishedOnHost(eigenSmooth) {
						outs = append(outs, output{m, k, l, channelTerms})
					} else {
						outs = append(outs, output{m, k, l, lowMap}, output{m, k, l, upMap})
					}
				}
			default:
				outs = append(outs, output{m, k, 0, inputMap})
			}
		}
	}
	return outs
}

// validate checks a request against the model and fills defaults.
func (e *Explainer) validate(images *tensors.Tensor, req *Request) error {
	if req.Target.Fn == nil {
		req.Target = Logit
	}
	if req.Target.Name == "" {
		return fmt.Errorf("the request's Target has no Name: name it (compiled graphs are cached by that name, so two " +
			"unnamed targets would share one)")
	}
	if err := e.Model.CheckInput(images); err != nil {
		return err
	}
	if len(req.Methods) == 0 {
		return fmt.Errorf("no method given; methods: %s", methodList())
	}
	for _, m := range req.Methods {
		if !slices.Contains(AllMethods, m) {
			return fmt.Errorf("unknown method %q; methods: %s", m, methodList())
		}
	}
	if len(req.ImageClasses) > 0 {
		if len(req.Classes) > 0 {
			return fmt.Errorf("give Classes (the same for every image) or ImageClasses (one per image), not both")
		}
		if b := images.Shape().Dimensions[0]; len(req.ImageClasses) != b {
			return fmt.Errorf("ImageClasses has %d classes for %d images: give one per image", len(req.ImageClasses), b)
		}
	} else if len(req.Classes) == 0 {
		req.Classes = []int{-1}
	}
	for _, c := range append(slices.Clone(req.Classes), req.ImageClasses...) {
		if c < -1 || c >= e.Model.Outputs {
			return fmt.Errorf("class %d out of range: %s has %d outputs, 0..%d (-1 for the top prediction)",
				c, e.Model.Name, e.Model.Outputs, e.Model.Outputs-1)
		}
	}
	if len(req.Layers) == 0 {
		req.Layers = []string{e.Model.DefaultLayer()}
	}
	layers := e.Model.ExplainableLayers()
	for i, l := range req.Layers {
		if !slices.Contains(layers, l) {
			return fmt.Errorf("unknown layer %q for %s; explainable layers: %s", l, e.Model.Name, strings.Join(layers, ", "))
		}
		if slices.Contains(req.Layers[:i], l) {
			return fmt.Errorf("layer %q is listed twice", l)
		}
	}
	if slices.Contains(req.Methods, CAM) {
		if err := e.Model.CheckCAM(); err != nil {
			return err
		}
		for _, l := range req.Layers {
			if !slices.Contains(e.Model.CAM.Aliases, l) {
				return fmt.Errorf("%w at layer %s of %s: CAM's class weights combine the channels of %s, the input of the "+
					"global average pooling; use gradcam for other layers", models.ErrNoCAM, l, e.Model.Name, e.Model.CAM.Layer)
			}
		}
	}
	if slices.Contains(req.Methods, GuidedGradCAM) {
		if req.GuidedCAM == "" {
			req.GuidedCAM = GradCAM
		}
		if !slices.Contains(camMaps, req.GuidedCAM) {
			return fmt.Errorf("Guided Grad-CAM multiplies guided backprop with a CAM map; %q is not one (use one of: %s)",
				req.GuidedCAM, joinMethods(camMaps))
		}
	}
	if slices.Contains(req.Methods, IntegratedGradients) {
		req.IntegratedGradients = req.IntegratedGradients.withDefaults()
		if err := req.IntegratedGradients.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, SmoothGrad) {
		req.SmoothGrad = req.SmoothGrad.withDefaults()
		if err := req.SmoothGrad.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
		if req.SmoothGrad.Method == IntegratedGradients {
			req.IntegratedGradients = req.IntegratedGradients.withDefaults()
			if err := req.IntegratedGradients.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
				return err
			}
		}
	}
	req.Perturbation = req.Perturbation.withDefaults() // also for Guided Grad-CAM over Score-CAM or Ablation-CAM
	if err := req.Perturbation.check(); err != nil {
		return err
	}
	if slices.Contains(req.Methods, Occlusion) {
		if images.Rank() != 4 {
			return fmt.Errorf("occlusion slides a square patch over images; %s takes sequences", e.Model.Name)
		}
		d := images.Shape().Dimensions
		req.Occlusion = req.Occlusion.withDefaults(d[2], d[3])
		if err := req.Occlusion.check(d[2], d[3]); err != nil {
			return err
		}
	}
	if req.Counterfactual {
		for _, m := range req.Methods {
			if !slices.Contains(counterfactuals, m) {
				return fmt.Errorf("Counterfactual negates the gradients of %s; %s cannot be asked with it",
					joinMethods(counterfactuals), m)
			}
		}
	}
	if req.AugSmooth && images.Rank() != 4 {
		return fmt.Errorf("AugSmooth flips images horizontally; %s takes sequences", e.Model.Name)
	}
	return nil
}

// Explain computes the requested methods for every image of the batch (preprocessed NCHW, see
// models.Transform, or NCL sequences) and every requested class. The result holds one
// Explanation per image and class, image-major: result.At(i, k) = result[i*len(classes)+k].
func (e *Explainer) Explain(images *tensors.Tensor, req Request) (Results, error) {
	if err := e.validate(images, &req); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	result, err := e.explain(images, req)
	if err != nil {
		return nil, err
	}
	if req.AugSmooth {
		if err := e.augSmooth(images, req, result); err != nil {
			return nil, err
		}
	}
	if slices.Contains(req.Methods, GuidedGradCAM) {
		finishGuided(result, req.GuidedCAM)
		if !slices.Contains(req.Methods, req.GuidedCAM) {
			for _, ex := range result {
				delete(ex.Maps, req.GuidedCAM)
			}
		}
	}
	return result, nil
}

// explain runs one validated request, without test-time augmentation; Guided Grad-CAM's maps
// hold the guided gradient (finishGuided multiplies in the CAM).
func (e *Explainer) explain(images *tensors.Tensor, req Request) (Results, error) {
	methods := slices.Clone(req.Methods)
	if slices.Contains(methods, GuidedGradCAM) && !slices.Contains(methods, req.GuidedCAM) {
		methods = append(methods, req.GuidedCAM)
	}
	sort.Slice(methods, func(a, b int) bool {
		return slices.Index(AllMethods, methods[a]) < slices.Index(AllMethods, methods[b])
	})
	b, k := images.Shape().Dimensions[0], len(req.Classes)
	classes := make([]int32, b*max(k, 1))
	for i := range b {
		for j, c := range req.Classes {
			classes[i*k+j] = int32(c)
		}
	}
	if len(req.ImageClasses) > 0 {
		k = 1
		for i, c := range req.ImageClasses {
			classes[i] = int32(c)
		}
	}
	exec, err := e.explainExec(req.Layers, methods, req.Target, k, req.EigenSmooth, req.Counterfactual)
	if err != nil {
		return nil, err
	}
	var outs []*tensors.Tensor
	err = catch.Panic(func() (err error) {
		outs, err = exec.Exec(images, tensors.FromFlatDataAndDimensions(classes, b, k))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("explaining with %s: %w", e.Model.Name, err)
	}
	e.stats.Executions++
	defer func() {
		for _, t := range outs {
			t.FinalizeAll()
		}
	}()
	logits := toFloat32(outs[0])
	resolved := tensors.MustCopyFlatData[int32](outs[1])
	result := make(Results, b*k)
	n := e.Model.Outputs
	for i := range b {
		row := logits[i*n : (i+1)*n]
		byClass := make([]float64, n)
		for _, p := range models.TopK(row, nil, n) {
			byClass[p.Class] = p.Probability
		}
		for j := range k {
			c := int(resolved[i*k+j])
			result[i*k+j] = &Explanation{Image: i, Class: c, Label: e.Model.Label(c), Logit: row[c],
				Probability: byClass[c], SingleOutput: n == 1, Maps: map[Method]*Map{}}
		}
	}
	// Per image and class, each layer map's per-layer results, gathered before aggregation.
	layerResults := map[*Explanation]map[Method][]layerResult{}
	for idx, o := range plan(methods, k, len(req.Layers), req.EigenSmooth) {
		t := outs[2+idx]
		flat := toFloat32(t)
		dims := t.Shape().Dimensions
		per := len(flat) / b
		for i := range b {
			ex := result[i*k+o.class]
			vals := slices.Clone(flat[i*per : (i+1)*per])
			if o.kind == inputMap {
				ex.Maps[o.method] = &Map{Method: o.method, Values: vals, Shape: slices.Clone(dims[1:])}
				continue
			}
			if layerResults[ex] == nil {
				layerResults[ex] = map[Method][]layerResult{}
			}
			lr := layerResults[ex][o.method]
			if len(lr) == 0 {
				lr = make([]layerResult, len(req.Layers))
				layerResults[ex][o.method] = lr
			}
			switch o.kind {
			case lowMap:
				lr[o.layer].low, lr[o.layer].lowShape = vals, slices.Clone(dims[1:])
			case upMap:
				lr[o.layer].up = vals
			case channelTerms:
				lr[o.layer].terms, lr[o.layer].termsShape = vals, slices.Clone(dims[1:])
			}
		}
	}
	size := images.Shape().Dimensions[2:]
	if err := e.perturbationWeights(images, req, methods, k, result, layerResults); err != nil {
		return nil, err
	}
	for _, ex := range result {
		for method, lr := range layerResults[ex] {
			mp, err := aggregateLayers(method, lr, size, req.EigenSmooth)
			if err != nil {
				return nil, fmt.Errorf("%s of image %d: %w", MethodTitles[method], ex.Image, err)
			}
			ex.Maps[method] = mp
		}
		if mp := ex.Maps[FullGrad]; mp != nil {
			mp.Values = render.Normalize(mp.Values)
		}
		for _, mp := range ex.Maps {
			if mp.LowRes != nil {
				// Raw CAM and projections are ReLU'd only for display.
				mp.AllZero = allZero(mp.LowRes, mp.Method == CAM || mp.Method.finishedOnHost(req.EigenSmooth))
			} else {
				mp.AllZero = allZero(mp.Values, false)
			}
		}
	}
	if slices.Contains(methods, IntegratedGradients) {
		if err := e.integratedGradients(images, req.Target, req.IntegratedGradients, k, result); err != nil {
			return nil, err
		}
	}
	if slices.Contains(methods, SmoothGrad) {
		if err := e.smoothGrad(images, req, k, result); err != nil {
			return nil, err
		}
	}
	if slices.Contains(methods, Occlusion) {
		if err := e.occlude(images, req.Target, req.Occlusion, k, result); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// layerResult is what the graph returned for one layer map at one layer, for one image and class.
type layerResult struct {
	low      []float32 // the map at the layer's resolution
	lowShape []int
	up       []float32 // ReLU'd, scaled and upsampled to the input
	// terms are the per-channel terms [h, w, C] of the methods finished on the host, and
	// weights, when not nil, the per-channel weights that multiply them (Score-CAM,
	// Ablation-CAM).
	terms      []float32
	termsShape []int
	weights    []float32
}

// aggregateLayers finishes a layer map from its per-layer results: the host-finished methods'
// terms weighted and reduced (sum over channels, or the projection on the first principal
// component for eigen methods and EigenSmooth), every layer's map scaled and upsampled, then
// pytorch-grad-cam's aggregation: the mean over layers, min-max scaled again.
func aggregateLayers(method Method, lr []layerResult, size []int, eigenSmooth bool) (*Map, error) {
	mp := &Map{Method: method, Shape: slices.Clone(size)}
	var sum []float32
	for l := range lr {
		r := &lr[l]
		if r.terms != nil {
			spatial := r.termsShape[:len(r.termsShape)-1]
			c := r.termsShape[len(r.termsShape)-1]
			n := shapeSize(spatial)
			if r.weights != nil {
				for p := range n {
					for ch := range c {
						r.terms[p*c+ch] *= r.weights[ch]
					}
				}
			}
			if method.isEigen() || eigenSmooth {
				p, err := principalProjection(r.terms, n, c)
				if err != nil {
					return nil, err
				}
				r.low = p
			} else {
				r.low = make([]float32, n)
				for p := range n {
					var v float32
					for ch := range c {
						v += r.terms[p*c+ch]
					}
					r.low[p] = max(v, 0)
				}
			}
			r.lowShape = slices.Clone(spatial)
			pos := make([]float32, n)
			for i, v := range r.low {
				pos[i] = max(v, 0)
			}
			r.up = upsample(render.Normalize(pos), spatial, size)
		}
		if sum == nil {
			sum = make([]float32, len(r.up))
		}
		for i, v := range r.up {
			sum[i] += v
		}
	}
	for i := range sum {
		sum[i] /= float32(len(lr))
	}
	mp.Values = render.Normalize(sum)
	if len(lr) == 1 {
		mp.LowRes, mp.LowResShape = lr[0].low, lr[0].lowShape
	}
	return mp, nil
}

// finishGuided multiplies Guided Grad-CAM's guided gradients [C, H, W] with the chosen CAM map.
func finishGuided(result Results, cam Method) {
	for _, ex := range result {
		g, c := ex.Maps[GuidedGradCAM], ex.Maps[cam]
		hw := len(c.Values)
		for i := range g.Values {
			g.Values[i] *= c.Values[i%hw]
		}
		g.AllZero = allZero(g.Values, false)
	}
}

// allZero reports a map with nothing to show: all zeros, or (positiveOnly: raw CAM, which is
// ReLU'd before display) nothing above zero.
func allZero(v []float32, positiveOnly bool) bool {
	for _, x := range v {
		if x > 0 || (!positiveOnly && x != 0) {
			return false
		}
	}
	return true
}

// explainExec returns the cached executor for a configuration.
func (e *Explainer) explainExec(layers []string, methods []Method, target Target, numClasses int, eigenSmooth, counterfactual bool) (*context.Exec, error) {
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	key := fmt.Sprintf("explain|%s|%s|%s|%d|%t|%t", strings.Join(layers, ","), strings.Join(names, ","), target.Name, numClasses,
		eigenSmooth, counterfactual)
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	m := e.Model
	exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, inputs []*Node) []*Node {
		e.stats.GraphBuilds++
		g := &explanationGraph{m: m, ctx: ctx, layers: layers, methods: methods, target: target, eigenSmooth: eigenSmooth,
			counterfactual: counterfactual, backwards: &e.stats.Backwards}
		return g.build(inputs[0], inputs[1])
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// explanationGraph builds one graph for a request: the forward once, then per class one backward
// pass per ReLU rule the methods need, then the maps, in plan's order.
type explanationGraph struct {
	m              *models.Model
	ctx            *context.Context
	layers         []string
	methods        []Method
	target         Target
	eigenSmooth    bool
	counterfactual bool // negate the layer gradients
	backwards      *int

	fw      *nn.Forward
	images  *Node
	acts    []*Node // each layer's activations, channels-last
	spatial [][]int // each layer's spatial axes
}

func (g *explanationGraph) has(ms ...Method) bool {
	for _, x := range ms {
		if slices.Contains(g.methods, x) {
			return true
		}
	}
	return false
}

// gradients is what one class's backward passes give.
type gradients struct {
	y              *Node
	dA             []*Node // per layer
	dX             *Node   // backprop rule
	guided, deconv *Node
	dBias          []*Node // FullGrad: per bias of fw.Biases()
}

func (g *explanationGraph) build(images, classes *Node) []*Node {
	g.images = images
	if g.has(needsInputGradient...) {
		g.fw = g.m.Forward(g.ctx, images)
	} else {
		g.fw = g.m.ForwardAbove(g.ctx, images, g.layers...) // gradients stop at the layers
	}
	logits := g.fw.Output
	for _, l := range g.layers {
		a, err := g.fw.TapChannelsLast(l)
		if err != nil {
			panic(err)
		}
		sp := make([]int, a.Rank()-2) // the layer's spatial axes: 1, 2 (NHWC) or 1 (NLC)
		for i := range sp {
			sp[i] = i + 1
		}
		g.acts, g.spatial = append(g.acts, a), append(g.spatial, sp)
	}
	numClasses := classes.Shape().Dimensions[1]
	resolved := make([]*Node, numClasses)
	for k := range numClasses {
		resolved[k] = resolveClass(logits, Squeeze(Slice(classes, AxisRange(), AxisRange(k, k+1)), 1))
	}
	outs := []*Node{logits, Stack(resolved, 1)}
	grads := make([]*gradients, numClasses)
	low := map[output]*Node{}
	for _, o := range plan(g.methods, numClasses, len(g.layers), g.eigenSmooth) {
		if grads[o.class] == nil {
			grads[o.class] = g.backward(ReduceAllSum(g.target.Fn(logits, resolved[o.class])))
		}
		gr := grads[o.class]
		switch o.kind {
		case lowMap:
			x := g.layerMap(o.method, o.layer, gr, resolved[o.class])
			low[o] = x
			outs = append(outs, x)
		case upMap:
			x := low[output{o.method, o.class, o.layer, lowMap}]
			outs = append(outs, scaleUpsample(relu(x), g.images.Shape().Dimensions[2:]))
		case channelTerms:
			outs = append(outs, g.terms(o.method, o.layer, gr, resolved[o.class]))
		case inputMap:
			outs = append(outs, g.inputMap(o.method, gr))
		}
	}
	return outs
}

// backward builds the backward passes one class needs: one with the true gradient to the layers,
// the input and the biases, and one per other ReLU rule.
func (g *explanationGraph) backward(y *Node) *gradients {
	gr := &gradients{y: y}
	var wrt []*Node
	if g.has(needsLayerGradient...) {
		wrt = append(wrt, g.acts...)
	}
	if g.has(Saliency, InputXGradient, FullGrad) {
		wrt = append(wrt, g.images)
	}
	var biases []nn.Bias
	if g.has(FullGrad) {
		biases = g.fw.Biases()
		for _, b := range biases {
			t, err := g.fw.TapChannelsLast(b.Layer)
			if err != nil {
				panic(err)
			}
			wrt = append(wrt, t)
		}
	}
	if len(wrt) > len(g.acts) || g.has(GuidedBackprop, GuidedGradCAM, Deconvnet) {
		if !g.has(needsInputGradient...) {
			panic("internal error: a backward pass below the explained layers in a graph built with plain ReLUs there; " +
				"add the method to needsInputGradient")
		}
	}
	if len(wrt) > 0 {
		*g.backwards++
		d := g.fw.Gradient(y, nn.Backprop, wrt...)
		if g.has(needsLayerGradient...) {
			gr.dA, d = d[:len(g.acts)], d[len(g.acts):]
			if g.counterfactual {
				for l := range gr.dA {
					gr.dA[l] = Neg(gr.dA[l])
				}
			}
		}
		if g.has(Saliency, InputXGradient, FullGrad) {
			gr.dX, d = d[0], d[1:]
		}
		gr.dBias = d
	}
	if g.has(GuidedBackprop, GuidedGradCAM) {
		*g.backwards++
		gr.guided = g.fw.Gradient(y, nn.Guided, g.images)[0]
	}
	if g.has(Deconvnet) {
		*g.backwards++
		gr.deconv = g.fw.Gradient(y, nn.Deconvnet, g.images)[0]
	}
	return gr
}

// terms are a layer map's per-channel terms, [B, h, w, C]: the map is their sum over channels.
func (g *explanationGraph) terms(method Method, l int, gr *gradients, class *Node) *Node {
	a, sp := g.acts[l], g.spatial[l]
	var dA *Node
	if gr.dA != nil {
		dA = gr.dA[l]
	}
	weighted := func(w *Node) *Node { // w [B, C]
		for w.Rank() < a.Rank() {
			w = ExpandAxes(w, 1)
		}
		return Mul(a, w)
	}
	switch method {
	case EigenCAM, ScoreCAM, AblationCAM:
		return a
	case EigenGradCAM, HiResCAM:
		return Mul(dA, a)
	case GradCAM:
		return weighted(ReduceMean(dA, sp...))
	case Counterfactual:
		return weighted(Neg(ReduceMean(dA, sp...)))
	case CAM:
		w, _, err := g.m.CAMWeights(g.ctx, a.Graph())
		if err != nil {
			panic(err)
		}
		return weighted(Einsum("bn,nc->bc", OneHot(class, w.Shape().Dimensions[0], w.DType()), w))
	case GradCAMElementWise:
		return relu(Mul(dA, a))
	case LayerCAM:
		return Mul(relu(dA), a)
	case GradCAMPlusPlus:
		g2 := Mul(dA, dA)
		g3 := Mul(g2, dA)
		sumA := ReduceAndKeep(a, ReduceSum, sp...)
		alpha := Div(g2, AddScalar(Add(MulScalar(g2, 2), Mul(sumA, g3)), 1e-6))
		alpha = Where(NotEqual(dA, ZerosLike(dA)), alpha, ZerosLike(alpha))
		return weighted(ReduceSum(Mul(relu(dA), alpha), sp...))
	case XGradCAM:
		return weighted(Div(ReduceSum(Mul(dA, a), sp...), AddScalar(ReduceSum(a, sp...), 1e-7)))
	case FEM:
		mean := ReduceAndKeep(a, ReduceMean, sp...)
		std := Sqrt(ReduceAndKeep(Square(Sub(a, mean)), ReduceMean, sp...))
		above := ConvertDType(GreaterThan(a, Add(mean, MulScalar(std, 2))), a.DType())
		return weighted(ReduceMean(above, sp...))
	}
	panic(fmt.Sprintf("terms: %s is not a layer map", method))
}

// layerMap is a layer map computed in the graph at the layer's resolution: the ReLU of the sum
// of its terms; CAM's raw class map (with SqueezeNet's bias and ReLU where the head has them).
func (g *explanationGraph) layerMap(method Method, l int, gr *gradients, class *Node) *Node {
	m := ReduceSum(g.terms(method, l, gr, class), -1)
	if method != CAM {
		return relu(m)
	}
	if g.m.CAM.ReLUAfter {
		// SqueezeNet: the class map is ReLU(conv(A) + b); its average is the logit.
		_, b, err := g.m.CAMWeights(g.ctx, m.Graph())
		if err != nil {
			panic(err)
		}
		bc := ReduceSum(Mul(OneHot(class, b.Shape().Dimensions[0], b.DType()), ExpandLeftToRank(b, 2)), 1)
		for bc.Rank() < m.Rank() {
			bc = ExpandAxes(bc, -1) // [B] -> [B, 1, 1] (or [B, 1])
		}
		m = relu(Add(m, bc))
	}
	return m
}

// inputMap is a method's result at the input's size.
func (g *explanationGraph) inputMap(method Method, gr *gradients) *Node {
	switch method {
	case Saliency:
		return ReduceMax(Abs(gr.dX), 1)
	case InputXGradient:
		return Mul(g.images, gr.dX)
	case GuidedBackprop, GuidedGradCAM:
		return gr.guided
	case Deconvnet:
		return gr.deconv
	case FullGrad:
		return g.fullGrad(gr)
	}
	panic(fmt.Sprintf("inputMap: %s is not computed at the input's size", method))
}

// fullGrad is FullGrad's map before its final scaling (pytorch-grad-cam's FullGrad): |x dy/dx|
// min-max scaled per image and channel, summed over channels, plus for every bias b of a
// convolution or batch norm |b dy/dz| (z the layer's output) scaled per channel, summed over
// channels and upsampled. Upsampling is linear, so the channels are summed before it, once per
// layer instead of once per channel.
func (g *explanationGraph) fullGrad(gr *gradients) *Node {
	size := g.images.Shape().Dimensions[2:]
	scaled := func(x *Node, axes []int) *Node {
		x = Sub(x, ReduceAndKeep(x, ReduceMin, axes...))
		return Div(x, AddScalar(ReduceAndKeep(x, ReduceMax, axes...), 1e-7))
	}
	inAxes := make([]int, g.images.Rank()-2)
	for i := range inAxes {
		inAxes[i] = i + 2
	}
	sum := ReduceSum(scaled(Abs(Mul(g.images, gr.dX)), inAxes), 1)
	for j, b := range g.fw.Biases() {
		d := gr.dBias[j]
		axes := make([]int, d.Rank()-2)
		for i := range axes {
			axes[i] = i + 1
		}
		t := ReduceSum(scaled(Abs(Mul(d, ExpandLeftToRank(b.Value, d.Rank()))), axes), -1)
		t = resizeLinear(t, size)
		sum = Add(sum, t)
	}
	return sum
}

// relu is max(x, 0).
func relu(x *Node) *Node { return Max(x, ScalarZero(x.Graph(), x.DType())) }

// scaleUpsample is pytorch-grad-cam's scale_cam_image with a size: per image, x - min, then
// divided by (max + 1e-7), then resized (bi)linearly with half-pixel centres to the input size.
// The final min-max scaling after the layers are averaged is aggregateLayers'. A map of zeros
// stays zeros.
func scaleUpsample(low *Node, size []int) *Node {
	axes := make([]int, low.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	x := Sub(low, ReduceAndKeep(low, ReduceMin, axes...))
	x = Div(x, AddScalar(ReduceAndKeep(x, ReduceMax, axes...), 1e-7))
	return resizeLinear(x, size)
}

// resizeLinear resizes x [B, spatial...] (one or two spatial axes) to size, (bi)linearly with
// half-pixel centres, as graph.Interpolate does (and PyTorch's interpolate with
// align_corners=False, and cv2.resize): one product per axis with a constant matrix of
// interpolation weights, which runs on the matrix multiply, where Interpolate gathers element
// by element (a sixth of MobileNetV2's Grad-CAM at batch 8).
func resizeLinear(x *Node, size []int) *Node {
	d := x.Shape().Dimensions
	if x.Rank() != len(size)+1 || len(size) > 2 {
		return Interpolate(x, append([]int{-1}, size...)...).Done()
	}
	weights := func(axis int) *Node {
		return ConvertDType(Const(x.Graph(), interpolationWeights(size[axis], d[axis+1])), x.DType())
	}
	if len(size) == 1 {
		if d[1] == size[0] {
			return x
		}
		return Einsum("bi,oi->bo", x, weights(0))
	}
	if d[1] != size[0] {
		x = Einsum("bhw,oh->bow", x, weights(0))
	}
	if d[2] != size[1] {
		x = Einsum("bhw,ow->bho", x, weights(1))
	}
	return x
}

// interpolationWeights is the [out, in] matrix of linear interpolation with half-pixel centres:
// output i samples input coordinate (i+0.5)*in/out - 0.5 with a tent of width 1, the weights
// that fall inside the input renormalized to sum 1 (at the edges: the nearest input), as
// graph.Interpolate computes them.
func interpolationWeights(out, in int) [][]float32 {
	w := make([][]float32, out)
	scale := float64(in) / float64(out)
	for i := range w {
		w[i] = make([]float32, in)
		at := (float64(i)+0.5)*scale - 0.5
		row := make([]float64, in)
		sum := 0.0
		for j := range in {
			row[j] = max(1-math.Abs(float64(j)-at), 0)
			sum += row[j]
		}
		for j := range in {
			w[i][j] = float32(row[j] / sum)
		}
	}
	return w
}

// toFloat32 copies a float32 or float64 tensor's values as float32.
func toFloat32(t *tensors.Tensor) []float32 {
	if t.Shape().DType == dtypes.Float64 {
		f64 := tensors.MustCopyFlatData[float64](t)
		out := make([]float32, len(f64))
		for i, v := range f64 {
			out[i] = float32(v)
		}
		return out
	}
	return tensors.MustCopyFlatData[float32](t)
}

// fromFloat32 makes a tensor of the given precision from float32 values.
func fromFloat32(data []float32, dtype dtypes.DType, dims ...int) *tensors.Tensor {
	if dtype == dtypes.Float64 {
		f64 := make([]float64, len(data))
		for i, v := range data {
			f64[i] = float64(v)
		}
		return tensors.FromFlatDataAndDimensions(f64, dims...)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
