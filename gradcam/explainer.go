package gradcam

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

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
	// Layer is the module path whose activations the CAM family uses; empty means the model's
	// default (the last convolutional block).
	Layer string
	// Target is the explained score; the zero value means Logit.
	Target Target
	// Occlusion configures the occlusion method.
	Occlusion OcclusionOptions
	// IntegratedGradients configures IntegratedGradients; the zero value is Captum's defaults.
	IntegratedGradients IntegratedGradientsOptions
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
}

// Explainer explains one model's decisions. It caches compiled graphs per (layer, method set,
// target, number of classes) and batch shape, so repeated calls do not recompile. It is safe
// for concurrent use; calls are serialized.
type Explainer struct {
	Model *models.Model

	mu    sync.Mutex
	execs map[string]*context.Exec
	stats Stats
}

// New returns an explainer for the model.
func New(m *models.Model) *Explainer {
	return &Explainer{Model: m, execs: map[string]*context.Exec{}}
}

// Stats returns the work counters.
func (e *Explainer) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// output is one tensor the explanation graph returns.
type output struct {
	method Method
	class  int // index into Request.Classes
	lowRes bool
}

// plan lists the graph's outputs after the logits and the resolved classes.
func plan(methods []Method, numClasses int) []output {
	var outs []output
	for k := range numClasses {
		for _, m := range methods {
			switch m {
			case Occlusion, IntegratedGradients:
				continue
			case EigenCAM, EigenGradCAM: // the matrix to project, finished on the host
				outs = append(outs, output{m, k, true})
			case GradCAM, Counterfactual, CAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, FEM:
				outs = append(outs, output{m, k, true}, output{m, k, false})
			default:
				outs = append(outs, output{m, k, false})
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
	if req.Layer == "" {
		req.Layer = e.Model.DefaultLayer()
	}
	if layers := e.Model.ExplainableLayers(); !slices.Contains(layers, req.Layer) {
		return fmt.Errorf("unknown layer %q for %s; explainable layers: %s", req.Layer, e.Model.Name, strings.Join(layers, ", "))
	}
	if slices.Contains(req.Methods, CAM) {
		if err := e.Model.CheckCAM(); err != nil {
			return err
		}
		if !slices.Contains(e.Model.CAM.Aliases, req.Layer) {
			return fmt.Errorf("%w at layer %s of %s: CAM's class weights combine the channels of %s, the input of the "+
				"global average pooling; use gradcam for other layers", models.ErrNoCAM, req.Layer, e.Model.Name, e.Model.CAM.Layer)
		}
	}
	if slices.Contains(req.Methods, IntegratedGradients) {
		req.IntegratedGradients = req.IntegratedGradients.withDefaults()
		if err := req.IntegratedGradients.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, Occlusion) {
		if images.Rank() != 4 {
			return fmt.Errorf("occlusion slides a square patch over images; %s takes sequences", e.Model.Name)
		}
		d := images.Shape().Dimensions
		if req.Occlusion.Patch == 0 {
			req.Occlusion = DefaultOcclusionFor(d[2], d[3])
		}
		if err := req.Occlusion.check(d[2], d[3]); err != nil {
			return err
		}
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
	methods := slices.Clone(req.Methods)
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
	exec, err := e.explainExec(req.Layer, methods, req.Target, k)
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
	for idx, o := range plan(methods, k) {
		t := outs[2+idx]
		flat := toFloat32(t)
		dims := t.Shape().Dimensions
		per := len(flat) / b
		for i := range b {
			ex := result[i*k+o.class]
			mp := ex.Maps[o.method]
			if mp == nil {
				mp = &Map{Method: o.method}
				ex.Maps[o.method] = mp
			}
			vals := slices.Clone(flat[i*per : (i+1)*per])
			if o.lowRes {
				mp.LowRes, mp.LowResShape = vals, slices.Clone(dims[1:])
			} else {
				mp.Values, mp.Shape = vals, slices.Clone(dims[1:])
			}
		}
	}
	if err := finishEigen(result, images.Shape().Dimensions[2:]); err != nil {
		return nil, err
	}
	for _, ex := range result {
		for _, mp := range ex.Maps {
			if mp.LowRes != nil {
				mp.AllZero = allZero(mp.LowRes, mp.Method == CAM || mp.Method.isEigen())
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
	if slices.Contains(methods, Occlusion) {
		if err := e.occlude(images, req.Target, req.Occlusion, k, result); err != nil {
			return nil, err
		}
	}
	return result, nil
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
func (e *Explainer) explainExec(layer string, methods []Method, target Target, numClasses int) (*context.Exec, error) {
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	key := fmt.Sprintf("explain|%s|%s|%s|%d", layer, strings.Join(names, ","), target.Name, numClasses)
	if exec, ok := e.execs[key]; ok {
		return exec, nil
	}
	m := e.Model
	exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, inputs []*Node) []*Node {
		e.stats.GraphBuilds++
		return explainGraph(m, ctx, inputs[0], inputs[1], layer, methods, target)
	})
	if err != nil {
		return nil, err
	}
	e.execs[key] = exec
	return exec, nil
}

// explainGraph builds one graph for a request: the forward once, then per class the gradients
// each method needs (one backward pass per ReLU rule), then the maps.
func explainGraph(m *models.Model, ctx *context.Context, images, classes *Node, layer string, methods []Method, target Target) []*Node {
	fw := m.Forward(ctx, images)
	logits := fw.Output
	a, err := fw.TapChannelsLast(layer)
	if err != nil {
		panic(err)
	}
	spatial := make([]int, a.Rank()-2) // the layer's spatial axes: 1, 2 (NHWC) or 1 (NLC)
	for i := range spatial {
		spatial[i] = i + 1
	}
	inputSize := images.Shape().Dimensions[2:]
	numClasses := classes.Shape().Dimensions[1]
	resolved := make([]*Node, numClasses)
	for k := range numClasses {
		resolved[k] = resolveClass(logits, Squeeze(Slice(classes, AxisRange(), AxisRange(k, k+1)), 1))
	}
	outs := []*Node{logits, Stack(resolved, 1)}
	has := func(ms ...Method) bool {
		for _, x := range ms {
			if slices.Contains(methods, x) {
				return true
			}
		}
		return false
	}
	for k := range numClasses {
		y := ReduceAllSum(target.Fn(logits, resolved[k]))
		// Backprop gradients: to the layer (CAM family) and to the input (saliency), in one pass.
		var dA, dX *Node
		var wrt []*Node
		if has(needsLayerGradient...) {
			wrt = append(wrt, a)
		}
		if has(Saliency, InputXGradient) {
			wrt = append(wrt, images)
		}
		if len(wrt) > 0 {
			g := fw.Gradient(y, nn.Backprop, wrt...)
			if has(needsLayerGradient...) {
				dA, g = g[0], g[1:]
			}
			if has(Saliency, InputXGradient) {
				dX = g[0]
			}
		}
		var gradcamUp *Node
		for _, method := range methods {
			switch method {
			case GradCAM, Counterfactual:
				sign := 1.0
				if method == Counterfactual {
					sign = -1
				}
				low := Max(weightedSum(a, MulScalar(ReduceMean(dA, spatial...), sign)), ScalarZero(a.Graph(), a.DType()))
				up := normalizeUpsample(low, inputSize)
				if method == GradCAM {
					gradcamUp = up
				}
				outs = append(outs, low, up)
			case CAM:
				w, b, err := m.CAMWeights(ctx, a.Graph())
				if err != nil {
					panic(err)
				}
				wc := Einsum("bn,nc->bc", OneHot(resolved[k], w.Shape().Dimensions[0], w.DType()), w) // [B, C]
				low := weightedSum(a, wc)
				if m.CAM.ReLUAfter {
					// SqueezeNet: the class map is ReLU(conv(A) + b); its average is the logit.
					bc := ReduceSum(Mul(OneHot(resolved[k], b.Shape().Dimensions[0], b.DType()), ExpandLeftToRank(b, 2)), 1)
					for bc.Rank() < low.Rank() {
						bc = ExpandAxes(bc, -1) // [B] -> [B, 1, 1] (or [B, 1])
					}
					low = Max(Add(low, bc), ScalarZero(a.Graph(), a.DType()))
				}
				outs = append(outs, low, normalizeUpsample(Max(low, ScalarZero(a.Graph(), a.DType())), inputSize))
			case HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, FEM:
				low := relu(camFamily(method, a, dA, spatial))
				outs = append(outs, low, normalizeUpsample(low, inputSize))
			case EigenCAM:
				outs = append(outs, a)
			case EigenGradCAM:
				outs = append(outs, Mul(dA, a))
			case Saliency:
				outs = append(outs, ReduceMax(Abs(dX), 1))
			case InputXGradient:
				outs = append(outs, Mul(images, dX))
			case GuidedBackprop, Deconvnet, GuidedGradCAM:
				// computed below, after Grad-CAM's map is known.
				outs = append(outs, nil)
			}
		}
		// Gradient images: one backward pass per rule, shared by guided backprop and Guided Grad-CAM.
		var guided, deconv *Node
		if has(GuidedBackprop, GuidedGradCAM) {
			guided = fw.Gradient(y, nn.Guided, images)[0]
		}
		if has(Deconvnet) {
			deconv = fw.Gradient(y, nn.Deconvnet, images)[0]
		}
		if has(GuidedGradCAM) && gradcamUp == nil {
			gradcamUp = normalizeUpsample(Max(weightedSum(a, ReduceMean(dA, spatial...)), ScalarZero(a.Graph(), a.DType())), inputSize)
		}
		outs = fillGradientImages(outs, methods, guided, deconv, gradcamUp)
	}
	return outs
}

// relu is max(x, 0).
func relu(x *Node) *Node { return Max(x, ScalarZero(x.Graph(), x.DType())) }

// camFamily is the map (before the ReLU) of a pytorch-grad-cam method from the activations a
// (channels-last), the gradients g = dy/da and the spatial axes (see the package comment).
func camFamily(method Method, a, g *Node, spatial []int) *Node {
	dt := a.DType()
	switch method {
	case HiResCAM:
		return ReduceSum(Mul(g, a), -1)
	case GradCAMElementWise:
		return ReduceSum(relu(Mul(g, a)), -1)
	case LayerCAM:
		return ReduceSum(Mul(relu(g), a), -1)
	case GradCAMPlusPlus:
		g2 := Mul(g, g)
		g3 := Mul(g2, g)
		sumA := ReduceAndKeep(a, ReduceSum, spatial...)
		alpha := Div(g2, AddScalar(Add(MulScalar(g2, 2), Mul(sumA, g3)), 1e-6))
		alpha = Where(NotEqual(g, ZerosLike(g)), alpha, ZerosLike(alpha))
		return weightedSum(a, ReduceSum(Mul(relu(g), alpha), spatial...))
	case XGradCAM:
		w := Div(ReduceSum(Mul(g, a), spatial...), AddScalar(ReduceSum(a, spatial...), 1e-7))
		return weightedSum(a, w)
	case FEM:
		mean := ReduceAndKeep(a, ReduceMean, spatial...)
		std := Sqrt(ReduceAndKeep(Square(Sub(a, mean)), ReduceMean, spatial...))
		above := ConvertDType(GreaterThan(a, Add(mean, MulScalar(std, 2))), dt)
		return weightedSum(a, ReduceMean(above, spatial...))
	}
	panic(fmt.Sprintf("camFamily: %s is not a CAM-family method", method))
}

// fillGradientImages replaces the nil placeholders of the last class, in method order.
func fillGradientImages(outs []*Node, methods []Method, guided, deconv, gradcamUp *Node) []*Node {
	var pending []Method
	for _, m := range methods {
		if m == GuidedBackprop || m == Deconvnet || m == GuidedGradCAM {
			pending = append(pending, m)
		}
	}
	j := 0
	for i := range outs {
		if outs[i] != nil {
			continue
		}
		switch pending[j] {
		case GuidedBackprop:
			outs[i] = guided
		case Deconvnet:
			outs[i] = deconv
		case GuidedGradCAM:
			outs[i] = Mul(guided, ExpandAxes(gradcamUp, 1))
		}
		j++
	}
	return outs
}

// weightedSum is sum_k w_k A_k: A is channels-last [B, h, w, C] (or [B, l, C]), w is [B, C];
// the result is [B, h, w] ([B, l]).
func weightedSum(a, w *Node) *Node {
	if a.Rank() == 3 {
		return Einsum("blc,bc->bl", a, w)
	}
	return Einsum("bhwc,bc->bhw", a, w)
}

// normalizeUpsample is pytorch-grad-cam's pipeline: scale_cam_image (per image, x - min, then
// divided by (max + 1e-7), then resized (bi)linearly with half-pixel centres to the input size),
// and scale_cam_image once more at full size, so the maximum is exactly 1 even where upsampling
// never lands on the low-resolution maximum. A map of zeros stays zeros.
func normalizeUpsample(low *Node, size []int) *Node {
	axes := make([]int, low.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	scale := func(x *Node) *Node {
		x = Sub(x, ReduceAndKeep(x, ReduceMin, axes...))
		return Div(x, AddScalar(ReduceAndKeep(x, ReduceMax, axes...), 1e-7))
	}
	return scale(Interpolate(scale(low), append([]int{-1}, size...)...).Done())
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
