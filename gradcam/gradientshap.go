package gradcam

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/nn"
)

// GradientShapOptions configure GradientShap as Captum defines it: for each of Samples draws, a
// baseline b is drawn from Baselines, Gaussian noise of standard deviation Std is added to the
// input x, and a point is drawn uniformly between them, p = a (x + noise) + (1 - a) b; the
// attribution is the mean over the draws of (x + noise - b) times the target's gradient at p.
// It approximates SHAP values, with the baselines as the background distribution.
type GradientShapOptions struct {
	// Samples is the number of draws; 0 means 5 (Captum's).
	Samples int
	// Std is the noise's standard deviation in the model's input units; 0 means none (Captum's
	// default).
	Std float64
	// Baselines is the distribution baselines are drawn from, one example each; nil means a
	// single all-zero input (the dataset's mean colour after normalization).
	Baselines [][]float32
	// Seed makes the draws: the same seed gives the same attributions.
	Seed uint64
	// Draws, when set, are the draws themselves, Samples of them, used for every image instead
	// of drawn ones (to reproduce another library's).
	Draws []GradientShapDraw
	// BatchSize is the points per execution; 0 means 8.
	BatchSize int
}

// GradientShapDraw is one of GradientShap's draws: the noise added to the input, the index of
// the baseline in GradientShapOptions.Baselines, and the point's position a in [0, 1] (1 is the
// noisy input).
type GradientShapDraw struct {
	Noise    []float32
	Baseline int
	Alpha    float64
}

func (o GradientShapOptions) withDefaults() GradientShapOptions {
	if o.Samples == 0 {
		o.Samples = 5
		if o.Draws != nil {
			o.Samples = len(o.Draws)
		}
	}
	if o.BatchSize == 0 {
		o.BatchSize = 8
	}
	return o
}

func (o GradientShapOptions) check(exampleSize int) error {
	switch {
	case o.Samples < 1 || o.BatchSize < 1:
		return fmt.Errorf("GradientShap needs >= 1 samples and batch size >= 1; got %d samples, batch %d", o.Samples, o.BatchSize)
	case o.Std < 0 || math.IsNaN(o.Std):
		return fmt.Errorf("GradientShap's noise std must be >= 0 (in input units); got %g", o.Std)
	case o.Draws != nil && len(o.Draws) != o.Samples:
		return fmt.Errorf("GradientShap has %d draws for %d samples", len(o.Draws), o.Samples)
	}
	for i, b := range o.Baselines {
		if len(b) != exampleSize {
			return fmt.Errorf("GradientShap baseline %d has %d values for inputs of %d", i, len(b), exampleSize)
		}
	}
	baselines := max(len(o.Baselines), 1)
	for i, d := range o.Draws {
		if len(d.Noise) != exampleSize || d.Baseline < 0 || d.Baseline >= baselines || d.Alpha < 0 || d.Alpha > 1 {
			return fmt.Errorf("GradientShap draw %d: noise of %d values (inputs of %d), baseline %d of %d, alpha %g: "+
				"want noise of the input's size, a baseline index in range and alpha in [0, 1]", i, len(d.Noise), exampleSize,
				d.Baseline, baselines, d.Alpha)
		}
	}
	return nil
}

// gradientShap fills the GradientShap maps of result (k classes per image, already resolved).
func (e *Explainer) gradientShap(images *tensors.Tensor, req Request, k int, result Results) error {
	o := req.GradientShap
	dims := images.Shape().Dimensions
	b, size := dims[0], shapeSize(dims[1:])
	baselines := o.Baselines
	if baselines == nil {
		baselines = [][]float32{make([]float32, size)}
	}
	draws := o.Draws
	if draws == nil {
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x47726164536861)) // "GradSha"
		draws = make([]GradientShapDraw, o.Samples)
		for s := range draws {
			noise := make([]float32, size)
			if o.Std > 0 {
				for p := range noise {
					noise[p] = float32(rng.NormFloat64() * o.Std)
				}
			}
			draws[s] = GradientShapDraw{Noise: noise, Baseline: rng.IntN(len(baselines)), Alpha: rng.Float64()}
		}
	}
	exec, err := e.gradientExec(req.Target, nn.Backprop)
	if err != nil {
		return err
	}
	pixels := toFloat32(images)
	for i := range b {
		x := pixels[i*size : (i+1)*size]
		// One row per (draw, class): the point, and what multiplies its gradient.
		points, diffs := make([]float32, 0, o.Samples*k*size), make([]float32, 0, o.Samples*size)
		classes := make([]int32, 0, o.Samples*k)
		for _, d := range draws {
			base := baselines[d.Baseline]
			point, diff := make([]float32, size), make([]float32, size)
			a := float32(d.Alpha)
			for p := range size {
				noisy := x[p] + d.Noise[p]
				point[p] = a*noisy + (1-a)*base[p]
				diff[p] = noisy - base[p]
			}
			diffs = append(diffs, diff...)
			for j := range k {
				points = append(points, point...)
				classes = append(classes, int32(result[i*k+j].Class))
			}
		}
		sums := make([][]float64, k)
		for j := range sums {
			sums[j] = make([]float64, size)
		}
		for start := 0; start < len(classes); start += o.BatchSize {
			end := min(start+o.BatchSize, len(classes))
			outs, err := e.run(exec, "GradientShap gradient", fromFloat32(points[start*size:end*size], e.Model.DType(),
				append([]int{end - start}, dims[1:]...)...), tensors.FromFlatDataAndDimensions(classes[start:end], end-start))
			if err != nil {
				return err
			}
			for r := start; r < end; r++ {
				s, j := r/k, r%k
				g, diff := outs[1][(r-start)*size:(r-start+1)*size], diffs[s*size:(s+1)*size]
				for p := range size {
					sums[j][p] += float64(diff[p]) * float64(g[p])
				}
			}
		}
		for j := range k {
			out := make([]float32, size)
			for p, v := range sums[j] {
				out[p] = float32(v / float64(len(draws)))
			}
			result[i*k+j].Maps[GradientShap] = &Map{Method: GradientShap, Values: out, Shape: slices.Clone(dims[1:]),
				AllZero: allZero(out, false)}
		}
	}
	return nil
}
