// The explanation graph: one forward, one backward per rule and class, the maps as outputs.

package gradcam

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/heatmap"
	"github.com/gradcam-go/gradcam/nn"
)

// explainExec returns the cached executor for a configuration and its plan: what each of its
// outputs after the logits and the classes is, in order.
func (e *Explainer) explainExec(layers []string, methods []Method, target Target, numClasses int, eigenSmooth, counterfactual bool,
	lrp LRPOptions) (*context.Exec, []output, error) {
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = string(m)
	}
	key := fmt.Sprintf("explain|%s|%s|%s|%d|%t|%t|%v", strings.Join(layers, ","), strings.Join(names, ","), target.Name, numClasses,
		eigenSmooth, counterfactual, lrp.key())
	planned := plan(methods, numClasses, len(layers), eigenSmooth)
	if exec, ok := e.execs[key]; ok {
		return exec, planned, nil
	}
	m := e.Model
	exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, inputs []*Node) []*Node {
		e.stats.GraphBuilds++
		g := &explanationGraph{m: m, ctx: ctx, layers: layers, methods: methods, target: target, eigenSmooth: eigenSmooth,
			counterfactual: counterfactual, backwards: &e.stats.Backwards, plan: planned, lrp: lrp}
		return g.build(inputs[0], inputs[1])
	})
	if err != nil {
		return nil, nil, err
	}
	e.execs[key] = exec
	return exec, planned, nil
}

// explanationGraph builds one graph for a request: the forward once, then per class one backward
// pass per ReLU rule the methods need, then the maps, in plan's order.
type explanationGraph struct {
	m              Model
	ctx            *context.Context
	layers         []string
	methods        []Method
	target         Target
	eigenSmooth    bool
	counterfactual bool // negate the layer gradients
	backwards      *int
	plan           []output // the outputs to build, in order (after the logits and the classes)
	lrp            LRPOptions

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

// hasAny reports whether one of the graph's methods has the property.
func (g *explanationGraph) hasAny(has func(MethodSpec) bool) bool {
	return slices.ContainsFunc(g.methods, func(m Method) bool { return has(m.spec()) })
}

// gradients is what one class's backward passes give.
type gradients struct {
	y              *Node
	dA             []*Node // per layer
	dX             *Node   // backprop rule
	guided, deconv *Node
	dBias          []*Node // FullGrad: per bias of fw.Biases()
	relevance      map[Method]*Node
	excitation     []*Node // excitation backprop at each layer
	dual           []*Node // contrastive excitation backprop's dual at each layer
}

func (g *explanationGraph) build(images, classes *Node) []*Node {
	g.images = images
	if g.hasAny(func(s MethodSpec) bool { return s.InputGradient }) {
		g.fw = g.m.ForwardWith(g.ctx, images, nn.Config{LayerRules: g.hasAny(func(s MethodSpec) bool { return s.Relevance || s.Excitation })})
	} else {
		g.fw = g.m.ForwardWith(g.ctx, images, nn.Config{RulesFrom: g.layers}) // gradients stop at the layers
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
	for _, o := range g.plan {
		if grads[o.class] == nil {
			t := g.target.Fn(logits, resolved[o.class])
			grads[o.class] = g.backward(ReduceAllSum(t))
			g.relevance(grads[o.class], t)
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
	if g.hasAny(func(s MethodSpec) bool { return s.LayerGradient }) {
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
		if !g.hasAny(func(s MethodSpec) bool { return s.InputGradient }) {
			panic("internal error: a backward pass below the explained layers in a graph built with plain ReLUs there; " +
				"give the method InputGradient")
		}
	}
	if len(wrt) > 0 {
		*g.backwards++
		d := g.fw.Gradient(y, nn.Backprop, wrt...)
		if g.hasAny(func(s MethodSpec) bool { return s.LayerGradient }) {
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

// relevance propagates the LRP methods' relevance to the input, from t, the target's value per
// image: the relevance at the output is t itself (Captum's convention), so where the rules
// conserve, the input's relevance sums to it.
func (g *explanationGraph) relevance(gr *gradients, t *Node) {
	if g.hasAny(func(s MethodSpec) bool { return s.Excitation }) {
		// Excitation backprop starts from the class's one-hot: the gradient of the sum of t.
		zplus := nn.ZPlus()
		zplus.NoBias = true
		c := nn.Composite{Name: "excitation backprop", Convolution: zplus, Dense: zplus}
		var err error
		*g.backwards++
		if gr.excitation, err = g.fw.Relevance(ReduceAllSum(t), c, g.acts...); err != nil {
			panic(err)
		}
		if g.has(ContrastiveExcitationBackprop) {
			dual := zplus
			dual.Negate = true
			c.Name, c.Last = "contrastive excitation backprop", &dual
			*g.backwards++
			if gr.dual, err = g.fw.Relevance(ReduceAllSum(t), c, g.acts...); err != nil {
				panic(err)
			}
		}
	}
	y := ReduceAllSum(Mul(StopGradient(t), t))
	for _, m := range g.methods {
		if !m.spec().Relevance {
			continue
		}
		c, err := g.lrp.composite(m)
		if err != nil {
			panic(err)
		}
		*g.backwards++
		r, err := g.fw.Relevance(y, c, g.images)
		if err != nil {
			panic(err)
		}
		if gr.relevance == nil {
			gr.relevance = map[Method]*Node{}
		}
		gr.relevance[m] = r[0]
	}
}

// terms are a layer map's per-channel terms at layer l (MethodSpec.Terms).
func (g *explanationGraph) terms(method Method, l int, gr *gradients, class *Node) *Node {
	spec := method.spec()
	if spec.Terms == nil {
		panic(fmt.Sprintf("terms: %s is not a layer map", method))
	}
	in := TermInputs{A: g.acts[l], Spatial: g.spatial[l], Class: class, CAMWeights: func() *Node {
		w, _, err := g.m.CAMWeights(g.ctx, g.acts[l].Graph())
		if err != nil {
			panic(err)
		}
		return w
	}}
	if gr.dA != nil {
		in.G = gr.dA[l]
	}
	if gr.excitation != nil {
		in.Excitation = gr.excitation[l]
	}
	if gr.dual != nil {
		in.Dual = gr.dual[l]
	}
	return spec.Terms(in)
}

// layerMap is a layer map computed in the graph at the layer's resolution: the ReLU of the sum
// of its terms; CAM's raw class map (with SqueezeNet's bias and ReLU where the head has them).
func (g *explanationGraph) layerMap(method Method, l int, gr *gradients, class *Node) *Node {
	m := ReduceSum(g.terms(method, l, gr, class), -1)
	if !method.spec().RawMap {
		return relu(m)
	}
	if g.m.Describe().CAM.ReLUAfter {
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
	if method.spec().Relevance {
		return gr.relevance[method]
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

// interpolationWeights is heatmap.LinearWeights (half-pixel centres, no antialias) as an
// [out, in] float32 matrix: graph.Interpolate's weights.
func interpolationWeights(out, in int) [][]float32 {
	w := heatmap.LinearWeights(out, in, false)
	m := make([][]float32, out)
	for i, row := range w {
		m[i] = make([]float32, in)
		for j, v := range row {
			m[i][j] = float32(v)
		}
	}
	return m
}
