package metrics

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/nn"
)

// Quantus's robustness, randomisation and input-invariance metrics: each explains again, with the
// same method and options, an image changed (noise, a translation, a shift), another class, or the
// model with its parameters re-initialized, and compares the maps (quantus.metrics.robustness,
// .randomisation, .axiomatic.InputInvariance). Maps are heatmaps as HeatmapOf gives them (a
// gradient image's absolute values summed over channels), flattened as Quantus flattens them;
// scaled by their largest absolute value where Quantus's metric normalises. The explained class
// stays the original image's. TestExplanationMetricsMatchQuantus runs Quantus with Captum's
// saliency as its explain_func on the same model, image and draws.
const (
	// MaxSensitivity and AvgSensitivity (Yeh et al. 2019): the largest and the mean, over
	// SensitivitySamples draws of uniform noise in ±SensitivityRadius added to every feature,
	// of |map - map of the noisy image|₂ / |map|₂. Lower is better.
	MaxSensitivity Metric = "max-sensitivity"
	AvgSensitivity Metric = "avg-sensitivity"
	// LocalLipschitz (Alvarez-Melis and Jaakkola 2018): the largest, over SensitivitySamples draws
	// of Gaussian noise of deviation LipschitzStd, of |map - map of the noisy image|₂ /
	// |image - noisy image|₂, the maps scaled. Lower is better.
	LocalLipschitz Metric = "local-lipschitz"
	// Continuity (Montavon et al. 2018, as Quantus computes it): the largest, over
	// ContinuitySteps horizontal translations of the image (filled with black) from nearly
	// -W to nearly +W, of |map - map of the translated image|₁ / |image - translated|₂, the maps
	// scaled and absolute. Lower is better.
	Continuity Metric = "continuity"
	// RandomLogit (Sixt et al. 2020): the structural similarity (Quantus's: scikit-image's over
	// the flattened maps, a window of 7) between the map and the map of a random other class,
	// both scaled. Lower is better.
	RandomLogit Metric = "random-logit"
	// MPRT is Adebayo et al.'s model parameter randomisation test (2018) as one number: the
	// Spearman correlation between the map and the map of the model with every layer
	// re-initialized (Quantus's MPRT with return_last_correlation; CascadingRandomization gives
	// every layer's). Lower is better. The model must be able to re-initialize its layers (a
	// models.Model or a gradcam.FromFunc model).
	MPRT Metric = "mprt"
	// InputInvariance (Kindermans et al. 2017), %: whether the map stays the same (within 1e-4,
	// numpy.isclose) when InputShift is added to every input value and the model compensates it
	// in its first operation. Higher is better.
	InputInvariance Metric = "input-invariance"
)

// explanationMetrics are the metrics Evaluator.ExplanationMetric measures, in table order.
var explanationMetrics = []Metric{MaxSensitivity, AvgSensitivity, LocalLipschitz, Continuity, RandomLogit, MPRT, InputInvariance}

// ExplanationMetric measures one of Quantus's metrics that explain again (MaxSensitivity ...
// InputInvariance) of hm, the map of req's one method for class on one image ([1, C, H, W] or
// [C, H, W]), explaining with req's options and ev.Quantus's. The n-th call draws its random
// numbers from a stream seeded by (Seed, n).
func (ev *Evaluator) ExplanationMetric(m Metric, t *tensors.Tensor, hm Heatmap, class int, req gradcam.Request) (float64, error) {
	n := ev.explanationCalls
	ev.explanationCalls++
	return ev.explanationMetric(m, t, hm, class, req, ev.drawsFor(m, n))
}

func (ev *Evaluator) explanationMetric(m Metric, t *tensors.Tensor, hm Heatmap, class int, req gradcam.Request, d draws) (float64, error) {
	if !slices.Contains(explanationMetrics, m) {
		return 0, fmt.Errorf("%s is not a metric that explains again: they are %v", m, explanationMetrics)
	}
	if len(req.Methods) != 1 {
		return 0, fmt.Errorf("%s: the request names %d methods; name the one whose map is measured", m, len(req.Methods))
	}
	img, err := ev.prepare(string(m), t, hm, class)
	if err != nil {
		return 0, err
	}
	if _, err := quantusMap(string(m), hm, nil, false); err != nil {
		return 0, err // an all-zero map
	}
	o := ev.Quantus.withDefaults(img.c, img.h, img.w)
	if err := o.check(string(m), img.c*img.h*img.w); err != nil {
		return 0, err
	}
	x := &reexplained{ev: ev, o: o, img: img, class: class, req: req, method: req.Methods[0], hm: hm}
	switch m {
	case MaxSensitivity, AvgSensitivity:
		s, err := x.sensitivities(d)
		if err != nil {
			return 0, err
		}
		if m == MaxSensitivity {
			return slices.Max(s), nil
		}
		return meanOf(s), nil
	case LocalLipschitz:
		return x.localLipschitz(d)
	case Continuity:
		return x.continuity()
	case RandomLogit:
		return x.randomLogit(d)
	case MPRT:
		return x.mprt()
	default: // InputInvariance
		ok, err := x.inputInvariance()
		return percent(ok), err
	}
}

// reexplained is one image, its map, and how to explain it again.
type reexplained struct {
	ev     *Evaluator
	o      QuantusOptions
	img    image
	class  int
	req    gradcam.Request
	method gradcam.Method
	hm     Heatmap
}

// maps explains images (each C*H*W) with e for classes (one per image), in batches of at most
// BatchSize of equal size (the last padded with copies).
func (x *reexplained) maps(e *gradcam.Explainer, images [][]float32, classes []int) ([]Heatmap, error) {
	n, size := len(images), len(x.img.values)
	chunks := (n + x.ev.BatchSize - 1) / x.ev.BatchSize
	batch := (n + chunks - 1) / chunks
	req := x.req
	req.Classes = nil
	out := make([]Heatmap, 0, n)
	buf := make([]float32, batch*size)
	for start := 0; start < n; start += batch {
		k := min(batch, n-start)
		req.ImageClasses = make([]int, batch)
		for i := range batch {
			j := start + min(i, k-1)
			copy(buf[i*size:(i+1)*size], images[j])
			req.ImageClasses[i] = classes[j]
		}
		res, err := e.Explain(tensors.FromFlatDataAndDimensions(slices.Clone(buf), batch, x.img.c, x.img.h, x.img.w), req)
		if err != nil {
			return nil, err
		}
		for i := range k {
			hm, err := HeatmapOf(res.At(i, 0).Maps[x.method])
			if err != nil {
				return nil, err
			}
			out = append(out, hm)
		}
	}
	return out, nil
}

// same is n copies of class.
func same(class, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = class
	}
	return out
}

// noisy returns n copies of the image with noise added to every value (float32(x + noise), as
// NumPy stores float64 noise added to a float32 image).
func (x *reexplained) noisy(n int, noise func(size int) []float64) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		z := noise(len(x.img.values))
		v := make([]float32, len(z))
		for j := range v {
			v[j] = float32(float64(x.img.values[j]) + z[j])
		}
		out[i] = v
	}
	return out
}

// flat is a map's values in float64, scaled by the largest absolute value (when scale is set
// and the map is not all zero) and absolute (when abs is).
func flat(hm Heatmap, scale, abs bool) []float64 {
	out := make([]float64, len(hm.Values))
	top := 0.0
	for i, v := range hm.Values {
		out[i] = float64(v)
		top = max(top, math.Abs(out[i]))
	}
	for i := range out {
		if scale && top > 0 {
			out[i] /= top
		}
		if abs {
			out[i] = math.Abs(out[i])
		}
	}
	return out
}

// distance is the L2 (p = 2) or L1 (p = 1) distance.
func distance[T float32 | float64](a, b []T, p int) float64 {
	s := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if p == 2 {
			d *= d
		}
		s += d
	}
	if p == 2 {
		return math.Sqrt(s)
	}
	return s
}

func meanOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// sensitivities are |a - a'|₂ / |a|₂ for each noisy image (the maps unscaled).
func (x *reexplained) sensitivities(d draws) ([]float64, error) {
	r := x.o.SensitivityRadius
	images := x.noisy(x.o.SensitivitySamples, func(n int) []float64 { return d.UniformNoise(r, n) })
	hms, err := x.maps(x.ev.Explainer, images, same(x.class, len(images)))
	if err != nil {
		return nil, err
	}
	a := flat(x.hm, false, false)
	norm := distance(a, make([]float64, len(a)), 2)
	out := make([]float64, len(hms))
	for i, hm := range hms {
		out[i] = distance(a, flat(hm, false, false), 2) / norm
	}
	return out, nil
}

func (x *reexplained) localLipschitz(d draws) (float64, error) {
	std := x.o.LipschitzStd
	images := x.noisy(x.o.SensitivitySamples, func(n int) []float64 { return d.NormalNoise(std, n) })
	hms, err := x.maps(x.ev.Explainer, images, same(x.class, len(images)))
	if err != nil {
		return 0, err
	}
	a := flat(x.hm, true, false)
	best := math.Inf(-1)
	for i, hm := range hms {
		best = max(best, distance(a, flat(hm, true, false), 2)/(distance(x.img.values, images[i], 2)+1e-10))
	}
	return best, nil
}

// translated is the image moved dx pixels along x (right for dx > 0), the uncovered columns black
// (the image's smallest value): Quantus's batched_translation.
func (x *reexplained) translated(dx int) []float32 {
	black := slices.Min(x.img.values)
	out := make([]float32, len(x.img.values))
	w := x.img.w
	for row := range x.img.c * x.img.h {
		for col := range w {
			v := black
			if src := col - dx; src >= 0 && src < w {
				v = x.img.values[row*w+src]
			}
			out[row*w+col] = v
		}
	}
	return out
}

func (x *reexplained) continuity() (float64, error) {
	steps := x.o.ContinuitySteps
	dx := (2*x.img.w + 1) / steps
	if dx == 0 {
		return 0, fmt.Errorf("continuity: %d steps are more than the %d translations of a %d-pixel-wide image", steps, 2*x.img.w+1, x.img.w)
	}
	images := make([][]float32, steps)
	for i := range images {
		images[i] = x.translated(-x.img.w + (i+1)*dx)
	}
	hms, err := x.maps(x.ev.Explainer, images, same(x.class, steps))
	if err != nil {
		return 0, err
	}
	a := flat(x.hm, true, true)
	best := math.Inf(-1)
	for i, hm := range hms {
		best = max(best, distance(a, flat(hm, true, true), 1)/(distance(x.img.values, images[i], 2)+1e-9))
	}
	return best, nil
}

func (x *reexplained) randomLogit(d draws) (float64, error) {
	outputs := x.ev.Explainer.Describe().Outputs
	if outputs < 2 {
		return 0, fmt.Errorf("random-logit: %s has one output: there is no other class to explain", x.ev.Explainer.Describe().Name)
	}
	off := d.IntN(outputs - 1) // of the classes other than x.class, in order
	if off >= x.class {
		off++
	}
	hms, err := x.maps(x.ev.Explainer, [][]float32{x.img.values}, []int{off})
	if err != nil {
		return 0, err
	}
	a, b := flat(x.hm, true, false), flat(hms[0], true, false)
	lo, hi := math.Min(slices.Min(a), slices.Min(b)), math.Max(slices.Max(a), slices.Max(b))
	if len(a) < 7 {
		return 0, fmt.Errorf("random-logit: a map of %d pixels is smaller than SSIM's window of 7", len(a))
	}
	if hi == lo {
		return 0, fmt.Errorf("random-logit: both maps are constant %g: SSIM has no data range", lo)
	}
	toMap := func(v []float64) Heatmap {
		out := make([]float32, len(v))
		for i := range v {
			out[i] = float32(v[i])
		}
		return Heatmap{Values: out, H: 1, W: len(v)}
	}
	return ssim(toMap(a), toMap(b), hi-lo, 1, 7)
}

func (x *reexplained) mprt() (float64, error) {
	e, err := x.ev.randomizedExplainer()
	if err != nil {
		return 0, err
	}
	hms, err := x.maps(e, [][]float32{x.img.values}, []int{x.class})
	if err != nil {
		return 0, err
	}
	return pearson(ranks(flat(x.hm, true, true)), ranks(flat(hms[0], true, true))), nil
}

// randomizedExplainer explains with the evaluator's model with every layer re-initialized from
// Seed (made once per evaluator).
func (ev *Evaluator) randomizedExplainer() (*gradcam.Explainer, error) {
	if ev.randomized != nil {
		return ev.randomized, nil
	}
	m := ev.Explainer.Model
	r, ok := m.(randomizable)
	if !ok {
		return nil, fmt.Errorf("mprt: %s cannot re-initialize its layers (a models.Model or a gradcam.FromFunc model can)", m.Describe().Name)
	}
	layers := r.ParamLayers()
	if len(layers) == 0 {
		return nil, fmt.Errorf("mprt: %s has no layers with parameters", m.Describe().Name)
	}
	rm, err := randomized(m, layers, ev.Seed)
	if err != nil {
		return nil, fmt.Errorf("mprt: %w", err)
	}
	ev.randomized = gradcam.New(rm)
	return ev.randomized, nil
}

func (x *reexplained) inputInvariance() (bool, error) {
	shift := x.o.InputShift
	shifted := make([]float32, len(x.img.values))
	for i, v := range x.img.values {
		shifted[i] = float32(float64(v) + shift)
	}
	hms, err := x.maps(gradcam.New(shiftedInput{x.ev.Explainer.Model, shift}), [][]float32{shifted}, []int{x.class})
	if err != nil {
		return false, err
	}
	for i, v := range hms[0].Values {
		a, b := float64(x.hm.Values[i]), float64(v)
		if !(math.Abs(a-b) <= 1e-4+1e-5*math.Abs(b)) { // numpy.isclose(a, b, atol=1e-4)
			return false, nil
		}
	}
	return true, nil
}

// shiftedInput is a model whose first operation subtracts shift from its input: the model
// Quantus's add_mean_shift_to_first_layer makes by changing the first convolution's bias
// (exactly so when that convolution does not pad).
type shiftedInput struct {
	gradcam.Model
	shift float64
}

func (s shiftedInput) ForwardWith(ctx *context.Context, inputs *graph.Node, cfg nn.Config) *nn.Forward {
	return s.Model.ForwardWith(ctx, graph.AddScalar(inputs, -s.shift), cfg)
}
