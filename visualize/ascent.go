package visualize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
)

// Objective is what gradient ascent maximizes: an output's score (class model visualization,
// Simonyan et al. 2014) or, when Layer is set, the mean activation of one channel of a spatial
// layer (single-unit feature visualization).
type Objective struct {
	Class   int    // the output (logit) to maximize when Layer is empty
	Layer   string // a spatial layer
	Channel int    // its channel
}

// String is "class 243" or "features.28 channel 7".
func (o Objective) String() string {
	if o.Layer != "" {
		return fmt.Sprintf("%s channel %d", o.Layer, o.Channel)
	}
	return fmt.Sprintf("class %d", o.Class)
}

// AscentOptions configure GradientAscent. The regularizers are those of Yosinski et al. (2015),
// "Understanding Neural Networks Through Deep Visualization"; zero values turn each one off.
type AscentOptions struct {
	// Steps of ascent; 0 means DefaultAscent's.
	Steps int
	// LearningRate scales each step, taken along the gradient divided by its mean magnitude (so
	// it is in input units: normalized pixels); 0 means DefaultAscent's.
	LearningRate float64
	// Decay is the L2 penalty's weight decay: each step multiplies the input by 1 - Decay
	// (Simonyan's lambda ||x||^2, as Yosinski applies it).
	Decay float64
	// Jitter shifts the input by up to this many pixels (uniformly, both axes, wrapping around)
	// before each gradient and back after it.
	Jitter int
	// BlurEvery and BlurSigma blur the input with a Gaussian of BlurSigma pixels every BlurEvery
	// steps.
	BlurEvery int
	BlurSigma float64
	// NormPercentile sets to the mean image the pixels whose norm over the channels is below
	// this percentile (0-100) after each step (Yosinski's clipping of pixels with small norm).
	NormPercentile float64
	// FromNoise starts from Gaussian noise of standard deviation 0.1 (normalized units) instead
	// of the mean image (zero, which is the dataset mean for a normalized network).
	FromNoise bool
	// Seed makes the noise and the jitter reproducible.
	Seed uint64
	// SnapshotEvery keeps the image every this many steps (and the start and the result) in
	// Ascent.Snapshots, to watch the ascent; 0 keeps none.
	SnapshotEvery int
}

// DefaultAscent returns settings that make recognizable class models on the ImageNet networks
// (MobileNetV2's flamingo in 40 steps, 15 s here): normalized steps of 0.1, decay 0.005,
// jitter 8 px, a 1 px blur every 4 steps, the pixels below the 10th percentile of norm cleared.
// GradientAscent itself applies no regularizer that is not asked.
func DefaultAscent() AscentOptions {
	return AscentOptions{Steps: 100, LearningRate: 0.1, Decay: 0.005, Jitter: 8, BlurEvery: 4, BlurSigma: 1, NormPercentile: 10}
}

// Ascent is the result of GradientAscent.
type Ascent struct {
	Objective Objective
	// Input is the image found, [1, C, H, W] in the network's normalized units.
	Input *tensors.Tensor
	// Pixels is the image in [0, 1] (denormalized, clipped), C x H x W, for display.
	Pixels []float32
	// Scores are the objective at the input each step saw (shifted by the jitter, if any), then
	// at the result (Steps + 1 values).
	Scores []float32
	// Snapshots are the image as Pixels after the steps named (0: the start), when asked.
	Snapshots []Snapshot
}

// Snapshot is the image after a number of steps, in [0, 1] like Ascent.Pixels.
type Snapshot struct {
	Step   int
	Pixels []float32
}

// GradientAscent looks for an input that maximizes the objective: from the mean image (or
// noise), it repeatedly steps along the objective's input gradient, with the regularizers of
// opts; every step also clips the input to the valid pixel range ([0, 1] before normalization).
// It runs on the model's backend, one forward and one backward pass a step, and is
// deterministic for a seed.
func GradientAscent(m *models.Model, obj Objective, opts AscentOptions) (*Ascent, error) {
	if len(m.Input) != 3 {
		return nil, fmt.Errorf("gradient ascent: %s takes sequences %v, not images", m.Name, m.Input)
	}
	if obj.Layer == "" && (obj.Class < 0 || obj.Class >= m.Outputs) {
		return nil, fmt.Errorf("gradient ascent: class %d is out of range: %s has outputs 0..%d", obj.Class, m.Name, m.Outputs-1)
	}
	if obj.Layer != "" {
		i := slices.IndexFunc(m.Spec.Layers, func(l nn.LayerInfo) bool { return l.Name == obj.Layer })
		if i < 0 || !m.Spec.Layers[i].Spatial() {
			return nil, fmt.Errorf("gradient ascent: %s has no spatial layer %q: its layers are %v", m.Name, obj.Layer, m.ExplainableLayers())
		}
		if c := m.Spec.Layers[i].Shape[1]; obj.Channel < 0 || obj.Channel >= c {
			return nil, fmt.Errorf("gradient ascent: channel %d is out of range: %s has channels 0..%d", obj.Channel, obj.Layer, c-1)
		}
	}
	switch {
	case opts.Steps < 0, opts.LearningRate < 0, opts.Decay < 0 || opts.Decay >= 1, opts.Jitter < 0, opts.BlurEvery < 0,
		opts.BlurSigma < 0, opts.NormPercentile < 0 || opts.NormPercentile > 100, opts.SnapshotEvery < 0:
		return nil, fmt.Errorf("gradient ascent: bad options %+v: steps, learning rate, jitter and blur must be >= 0, decay in [0, 1), the percentile in [0, 100]", opts)
	case opts.BlurEvery > 0 && opts.BlurSigma == 0:
		return nil, fmt.Errorf("gradient ascent: BlurEvery %d needs a BlurSigma", opts.BlurEvery)
	}
	if opts.Steps == 0 {
		opts.Steps = DefaultAscent().Steps
	}
	if opts.LearningRate == 0 {
		opts.LearningRate = DefaultAscent().LearningRate
	}
	c, h, w := m.Input[0], m.Input[1], m.Input[2]
	lo, hi := validRange(m, c)

	exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, x *Node) []*Node {
		fw := m.Forward(ctx, x)
		var score *Node
		if obj.Layer == "" {
			score = Slice(fw.Output, AxisRange(), AxisElem(obj.Class))
		} else {
			tap, err := fw.Tap(obj.Layer) // NCHW
			if err != nil {
				panic(err)
			}
			score = ReduceAllMean(Slice(tap, AxisRange(), AxisElem(obj.Channel)))
		}
		score = ReduceAllSum(score)
		return []*Node{score, Gradient(score, x)[0]}
	})
	if err != nil {
		return nil, fmt.Errorf("gradient ascent on %s: %w", m.Name, err)
	}
	defer exec.Finalize()
	run := func(x []float32) (float32, []float32, error) {
		var out []*tensors.Tensor
		err := catch.Panic(func() (err error) {
			out, err = exec.Exec(tensors.FromFlatDataAndDimensions(x, 1, c, h, w))
			return err
		})
		if err != nil {
			return 0, nil, fmt.Errorf("gradient ascent on %s (%s): %w", m.Name, obj, err)
		}
		defer out[0].FinalizeAll()
		defer out[1].FinalizeAll()
		return tensors.MustCopyFlatData[float32](out[0])[0], tensors.MustCopyFlatData[float32](out[1]), nil
	}

	r := rand.New(rand.NewPCG(opts.Seed, 0x61736365))
	x := make([]float32, c*h*w)
	if opts.FromNoise {
		for i := range x {
			x[i] = float32(0.1 * r.NormFloat64())
		}
	}
	clip(x, lo, hi, h*w)
	res := &Ascent{Objective: obj}
	snapshot := func(step int) {
		if opts.SnapshotEvery > 0 {
			res.Snapshots = append(res.Snapshots, Snapshot{Step: step, Pixels: pixels(x, lo, hi, h*w)})
		}
	}
	snapshot(0)
	shifted := make([]float32, len(x))
	for step := range opts.Steps {
		dy, dx := 0, 0
		if opts.Jitter > 0 {
			dy, dx = r.IntN(2*opts.Jitter+1)-opts.Jitter, r.IntN(2*opts.Jitter+1)-opts.Jitter
		}
		roll(shifted, x, c, h, w, dy, dx)
		score, g, err := run(shifted)
		if err != nil {
			return nil, err
		}
		res.Scores = append(res.Scores, score)
		roll(shifted, g, c, h, w, -dy, -dx) // the gradient, shifted back
		var mag float64
		for _, v := range shifted {
			mag += math.Abs(float64(v))
		}
		mag /= float64(len(shifted))
		if mag == 0 || math.IsNaN(mag) || math.IsInf(mag, 0) {
			return nil, fmt.Errorf("gradient ascent on %s (%s): the gradient is %g at step %d (a dead unit or a saturated input): try another objective, start from noise or use a smaller learning rate",
				m.Name, obj, mag, step)
		}
		for i := range x {
			x[i] = float32((1-opts.Decay)*float64(x[i]) + opts.LearningRate*float64(shifted[i])/mag)
		}
		if opts.BlurEvery > 0 && (step+1)%opts.BlurEvery == 0 {
			for ch := range c {
				gaussianBlur(x[ch*h*w:(ch+1)*h*w], h, w, opts.BlurSigma)
			}
		}
		if opts.NormPercentile > 0 {
			clipSmallNorms(x, c, h*w, opts.NormPercentile)
		}
		clip(x, lo, hi, h*w)
		if opts.SnapshotEvery > 0 && ((step+1)%opts.SnapshotEvery == 0 || step+1 == opts.Steps) {
			snapshot(step + 1)
		}
	}
	final, _, err := run(x)
	if err != nil {
		return nil, err
	}
	res.Scores = append(res.Scores, final)
	res.Input = tensors.FromFlatDataAndDimensions(slices.Clone(x), 1, c, h, w)
	res.Pixels = pixels(x, lo, hi, h*w)
	return res, nil
}

// pixels maps normalized values to [0, 1] per channel (lo -> 0, hi -> 1).
func pixels(x, lo, hi []float32, plane int) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		ch := i / plane
		out[i] = min(max((v-lo[ch])/(hi[ch]-lo[ch]), 0), 1)
	}
	return out
}

// validRange is each channel's range of normalized values: pixels 0 and 1 through the network's
// normalization ((p - mean) / std; none: p itself).
func validRange(m *models.Model, c int) (lo, hi []float32) {
	lo, hi = make([]float32, c), make([]float32, c)
	for ch := range c {
		lo[ch], hi[ch] = 0, 1
		if len(m.Mean) == c && len(m.Std) == c {
			lo[ch], hi[ch] = -m.Mean[ch]/m.Std[ch], (1-m.Mean[ch])/m.Std[ch]
		}
	}
	return lo, hi
}

// clip keeps each channel's values within [lo, hi].
func clip(x, lo, hi []float32, plane int) {
	for i, v := range x {
		ch := i / plane
		x[i] = min(max(v, lo[ch]), hi[ch])
	}
}

// roll writes src shifted by (dy, dx) pixels, wrapping around, into dst (C x H x W).
func roll(dst, src []float32, c, h, w, dy, dx int) {
	for ch := range c {
		for y := range h {
			sy := ((y-dy)%h + h) % h
			for xx := range w {
				dst[(ch*h+y)*w+xx] = src[(ch*h+sy)*w+((xx-dx)%w+w)%w]
			}
		}
	}
}

// gaussianBlur blurs one H x W plane in place with a Gaussian of sigma pixels (truncated at 3
// sigma, renormalized at the borders).
func gaussianBlur(p []float32, h, w int, sigma float64) {
	r := max(1, int(math.Ceil(3*sigma)))
	k := make([]float64, 2*r+1)
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
	}
	tmp := make([]float32, len(p))
	pass := func(dst, src []float32, n, stride, lines, lineStride int) {
		for l := range lines {
			for i := range n {
				var s, ws float64
				for j := max(0, i-r); j <= min(n-1, i+r); j++ {
					s += k[j-i+r] * float64(src[l*lineStride+j*stride])
					ws += k[j-i+r]
				}
				dst[l*lineStride+i*stride] = float32(s / ws)
			}
		}
	}
	pass(tmp, p, w, 1, h, w) // along rows
	pass(p, tmp, h, w, w, 1) // along columns
}

// clipSmallNorms sets to zero (the mean image) the pixels whose norm over the channels is below
// the given percentile of all pixels' norms.
func clipSmallNorms(x []float32, c, plane int, percentile float64) {
	norms := make([]float64, plane)
	for i := range plane {
		for ch := range c {
			v := float64(x[ch*plane+i])
			norms[i] += v * v
		}
	}
	sorted := slices.Clone(norms)
	slices.Sort(sorted)
	cut := sorted[min(plane-1, int(percentile/100*float64(plane)))]
	for i, n := range norms {
		if n < cut {
			for ch := range c {
				x[ch*plane+i] = 0
			}
		}
	}
}
