package metrics

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
)

// DefaultROADPercentiles returns the percentiles ROAD's averages run over (pytorch-grad-cam's
// ROAD*Average and ROADCombined).
func DefaultROADPercentiles() []float64 { return []float64{10, 20, 30, 40, 50, 60, 70, 80, 90} }

// DefaultROADNoise is the standard deviation of the noise ROAD's imputer adds to every filled
// value, in input units (pytorch-grad-cam's NoisyLinearImputer).
const DefaultROADNoise = 0.01

// Evaluator measures how faithful maps are to the model that they explain, by scoring the model
// on images from which what a map ranks first is removed, or to which it is added back: deletion
// and insertion curves (RISE), ROAD, and the confidence change of the image masked by the map
// (Average Drop and Increase in Confidence). Each method takes one image, the map of one class
// at the image's size, and that class.
//
// An Evaluator is not safe for concurrent use (ROAD's noise is drawn from one stream).
type Evaluator struct {
	// Explainer runs the model; evaluating with the explainer that made the maps shares its
	// compiled graphs.
	Explainer *gradcam.Explainer
	// Target is the score the metrics follow; NewEvaluator sets gradcam.Probability(), the softmax
	// probability of the class, as RISE and pytorch-grad-cam's examples use.
	Target gradcam.Target
	// BatchSize is the number of perturbed images per model execution.
	BatchSize int
	// DeletionStep is the number of pixels deleted or inserted per step of the RISE curves;
	// 0 means the image's width (RISE's 224 at 224x224).
	DeletionStep int
	// ROADPercentiles are the percentiles of ROAD's averages.
	ROADPercentiles []float64
	// ROADNoise is the imputer's noise (DefaultROADNoise); 0 makes ROAD deterministic.
	ROADNoise float64
	// Seed seeds ROAD's noise: the n-th ROAD call of an Evaluator draws from a stream seeded by
	// (Seed, n).
	Seed uint64
	// Quantus configures the perturbation metrics (Perturbation); the zero value is Quantus's
	// defaults, scaled to the image.
	Quantus QuantusOptions

	roadCalls, perturbationCalls, explanationCalls uint64
	// randomized explains with every layer of the model re-initialized (MPRT), made once.
	randomized *gradcam.Explainer
}

// NewEvaluator returns an Evaluator of the explainer's model with the reference defaults.
func NewEvaluator(e *gradcam.Explainer) *Evaluator {
	return &Evaluator{Explainer: e, Target: gradcam.Probability(), BatchSize: 32,
		ROADPercentiles: DefaultROADPercentiles(), ROADNoise: DefaultROADNoise}
}

// image is one model input, [C, H, W] row-major.
type image struct {
	values  []float32
	c, h, w int
}

// imageOf reads one image, [1, C, H, W] or [C, H, W], float32 or float64.
func imageOf(t *tensors.Tensor) (image, error) {
	if t == nil {
		return image{}, fmt.Errorf("no image")
	}
	dims := t.Shape().Dimensions
	if len(dims) == 4 && dims[0] == 1 {
		dims = dims[1:]
	}
	if len(dims) != 3 {
		return image{}, fmt.Errorf("an image is [1, C, H, W] or [C, H, W], got shape %s: evaluate one image at a time", t.Shape())
	}
	var v []float32
	switch t.Shape().DType {
	case dtypes.Float32:
		v = tensors.MustCopyFlatData[float32](t)
	case dtypes.Float64:
		for _, x := range tensors.MustCopyFlatData[float64](t) {
			v = append(v, float32(x))
		}
	default:
		return image{}, fmt.Errorf("an image is float32 or float64, got %s", t.Shape().DType)
	}
	return image{v, dims[0], dims[1], dims[2]}, nil
}

// prepare checks the evaluator, the image, the map and the class.
func (ev *Evaluator) prepare(metric string, t *tensors.Tensor, hm Heatmap, class int) (image, error) {
	if ev.Explainer == nil {
		return image{}, fmt.Errorf("%s: the evaluator has no explainer (use NewEvaluator)", metric)
	}
	if ev.Target.Fn == nil {
		return image{}, fmt.Errorf("%s: the evaluator has no target (use NewEvaluator)", metric)
	}
	if ev.BatchSize < 1 {
		return image{}, fmt.Errorf("%s: batch size %d must be >= 1", metric, ev.BatchSize)
	}
	img, err := imageOf(t)
	if err != nil {
		return image{}, fmt.Errorf("%s: %w", metric, err)
	}
	if err := hm.check(metric, img.h, img.w); err != nil {
		return image{}, err
	}
	if m := ev.Explainer.Describe(); class < 0 || class >= m.Outputs {
		return image{}, fmt.Errorf("%s: class %d is out of range: %s has %d outputs (0..%d)", metric, class, m.Name, m.Outputs, m.Outputs-1)
	}
	return img, nil
}

// scores returns the target scores of n images of img's shape, image i written into its
// buffer by fill (called for i = 0 .. n-1 in order), in the fewest executions of at most
// BatchSize images, of equal size (the last padded with copies) so that one compiled graph serves
// them all.
func (ev *Evaluator) scores(img image, class, n int, fill func(i int, dst []float32) error) ([]float32, error) {
	size := img.c * img.h * img.w
	chunks := (n + ev.BatchSize - 1) / ev.BatchSize
	batch := (n + chunks - 1) / chunks // even chunks: little padding
	buf := make([]float32, batch*size)
	classes := make([]int, batch)
	for i := range classes {
		classes[i] = class
	}
	out := make([]float32, 0, n)
	for start := 0; start < n; start += batch {
		k := min(batch, n-start)
		for i := range k {
			if err := fill(start+i, buf[i*size:(i+1)*size]); err != nil {
				return nil, err
			}
		}
		for i := k; i < batch; i++ {
			copy(buf[i*size:(i+1)*size], buf[(k-1)*size:k*size])
		}
		s, err := ev.Explainer.Scores(tensors.FromFlatDataAndDimensions(buf, batch, img.c, img.h, img.w), ev.Target, classes)
		if err != nil {
			return nil, err
		}
		out = append(out, s[:k]...)
	}
	return out, nil
}

// Curve is a deletion or insertion curve: the target score after each step, Scores[0] before
// the first.
type Curve struct {
	Scores []float32
	// Step is the number of pixels deleted or inserted per step.
	Step int
}

// AUC is RISE's area under the curve, with the x axis scaled to [0, 1]: the trapezoidal rule
// over n steps, (sum s - s_0/2 - s_n/2) / n. (RISE divides by the number of scores minus one,
// which is n.)
func (c Curve) AUC() float64 {
	n := len(c.Scores) - 1
	if n < 1 {
		return math.NaN()
	}
	var sum float64
	for _, s := range c.Scores {
		sum += float64(s)
	}
	return (sum - float64(c.Scores[0])/2 - float64(c.Scores[n])/2) / float64(n)
}

// Deletion is RISE's deletion curve: the image's pixels set to 0 (in the model's input units,
// i.e. the normalized tensor) Step at a time in order of decreasing saliency, the class's score
// after each step. A faithful map makes the score fall fast: lower AUC is better.
//
// Pixels of equal saliency are taken in row-major order (RISE takes them in whatever order
// NumPy's unstable argsort leaves them). RISE follows the image's top-1 class; this follows the
// class given, which is the top-1 when the map explains the prediction.
func (ev *Evaluator) Deletion(t *tensors.Tensor, hm Heatmap, class int) (Curve, error) {
	img, err := ev.prepare("deletion", t, hm, class)
	if err != nil {
		return Curve{}, err
	}
	return ev.causal(img, hm, class, img.values, make([]float32, len(img.values)))
}

// Insertion is RISE's insertion curve: starting from the image blurred (RISE's Gaussian: an
// 11x11 kernel of sigma 5, zero padding), the original pixels put back Step at a time in order
// of decreasing saliency, the class's score after each step. A faithful map makes the score rise
// fast: higher AUC is better. Ties and the class are as for Deletion.
func (ev *Evaluator) Insertion(t *tensors.Tensor, hm Heatmap, class int) (Curve, error) {
	img, err := ev.prepare("insertion", t, hm, class)
	if err != nil {
		return Curve{}, err
	}
	return ev.causal(img, hm, class, blurRISE(img), img.values)
}

// causal runs a RISE curve from start to finish.
func (ev *Evaluator) causal(img image, hm Heatmap, class int, start, finish []float32) (Curve, error) {
	hw := img.h * img.w
	step := ev.DeletionStep
	if step == 0 {
		step = img.w
	}
	if step < 0 {
		return Curve{}, fmt.Errorf("deletion/insertion step %d must be >= 1 pixel", step)
	}
	order := make([]int, hw)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(hm.Values[b], hm.Values[a]) })
	steps := (hw + step - 1) / step
	cur := slices.Clone(start)
	s, err := ev.scores(img, class, steps+1, func(i int, dst []float32) error {
		if i > 0 {
			for _, p := range order[(i-1)*step : min(i*step, hw)] {
				for ch := range img.c {
					cur[ch*hw+p] = finish[ch*hw+p]
				}
			}
		}
		copy(dst, cur)
		return nil
	})
	if err != nil {
		return Curve{}, err
	}
	return Curve{Scores: s, Step: step}, nil
}

// riseKernel is RISE's blur kernel, gkern(11, 5): SciPy's gaussian_filter (sigma 5, truncated
// at 4 sigma, mode 'reflect') of an 11x11 delta. The filter is separable and so is the delta,
// so the kernel is k ⊗ k with k the 1-D filter of an 11-long delta.
var riseKernel = func() []float64 {
	const n, sigma, centre = 11, 5.0, 5
	radius := int(math.Floor(4*sigma + 0.5)) // SciPy: int(truncate * sigma + 0.5)
	weights := make([]float64, 2*radius+1)
	var total float64
	for j := -radius; j <= radius; j++ {
		weights[j+radius] = math.Exp(-0.5 * float64(j*j) / (sigma * sigma))
		total += weights[j+radius]
	}
	reflect := func(x int) int { // SciPy's 'reflect' (d c b a | a b c d | d c b a)
		for x < 0 || x >= n {
			if x < 0 {
				x = -x - 1
			} else {
				x = 2*n - x - 1
			}
		}
		return x
	}
	k := make([]float64, n)
	for i := range n {
		for j := -radius; j <= radius; j++ {
			if reflect(i+j) == centre {
				k[i] += weights[j+radius] / total
			}
		}
	}
	return k
}()

// blurRISE blurs each channel with riseKernel ⊗ riseKernel, zero padding (RISE's insertion
// substrate, a conv2d with padding 5).
func blurRISE(img image) []float32 {
	k := riseKernel
	r := len(k) / 2
	h, w, hw := img.h, img.w, img.h*img.w
	out := make([]float32, len(img.values))
	rows := make([]float64, hw)
	for ch := range img.c {
		plane := img.values[ch*hw : (ch+1)*hw]
		for y := range h {
			for x := range w {
				var s float64
				for j := -r; j <= r; j++ {
					if xx := x + j; xx >= 0 && xx < w {
						s += k[j+r] * float64(plane[y*w+xx])
					}
				}
				rows[y*w+x] = s
			}
		}
		for y := range h {
			for x := range w {
				var s float64
				for j := -r; j <= r; j++ {
					if yy := y + j; yy >= 0 && yy < h {
						s += k[j+r] * rows[yy*w+x]
					}
				}
				out[ch*hw+y*w+x] = float32(s)
			}
		}
	}
	return out
}

// ROADResult holds ROAD's score changes at each percentile: the target score of the image with
// pixels removed and imputed, minus the original image's score.
type ROADResult struct {
	Percentiles []float64
	// MoRF removes the most relevant pixels: those at or above the percentile of the map. A
	// faithful map makes the score drop: lower is better.
	MoRF []float32
	// LeRF removes the least relevant pixels: at or below the (100 - p)-th percentile. A
	// faithful map keeps the score: higher is better.
	LeRF []float32
}

// MoRFMean is the mean of MoRF over the percentiles (pytorch-grad-cam's
// ROADMostRelevantFirstAverage).
func (r ROADResult) MoRFMean() float64 { return mean(r.MoRF) }

// LeRFMean is the mean of LeRF over the percentiles (ROADLeastRelevantFirstAverage).
func (r ROADResult) LeRFMean() float64 { return mean(r.LeRF) }

// Combined is (LeRFMean - MoRFMean) / 2 (pytorch-grad-cam's ROADCombined): higher is better.
func (r ROADResult) Combined() float64 { return (r.LeRFMean() - r.MoRFMean()) / 2 }

func mean(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v))
}

// ROAD is Rong et al.'s RemOve And Debias: for each percentile p, MoRF removes the pixels the map
// ranks highest and keeps the lowest p%, LeRF removes the lowest and keeps the highest p% (so MoRF
// at 80 removes the top 20% and LeRF at 20 the bottom 80%, as pytorch-grad-cam's
// RemoveMostRelevantFirst and RemoveLeastRelevantFirst do); the removed pixels are filled by the
// noisy linear imputer (each the weighted mean of its 8 neighbours, plus ROADNoise N(0, 1)), and
// the result is the score change.
//
// Pixels are removed by rank, exactly the requested share, as the ROAD paper defines it: the
// pixels kept at p are the first ceil(p/100 * (n-1)) of n in order of the map, which is the count
// pytorch-grad-cam's "value below the p-th percentile" keeps when no two values are equal, so
// there the numbers are pytorch-grad-cam's. Where values tie (a CAM after its ReLU is zero over
// much of the image; an all-zero or constant map ties everywhere), tied pixels are ordered by a
// random permutation seeded by (Seed, n) for the Evaluator's n-th ROAD call, where
// pytorch-grad-cam keeps none of the tied pixels at the cut, or removes every pixel.
func (ev *Evaluator) ROAD(t *tensors.Tensor, hm Heatmap, class int) (ROADResult, error) {
	n := ev.roadCalls
	ev.roadCalls++
	return ev.road(t, hm, class, n)
}

// road is ROAD with its draws from the stream (Seed, n). Evaluate numbers the streams by image and
// method instead of by call, so that an image's values do not depend on which images were
// measured before it, or where (a resumed run, several workers).
func (ev *Evaluator) road(t *tensors.Tensor, hm Heatmap, class int, n uint64) (ROADResult, error) {
	img, err := ev.prepare("ROAD", t, hm, class)
	if err != nil {
		return ROADResult{}, err
	}
	ps := ev.ROADPercentiles
	if len(ps) == 0 {
		return ROADResult{}, fmt.Errorf("ROAD: no percentiles")
	}
	for _, p := range ps {
		if !(p >= 0 && p <= 100) {
			return ROADResult{}, fmt.Errorf("ROAD: percentile %g is not in [0, 100]", p)
		}
	}
	if ev.ROADNoise < 0 {
		return ROADResult{}, fmt.Errorf("ROAD: noise %g is negative", ev.ROADNoise)
	}
	rng := rand.New(rand.NewPCG(ev.Seed, n))
	ties := rand.New(rand.NewPCG(ev.Seed^roadTieStream, n))
	hw := img.h * img.w
	ascending := rankPixels(hm.Values, ties) // lowest value first
	// Image 0 is the original; then MoRF at each percentile, then LeRF.
	s, err := ev.scores(img, class, 1+2*len(ps), func(i int, dst []float32) error {
		copy(dst, img.values)
		if i == 0 {
			return nil
		}
		p := ps[(i-1)%len(ps)]
		k := keptByPercentile(hw, p)
		if k == 0 {
			return fmt.Errorf("ROAD at percentile %g keeps no pixel of %d: nothing is left to impute from; use percentiles above 0", p, hw)
		}
		return imputeLinear(dst, img.c, img.h, img.w, roadKeep(ascending, k, i <= len(ps)), ev.ROADNoise, rng)
	})
	if err != nil {
		return ROADResult{}, err
	}
	r := ROADResult{Percentiles: slices.Clone(ps), MoRF: make([]float32, len(ps)), LeRF: make([]float32, len(ps))}
	for i := range ps {
		r.MoRF[i] = s[1+i] - s[0]
		r.LeRF[i] = s[1+len(ps)+i] - s[0]
	}
	return r, nil
}

// roadTieStream separates ROAD's tie-breaking draws from its noise, so that maps without ties
// get the same noise as before ties were broken.
const roadTieStream = 0x524f41445f544945 // "ROAD_TIE"

// rankPixels returns the pixel indices in ascending order of value, tied values in the order of a
// random permutation drawn from r. (For LeRF, which ranks 1 - value ascending, the same order read
// from the end is used, so LeRF's ties are broken by the same draw reversed.)
func rankPixels(values []float32, r *rand.Rand) []int {
	order := r.Perm(len(values))
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(values[a], values[b]) })
	return order
}

// roadKeep marks the pixels ROAD keeps: the k lowest in ascending order for MoRF, the k highest
// for LeRF.
func roadKeep(ascending []int, k int, morf bool) []bool {
	keep := make([]bool, len(ascending))
	kept := ascending[len(ascending)-k:]
	if morf {
		kept = ascending[:k]
	}
	for _, q := range kept {
		keep[q] = true
	}
	return keep
}

// keptByPercentile is how many of n pixels ROAD keeps at percentile p: ceil(p/100 * (n-1)), the
// number of n distinct values below NumPy's (linearly interpolated) p-th percentile.
func keptByPercentile(n int, p float64) int {
	rank := p / 100 * float64(n-1)
	return min(int(math.Ceil(rank)), n)
}

// ConfidenceChange is the target score of an image (Before) and of the image multiplied by its
// map (After).
type ConfidenceChange struct {
	Before, After float32
}

// Drop is pytorch-grad-cam's DropInConfidence: max(Before - After, 0).
func (c ConfidenceChange) Drop() float64 { return math.Max(float64(c.Before)-float64(c.After), 0) }

// Increased is pytorch-grad-cam's IncreaseInConfidence (and the Grad-CAM++ paper's indicator):
// After > Before.
func (c ConfidenceChange) Increased() bool { return c.After > c.Before }

// RelativeDrop is the Grad-CAM++ paper's term of Average Drop: max(0, Before - After) / Before
// (0 when Before is 0).
func (c ConfidenceChange) RelativeDrop() float64 {
	if c.Before <= 0 {
		return 0
	}
	return c.Drop() / float64(c.Before)
}

// Confidence scores the image and the image multiplied by the map (pytorch-grad-cam's
// CamMultImageConfidenceChange; the Grad-CAM++ paper's explanation map E_c * image). The map is
// first min-max scaled to [0, 1], which leaves CAM-family maps unchanged and gives raw maps
// (saliency, occlusion) the same range. A constant map (an all-zero CAM) keeps its value clipped to
// [0, 1]: all zero blanks the image, as pytorch-grad-cam's product does.
func (ev *Evaluator) Confidence(t *tensors.Tensor, hm Heatmap, class int) (ConfidenceChange, error) {
	img, err := ev.prepare("confidence", t, hm, class)
	if err != nil {
		return ConfidenceChange{}, err
	}
	lo, hi := slices.Min(hm.Values), slices.Max(hm.Values)
	scale := func(v float32) float32 { return (v - lo) / (hi - lo) }
	if hi <= lo { // constant: nothing singled out (0 keeps nothing) or everything (1)
		scale = func(float32) float32 { return float32(min(max(hi, 0), 1)) }
	}
	hw := img.h * img.w
	s, err := ev.scores(img, class, 2, func(i int, dst []float32) error {
		copy(dst, img.values)
		if i == 1 {
			for p, v := range hm.Values {
				m := scale(v)
				for ch := range img.c {
					dst[ch*hw+p] *= m
				}
			}
		}
		return nil
	})
	if err != nil {
		return ConfidenceChange{}, err
	}
	return ConfidenceChange{Before: s[0], After: s[1]}, nil
}
