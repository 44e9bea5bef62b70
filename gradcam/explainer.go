package gradcam

import (
	"fmt"
	"image"
	"slices"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/heatmap"
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
	// Target is the explained score; the zero value means Logit (Probability for RISE, as its
	// paper weighs masks).
	Target Target
	// Occlusion configures the occlusion method.
	Occlusion OcclusionOptions
	// RISE configures RISE.
	RISE RISEOptions
	// GradientShap configures GradientShap.
	GradientShap GradientShapOptions
	// LRP configures the LRP methods.
	LRP LRPOptions
	// DeepLift configures DeepLift and DeepLiftShap.
	DeepLift DeepLiftOptions
	// Surrogate configures LIME and KernelSHAP.
	Surrogate SurrogateOptions
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

	targetGiven bool // Target was set by the caller (validate fills the default)
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
	// (y(x) - y(baseline)); it goes to 0 as the integral is approximated better. For the LRP
	// methods explaining the logit it is relevance conservation's error: the relevance's sum minus
	// the logit (biases and the rules' stabilizers absorb relevance; 0 for the z-rule on a network
	// without biases).
	Delta float64
}

// Picture draws the map: a heatmap over img in the colormap cm (img's share imageWeight, 0 meaning
// 0.5), a gradient image, or for signed attributions (LRP, DeepLift) the relevance in
// render.BWR, red for the class and blue against it.
func (mp *Map) Picture(img image.Image, cm render.Colormap, imageWeight float64) (*image.RGBA, error) {
	if mp.Method.Signed() && len(mp.Shape) == 3 {
		return render.Relevance(mp.Values, mp.Shape[0], mp.Shape[2], mp.Shape[1])
	}
	return render.Picture(mp.Values, mp.Shape, img, cm, imageWeight)
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
	Model Model

	desc  *nn.Description
	mu    sync.Mutex
	execs map[string]*context.Exec
	stats Stats
	// wholeForwards marks the Ablation-CAM graphs (by key) that must run whole forwards.
	wholeForwards map[string]bool
}

// New returns an explainer for the model: a *models.Model, or a GoMLX model function adapted
// by FromFunc.
func New(m Model) *Explainer {
	return &Explainer{Model: m, desc: m.Describe(), execs: map[string]*context.Exec{}, wholeForwards: map[string]bool{}}
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

// store decodes one image's part of this output (its values and shape) into its explanation:
// a map at the input's size directly, a layer's map or terms into the explanation's per-layer
// results (of numLayers layers), which the host then aggregates.
func (o output) store(ex *Explanation, layerResults map[*Explanation]map[Method][]layerResult, numLayers int, vals []float32, shape []int) {
	if o.kind == inputMap {
		ex.Maps[o.method] = &Map{Method: o.method, Values: vals, Shape: shape}
		return
	}
	if layerResults[ex] == nil {
		layerResults[ex] = map[Method][]layerResult{}
	}
	lr := layerResults[ex][o.method]
	if len(lr) == 0 {
		lr = make([]layerResult, numLayers)
		layerResults[ex][o.method] = lr
	}
	switch o.kind {
	case lowMap:
		lr[o.layer].low, lr[o.layer].lowShape = vals, shape
	case upMap:
		lr[o.layer].up = vals
	case channelTerms:
		lr[o.layer].terms, lr[o.layer].termsShape = vals, shape
	}
}

// plan lists the graph's outputs after the logits and the resolved classes. explainExec hands the
// same plan to the graph it builds and to the caller, which decodes each output with its entry
// (output.store).
func plan(methods []Method, numClasses, numLayers int, eigenSmooth bool) []output {
	var outs []output
	for k := range numClasses {
		for _, m := range methods {
			switch {
			case m.spec().Family == Sampled: // host loops
			case m.spec().Family == LayerMap:
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

// Explain computes the requested methods for every image of the batch (preprocessed NCHW, see
// preprocess.Transform, or NCL sequences) and every requested class. The result holds one
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
		return methods[a].rank() < methods[b].rank()
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
	exec, planned, err := e.explainExec(req.Layers, methods, req.Target, k, req.EigenSmooth, req.Counterfactual, req.LRP)
	if err != nil {
		return nil, err
	}
	var outs []*tensors.Tensor
	err = catch.Panic(func() (err error) {
		outs, err = exec.Exec(images, tensors.FromFlatDataAndDimensions(classes, b, k))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("explaining with %s: %w", e.desc.Name, err)
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
	n := e.desc.Outputs
	for i := range b {
		row := logits[i*n : (i+1)*n]
		byClass := models.Probabilities(row)
		for j := range k {
			c := int(resolved[i*k+j])
			result[i*k+j] = &Explanation{Image: i, Class: c, Label: e.desc.Label(c), Logit: row[c],
				Probability: byClass[c], SingleOutput: n == 1, Maps: map[Method]*Map{}}
		}
	}
	// Per image and class, each layer map's per-layer results, gathered before aggregation.
	layerResults := map[*Explanation]map[Method][]layerResult{}
	for idx, o := range planned {
		t := outs[2+idx]
		flat := toFloat32(t)
		dims := t.Shape().Dimensions
		per := len(flat) / b
		for i := range b {
			o.store(result[i*k+o.class], layerResults, len(req.Layers), flat[i*per:(i+1)*per:(i+1)*per], slices.Clone(dims[1:]))
		}
	}
	for _, ex := range result {
		for m, mp := range ex.Maps {
			if m.spec().Relevance {
				mp.AllZero = allZero(mp.Values, false)
				if req.Target.Name == Logit().Name {
					sum := 0.0
					for _, v := range mp.Values {
						sum += float64(v)
					}
					mp.Delta = sum - float64(ex.Logit)
				}
			}
		}
	}
	size := images.Shape().Dimensions[2:]
	if err := e.perturbationWeights(images, req, methods, k, result, layerResults); err != nil {
		return nil, err
	}
	// Each explanation's maps are finished apart (resized, normalized), on every core.
	err = eachParallel(len(result), func(i int) error {
		ex := result[i]
		for method, lr := range layerResults[ex] {
			mp, err := aggregateLayers(method, lr, size, req.EigenSmooth)
			if err != nil {
				return fmt.Errorf("%s of image %d: %w", method.Title(), ex.Image, err)
			}
			ex.Maps[method] = mp
		}
		if mp := ex.Maps[FullGrad]; mp != nil {
			mp.Values = heatmap.Normalize(mp.Values)
		}
		for _, mp := range ex.Maps {
			if mp.LowRes != nil {
				// Raw CAM and projections are ReLU'd only for display.
				mp.AllZero = allZero(mp.LowRes, mp.Method.spec().RawMap || mp.Method.finishedOnHost(req.EigenSmooth))
			} else {
				mp.AllZero = allZero(mp.Values, false)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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
	if slices.Contains(methods, GradientShap) {
		if err := e.gradientShap(images, req, k, result); err != nil {
			return nil, err
		}
	}
	for _, m := range []Method{DeepLift, DeepLiftShap} {
		if slices.Contains(methods, m) {
			if err := e.deepLift(images, req, m, k, result); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range []Method{LIME, KernelShap} {
		if slices.Contains(methods, m) {
			if err := e.surrogate(images, req.Target, m, req.Surrogate, k, result); err != nil {
				return nil, err
			}
		}
	}
	if slices.Contains(methods, RISE) {
		target := req.Target
		if !req.targetGiven {
			target = Probability()
		}
		if err := e.rise(images, target, req.RISE, k, result); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// Describe is the explained model's description: name, input, outputs, labels, layers.
func (e *Explainer) Describe() *nn.Description { return e.desc }

// Logits runs the model on a batch [B, C, H, W] ([B, C, L]) and returns its outputs, [B][outputs].
func (e *Explainer) Logits(images *tensors.Tensor) ([][]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.desc.CheckInput(images, e.Model.DType()); err != nil {
		return nil, err
	}
	const key = "logits"
	exec, ok := e.execs[key]
	if !ok {
		var err error
		exec, err = context.NewExec(e.Model.Backend(), e.Model.Context(), func(ctx *context.Context, x *graph.Node) *graph.Node {
			e.stats.GraphBuilds++
			return e.Model.ForwardWith(ctx, x, nn.Config{Plain: true}).Output
		})
		if err != nil {
			return nil, err
		}
		e.execs[key] = exec
	}
	outs, err := e.run(exec, "forward", images)
	if err != nil {
		return nil, err
	}
	n := e.desc.Outputs
	logits := make([][]float32, len(outs[0])/n)
	for i := range logits {
		logits[i] = outs[0][i*n : (i+1)*n]
	}
	return logits, nil
}
