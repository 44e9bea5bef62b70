package metrics

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
)

// Quantus's faithfulness and axiomatic metrics that run the model (quantus.metrics.faithfulness
// and .axiomatic; Hedström et al. 2023). Each perturbs the image where the map says, scores the
// model on the class, and compares. The score is each metric's Quantus default: the softmax
// probability for monotonicity, monotonicity correlation, pixel flipping, region perturbation and
// non-sensitivity, the logit for the others.
//
// As in Quantus: the map is broadcast over the image's channels, so the features are the image's
// C*H*W values, a pixel's channels weighted alike; the map is scaled by its largest absolute value
// (normalise_by_max) unless the metric says otherwise; "black" is the image's smallest value
// (Quantus's perturb_baseline "black": the per-image minimum in the model's input units).
// Features are ranked by their pixel's value, a pixel's channels together, ties between pixels in
// the order of a random permutation (Quantus leaves them to NumPy's unstable argsort).
// TestPerturbationMetricsMatchQuantus runs Quantus itself on the same model, image, map and draws.

// QuantusOptions configure the perturbation metrics; the zero value is Quantus's defaults, scaled
// where Quantus counts features of a 3x224x224 image.
type QuantusOptions struct {
	// Step is the number of features (values of the image, channels counted) perturbed per step
	// of faithfulness estimate, monotonicity, monotonicity correlation, pixel flipping and
	// non-sensitivity; 0 means the image's width, C*H steps. (Quantus's default, 1, runs the model
	// C*H*W times; its notebooks use 224 at 224x224. Quantus wants H*W to be a multiple of it.)
	Step int
	// Runs and Subset are faithfulness correlation's: Runs random subsets of Subset features;
	// 0 means Quantus's 100 runs and its 224 features of a 3x224x224 image scaled to the image's
	// features (at least 1).
	Runs, Subset int
	// Samples is monotonicity correlation's number of draws per step; 0 means Quantus's 100.
	Samples int
	// Eps is monotonicity correlation's and non-sensitivity's tolerance; 0 means Quantus's 1e-5.
	Eps float64
	// PatchSize and Regions are region perturbation's: square patches of PatchSize pixels (all
	// channels), the Regions of the largest attribution removed one after another; 0 means
	// Quantus's 8 and 100.
	PatchSize, Regions int
	// InfidelityPatch is infidelity's patch size; 0 means Quantus's 4. The image's height and
	// width must be multiples of it (Quantus's infidelity fails otherwise).
	InfidelityPatch int

	// SensitivitySamples is the number of noisy images of max- and avg-sensitivity and local
	// Lipschitz; 0 means Quantus's 200.
	SensitivitySamples int
	// SensitivityRadius bounds max- and avg-sensitivity's uniform noise; 0 means Quantus's 0.2.
	SensitivityRadius float64
	// LipschitzStd is local Lipschitz's Gaussian noise deviation; 0 means Quantus's 0.1.
	LipschitzStd float64
	// ContinuitySteps is continuity's number of translations; 0 means Quantus's 28.
	ContinuitySteps int
	// InputShift is input invariance's shift; 0 means Quantus's -1.
	InputShift float64
}

// withDefaults returns o with its zero fields set for an image of c x h x w.
func (o QuantusOptions) withDefaults(c, h, w int) QuantusOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Step, w)
	def(&o.Runs, 100)
	def(&o.Subset, max(1, 224*c*h*w/(3*224*224)))
	def(&o.Samples, 100)
	def(&o.PatchSize, 8)
	def(&o.Regions, 100)
	def(&o.InfidelityPatch, 4)
	def(&o.SensitivitySamples, 200)
	def(&o.ContinuitySteps, 28)
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	deff(&o.Eps, 1e-5)
	deff(&o.SensitivityRadius, 0.2)
	deff(&o.LipschitzStd, 0.1)
	deff(&o.InputShift, -1)
	return o
}

// check refuses options no metric can run with.
func (o QuantusOptions) check(metric string, features int) error {
	for _, f := range []struct {
		name string
		v    int
	}{{"step", o.Step}, {"runs", o.Runs}, {"subset", o.Subset}, {"samples", o.Samples}, {"patch size", o.PatchSize},
		{"regions", o.Regions}, {"infidelity patch", o.InfidelityPatch}, {"sensitivity samples", o.SensitivitySamples},
		{"continuity steps", o.ContinuitySteps}} {
		if f.v < 1 {
			return fmt.Errorf("%s: %s %d must be >= 1", metric, f.name, f.v)
		}
	}
	if o.Subset > features {
		return fmt.Errorf("%s: subset %d is larger than the image's %d features", metric, o.Subset, features)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"eps", o.Eps}, {"sensitivity radius", o.SensitivityRadius}, {"Lipschitz deviation", o.LipschitzStd}} {
		if !(f.v > 0) {
			return fmt.Errorf("%s: %s %g must be > 0", metric, f.name, f.v)
		}
	}
	if math.IsNaN(o.InputShift) || math.IsInf(o.InputShift, 0) {
		return fmt.Errorf("%s: input shift %g is not a number", metric, o.InputShift)
	}
	return nil
}

// The perturbation metrics (Evaluator.Perturbation measures each; they are also --metric names).
// Higher is better for FaithfulnessCorrelation, FaithfulnessEstimate, Monotonicity,
// MonotonicityCorrelation, RegionPerturbation and IROF; lower for PixelFlipping, Infidelity and
// NonSensitivity; Completeness is the share of maps that are exactly complete.
const (
	// FaithfulnessCorrelation (Bhatt et al. 2020): the Pearson correlation, over Runs random
	// subsets of Subset features, between the map's sum over the subset and the logit's drop
	// when the subset is set to black.
	FaithfulnessCorrelation Metric = "faithfulness-correlation"
	// FaithfulnessEstimate (Alvarez-Melis and Jaakkola 2018): the Pearson correlation, over the
	// steps of Step features in decreasing order of the map, between the map's sum over the step
	// and the logit's drop when (only) those features are set to black.
	FaithfulnessEstimate Metric = "faithfulness-estimate"
	// Monotonicity (Arya et al. 2019), %: whether the probability never falls as the features are put
	// back, Step at a time in increasing order of the map, into a black image. Quantus's own
	// default perturbation puts black back (a constant image, always monotonic); this inserts
	// the image's values, as the paper does.
	Monotonicity Metric = "monotonicity"
	// MonotonicityCorrelation (Nguyen and Martínez 2020): the Spearman correlation, over the
	// steps in increasing order of the map, between the map's sum over the step and the mean
	// squared change of the probability (relative to it) when the step's features are set to a uniform
	// draw in [0, 1), Samples times.
	MonotonicityCorrelation Metric = "monotonicity-correlation"
	// PixelFlipping (Bach et al. 2015): the area (trapezoids of width 1, Quantus's
	// return_auc_per_sample) under the class's probability as the features are set to black, Step at a time in
	// decreasing order of the map, cumulatively.
	PixelFlipping Metric = "pixel-flipping"
	// RegionPerturbation (Samek et al. 2015): the area (trapezoids of width 1) under the
	// probability's drop as the Regions patches of largest map sum are set to black one after another (MoRF).
	RegionPerturbation Metric = "region-perturbation"
	// IROF (Rieger and Hansen 2020): iterative removal of features: the image's SLIC superpixels
	// (scikit-image's defaults) in decreasing order of the map's mean over them are set,
	// cumulatively, to the mean of the image so far; the value is the area over the curve of the
	// class's probability relative to the original's (the number of superpixels minus the
	// trapezoids' area). Higher is better.
	IROF Metric = "irof"
	// Infidelity (Yeh et al. 2019): the mean squared difference, over InfidelityPatch-sized
	// patches set to black cumulatively, between the logit's drop and the map (unscaled) times
	// the change of the image (Quantus's defaults: black patches, mean squared error).
	Infidelity Metric = "infidelity"
	// Completeness (Sundararajan et al. 2017), %: whether the map (scaled) sums exactly to the
	// logit's drop from the image to a black one (Quantus's test: exact equality).
	Completeness Metric = "completeness"
	// NonSensitivity (Nguyen and Martínez 2020): the number of features where the map and the
	// model disagree: zero attribution (below Eps) though setting its step to black moves the
	// probability by Eps or more, or attribution though it does not.
	NonSensitivity Metric = "non-sensitivity"
)

// perturbationMetrics are the metrics Evaluator.Perturbation measures, in table order.
var perturbationMetrics = []Metric{FaithfulnessCorrelation, FaithfulnessEstimate, Monotonicity, MonotonicityCorrelation,
	PixelFlipping, RegionPerturbation, IROF, Infidelity, Completeness, NonSensitivity}

// draws are the random numbers the perturbation metrics take: from a stream in use, from
// Quantus's recorded draws in the parity test.
type draws interface {
	// Subset returns k distinct features of n (faithfulness correlation).
	Subset(n, k int) []int
	// Uniform returns a draw in [0, 1) (monotonicity correlation's baseline).
	Uniform() float64
	// Perm returns a random permutation of n (the order of tied pixels).
	Perm(n int) []int
	// UniformNoise returns n draws uniform in [-bound, bound) (max- and avg-sensitivity).
	UniformNoise(bound float64, n int) []float64
	// NormalNoise returns n draws of N(0, std²) (local Lipschitz).
	NormalNoise(std float64, n int) []float64
	// IntN returns a draw in [0, n) (random logit's other class).
	IntN(n int) int
}

// streamDraws draws from a PCG stream.
type streamDraws struct{ r *rand.Rand }

func (d streamDraws) Subset(n, k int) []int {
	// Floyd's algorithm: k distinct values of n in k draws, in the order drawn.
	chosen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for j := n - k; j < n; j++ {
		v := d.r.IntN(j + 1)
		if chosen[v] {
			v = j
		}
		chosen[v] = true
		out = append(out, v)
	}
	return out
}
func (d streamDraws) Uniform() float64 { return d.r.Float64() }
func (d streamDraws) Perm(n int) []int { return d.r.Perm(n) }
func (d streamDraws) IntN(n int) int   { return d.r.IntN(n) }
func (d streamDraws) UniformNoise(bound float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = (2*d.r.Float64() - 1) * bound
	}
	return out
}
func (d streamDraws) NormalNoise(std float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = d.r.NormFloat64() * std
	}
	return out
}

// drawsFor is the stream of metric m numbered n under the evaluator's seed.
func (ev *Evaluator) drawsFor(m Metric, n uint64) draws {
	h := fnv.New64a()
	h.Write([]byte(m))
	return streamDraws{rand.New(rand.NewPCG(ev.Seed^h.Sum64(), n))}
}

// Perturbation measures one of Quantus's perturbation metrics (FaithfulnessCorrelation ...
// NonSensitivity) of the map of class on one image, [1, C, H, W] or [C, H, W], with the options
// in ev.Quantus. The percentages (Monotonicity, Completeness) are 0 or 100 for one image. The
// n-th call draws its random numbers from a stream seeded by (Seed, n).
func (ev *Evaluator) Perturbation(m Metric, t *tensors.Tensor, hm Heatmap, class int) (float64, error) {
	n := ev.perturbationCalls
	ev.perturbationCalls++
	return ev.perturbation(m, t, hm, class, ev.drawsFor(m, n))
}

// perturbation is Perturbation with the given draws.
func (ev *Evaluator) perturbation(m Metric, t *tensors.Tensor, hm Heatmap, class int, d draws) (float64, error) {
	if !slices.Contains(perturbationMetrics, m) {
		return 0, fmt.Errorf("%s is not a perturbation metric: they are %v", m, perturbationMetrics)
	}
	// Quantus's abs and normalise defaults per metric.
	abs := m == Monotonicity || m == MonotonicityCorrelation || m == NonSensitivity
	p, err := ev.perturbed(string(m), t, hm, class, abs, m != Infidelity, softmaxed(m), d)
	if err != nil {
		return 0, err
	}
	switch m {
	case FaithfulnessCorrelation:
		return p.faithfulnessCorrelation(d)
	case FaithfulnessEstimate:
		return p.faithfulnessEstimate()
	case Monotonicity:
		ok, err := p.monotonicity()
		return percent(ok), err
	case MonotonicityCorrelation:
		return p.monotonicityCorrelation(d)
	case PixelFlipping:
		c, err := p.pixelFlipping()
		return trapezoids(c), err
	case RegionPerturbation:
		c, err := p.regionPerturbation(d)
		return trapezoids(c), err
	case IROF:
		return p.irof(d)
	case Infidelity:
		return p.infidelity()
	case Completeness:
		ok, err := p.completeness()
		return percent(ok), err
	default: // NonSensitivity
		n, err := p.nonSensitivity()
		return float64(n), err
	}
}

// perturbed is one image, its map and class, ready to perturb.
type perturbed struct {
	ev      *Evaluator // scores logits or probabilities
	o       QuantusOptions
	img     image
	class   int
	a       []float64 // the map per pixel (H*W), scaled and abs as the metric asks
	black   float32   // the image's smallest value
	hw, nf  int       // pixels, features
	byValue []int     // features in decreasing order of their pixel's value, a pixel's channels together
}

// softmaxed says whether Quantus scores metric m on probabilities (its softmax default).
func softmaxed(m Metric) bool {
	return slices.Contains([]Metric{Monotonicity, MonotonicityCorrelation, PixelFlipping, RegionPerturbation, IROF, NonSensitivity}, m)
}

func (ev *Evaluator) perturbed(metric string, t *tensors.Tensor, hm Heatmap, class int, abs, normalise, softmax bool, d draws) (*perturbed, error) {
	img, err := ev.prepare(metric, t, hm, class)
	if err != nil {
		return nil, err
	}
	a, err := quantusMap(metric, hm, nil, abs)
	if err != nil {
		return nil, err
	}
	if !normalise {
		for i, v := range hm.Values {
			a[i] = float64(v)
			if abs {
				a[i] = math.Abs(a[i])
			}
		}
	}
	hw := img.h * img.w
	o := ev.Quantus.withDefaults(img.c, img.h, img.w)
	if err := o.check(metric, img.c*hw); err != nil {
		return nil, err
	}
	scoring := *ev
	scoring.Target = gradcam.Logit()
	if softmax {
		scoring.Target = gradcam.Probability()
	}
	p := &perturbed{ev: &scoring, o: o, img: img, class: class, a: a, black: slices.Min(img.values), hw: hw, nf: img.c * hw}
	pixels := d.Perm(hw)
	slices.SortStableFunc(pixels, func(i, j int) int { return cmp.Compare(a[j], a[i]) })
	p.byValue = make([]int, 0, p.nf)
	for _, px := range pixels {
		for c := range img.c {
			p.byValue = append(p.byValue, c*hw+px)
		}
	}
	return p, nil
}

// score scores (logit or probability) n images, fill writing image i into a copy of the
// original, and the original itself, which comes first.
func (p *perturbed) score(n int, fill func(i int, dst []float32) error) ([]float64, error) {
	s, err := p.ev.scores(p.img, p.class, n+1, func(i int, dst []float32) error {
		copy(dst, p.img.values)
		if i == 0 {
			return nil
		}
		return fill(i-1, dst)
	})
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out, nil
}

// attribution is the map's sum over the features.
func (p *perturbed) attribution(features []int) float64 {
	s := 0.0
	for _, f := range features {
		s += p.a[f%p.hw]
	}
	return s
}

// steps cuts order into steps of Step features (the last may be shorter).
func (p *perturbed) steps(order []int) [][]int {
	var out [][]int
	for i := 0; i < len(order); i += p.o.Step {
		out = append(out, order[i:min(i+p.o.Step, len(order))])
	}
	return out
}

// ascending is the features in increasing order of the map (byValue reversed pixel by pixel).
func (p *perturbed) ascending() []int {
	out := make([]int, 0, p.nf)
	for i := p.nf - p.img.c; i >= 0; i -= p.img.c {
		out = append(out, p.byValue[i:i+p.img.c]...)
	}
	return out
}

func (p *perturbed) setBlack(dst []float32, features []int) {
	for _, f := range features {
		dst[f] = p.black
	}
}

// correlationOfDrops is the Pearson correlation between the map's sums over the feature sets and
// the logit's drop when each set alone is set to black.
func (p *perturbed) correlationOfDrops(sets [][]int) (float64, error) {
	s, err := p.score(len(sets), func(i int, dst []float32) error {
		p.setBlack(dst, sets[i])
		return nil
	})
	if err != nil {
		return 0, err
	}
	att, drop := make([]float64, len(sets)), make([]float64, len(sets))
	for i, set := range sets {
		att[i], drop[i] = p.attribution(set), s[0]-s[i+1]
	}
	return pearson(att, drop), nil
}

func (p *perturbed) faithfulnessCorrelation(d draws) (float64, error) {
	sets := make([][]int, p.o.Runs)
	for i := range sets {
		sets[i] = d.Subset(p.nf, p.o.Subset)
	}
	return p.correlationOfDrops(sets)
}

func (p *perturbed) faithfulnessEstimate() (float64, error) {
	return p.correlationOfDrops(p.steps(p.byValue))
}

func (p *perturbed) monotonicity() (bool, error) {
	steps := p.steps(p.ascending())
	s, err := p.score(len(steps), func(i int, dst []float32) error {
		inserted := make([]bool, p.nf)
		for _, st := range steps[:i+1] {
			for _, f := range st {
				inserted[f] = true
			}
		}
		for f := range dst {
			if !inserted[f] {
				dst[f] = p.black
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for i := 2; i < len(s); i++ {
		if s[i] < s[i-1] {
			return false, nil
		}
	}
	return true, nil
}

func (p *perturbed) monotonicityCorrelation(d draws) (float64, error) {
	steps := p.steps(p.ascending())
	k := p.o.Samples
	u := make([]float32, len(steps)*k)
	for i := range u {
		u[i] = float32(d.Uniform())
	}
	s, err := p.score(len(u), func(i int, dst []float32) error {
		for _, f := range steps[i/k] {
			dst[f] = u[i]
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	inv := 1.0
	if y := math.Abs(s[0]); y >= p.o.Eps {
		inv = 1 / (y * y)
	}
	att, variance := make([]float64, len(steps)), make([]float64, len(steps))
	for j, st := range steps {
		att[j] = p.attribution(st)
		for i := range k {
			dy := s[1+j*k+i] - s[0]
			variance[j] += dy * dy
		}
		variance[j] = variance[j] / float64(k) * inv
	}
	return pearson(ranks(att), ranks(variance)), nil
}

// pixelFlipping is the score after each cumulative step (the original not included).
func (p *perturbed) pixelFlipping() ([]float64, error) {
	steps := p.steps(p.byValue)
	s, err := p.score(len(steps), func(i int, dst []float32) error {
		for _, st := range steps[:i+1] {
			p.setBlack(dst, st)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s[1:], nil
}

// patches are the features of the size x size patches of the image padded as Quantus pads it
// (centred, to a multiple of size), in row-major order of the patches, with each patch's map sum
// (zero in the padding); only the features inside the image are listed.
func (p *perturbed) patches(size int) (features [][]int, sums []float64) {
	pad := func(n int) int { return ((size - n%size) % size) / 2 } // Quantus's floor(half) before
	h0, w0 := pad(p.img.h), pad(p.img.w)
	rows, cols := (p.img.h+size-1)/size, (p.img.w+size-1)/size
	for r := range rows {
		for c := range cols {
			var fs []int
			sum := 0.0
			for ch := range p.img.c {
				for y := r*size - h0; y < (r+1)*size-h0; y++ {
					for x := c*size - w0; x < (c+1)*size-w0; x++ {
						if y < 0 || y >= p.img.h || x < 0 || x >= p.img.w {
							continue
						}
						fs = append(fs, ch*p.hw+y*p.img.w+x)
						sum += p.a[y*p.img.w+x]
					}
				}
			}
			features, sums = append(features, fs), append(sums, sum)
		}
	}
	return features, sums
}

// regionPerturbation is the score's drop after each region (MoRF).
func (p *perturbed) regionPerturbation(d draws) ([]float64, error) {
	features, sums := p.patches(p.o.PatchSize)
	order := d.Perm(len(sums))
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(sums[j], sums[i]) })
	order = order[:min(p.o.Regions, len(order))]
	s, err := p.score(len(order), func(i int, dst []float32) error {
		for _, r := range order[:i+1] {
			p.setBlack(dst, features[r])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drops := make([]float64, len(order))
	for i := range drops {
		drops[i] = s[0] - s[i+1]
	}
	return drops, nil
}

func (p *perturbed) infidelity() (float64, error) {
	size := p.o.InfidelityPatch
	if p.img.h%size != 0 || p.img.w%size != 0 {
		return 0, fmt.Errorf("infidelity: the image's %dx%d is not a multiple of the patch size %d: choose a patch size that divides both (Quantus's infidelity fails on padding)", p.img.h, p.img.w, size)
	}
	features, _ := p.patches(size)
	s, err := p.score(len(features), func(i int, dst []float32) error {
		for _, fs := range features[:i+1] {
			p.setBlack(dst, fs)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	loss := 0.0
	changed := 0.0 // the map times the change of the image, so far
	for i, fs := range features {
		for _, f := range fs {
			changed += p.a[f%p.hw] * (float64(p.img.values[f]) - float64(p.black))
		}
		dy := (s[0] - s[i+1]) - changed
		loss += dy * dy
	}
	return loss / float64(len(features)), nil
}

func (p *perturbed) completeness() (bool, error) {
	s, err := p.score(1, func(_ int, dst []float32) error {
		for f := range dst {
			dst[f] = p.black
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	sum := 0.0 // over the pixels: Quantus's completeness does not broadcast the map over channels
	for _, v := range p.a {
		sum += v
	}
	return sum == s[0]-s[1], nil
}

func (p *perturbed) nonSensitivity() (int, error) {
	var none, some []int // features of zero attribution and the others, in feature order
	for f := range p.nf {
		if p.a[f%p.hw] < p.o.Eps {
			none = append(none, f)
		} else {
			some = append(some, f)
		}
	}
	groups := append(p.steps(none), p.steps(some)...)
	s, err := p.score(len(groups), func(i int, dst []float32) error {
		p.setBlack(dst, groups[i])
		return nil
	})
	if err != nil {
		return 0, err
	}
	count := 0
	for i, g := range groups {
		unmoved := math.Abs(s[0]-s[i+1]) < p.o.Eps
		zero := i < len(groups)-len(p.steps(some))
		if unmoved != zero {
			count += len(g)
		}
	}
	return count, nil
}

// trapezoids is the area under a curve sampled at unit steps (numpy.trapz with dx = 1).
func trapezoids(c []float64) float64 {
	s := 0.0
	for i := 1; i < len(c); i++ {
		s += (c[i-1] + c[i]) / 2
	}
	return s
}
