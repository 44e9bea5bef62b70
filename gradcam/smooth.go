package gradcam

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// SmoothGradType says how SmoothGrad combines the attributions of the noisy copies (Captum's
// NoiseTunnel nt_type).
type SmoothGradType string

const (
	SmoothGradMean    SmoothGradType = "smoothgrad"    // their mean
	SmoothGradSquared SmoothGradType = "smoothgrad_sq" // the mean of their squares
	VarGrad           SmoothGradType = "vargrad"       // their variance: mean of squares minus squared mean
)

// SmoothGradOptions configure SmoothGrad (Smilkov et al. 2017): a gradient method computed on
// noisy copies x + N(0, Std^2) of the input and combined (Captum's NoiseTunnel). The zero value is
// Captum's defaults: the saliency gradient, 5 samples, Std 1.
type SmoothGradOptions struct {
	// Method is the gradient method averaged: Saliency (|dy/dx| per channel, Captum's Saliency;
	// the default), InputXGradient (the noisy input times its gradient), GuidedBackprop,
	// Deconvnet or IntegratedGradients (with Request.IntegratedGradients).
	Method Method
	// Type is the combination; empty means SmoothGradMean.
	Type SmoothGradType
	// Samples is the number of noisy copies; 0 means 5.
	Samples int
	// Std is the noise's standard deviation in the units of the model's input (after
	// normalization: 1 is one standard deviation of the dataset's pixels); 0 means 1.
	Std float64
	// Seed makes the noise: the same seed gives the same noise, and so the same maps.
	Seed uint64
	// Noise, when set, is the noise itself, one slice per sample of one example's size, used for
	// every image instead of drawn noise (to reproduce another library's draws).
	Noise [][]float32
	// BatchSize is the noisy inputs per execution; 0 means 8.
	BatchSize int
}

func (o SmoothGradOptions) withDefaults() SmoothGradOptions {
	if o.Method == "" {
		o.Method = Saliency
	}
	if o.Type == "" {
		o.Type = SmoothGradMean
	}
	if o.Samples == 0 {
		o.Samples = 5
		if o.Noise != nil {
			o.Samples = len(o.Noise)
		}
	}
	if o.Std == 0 {
		o.Std = 1
	}
	if o.BatchSize == 0 {
		o.BatchSize = 8
	}
	return o
}

func (o SmoothGradOptions) check(exampleSize int) error {
	if !o.Method.spec().SmoothGradBase {
		return fmt.Errorf("SmoothGrad averages a gradient method; %q is not one (use one of: %s)", o.Method, joinMethods(methodsWith(func(s MethodSpec) bool { return s.SmoothGradBase })))
	}
	if o.Type != SmoothGradMean && o.Type != SmoothGradSquared && o.Type != VarGrad {
		return fmt.Errorf("unknown SmoothGrad type %q; types: %s, %s, %s", o.Type, SmoothGradMean, SmoothGradSquared, VarGrad)
	}
	if o.Samples < 1 || o.BatchSize < 1 {
		return fmt.Errorf("SmoothGrad needs >= 1 samples and batch size >= 1; got %d samples, batch %d", o.Samples, o.BatchSize)
	}
	if o.Std < 0 {
		return fmt.Errorf("SmoothGrad's noise std must be >= 0 (in input units); got %g", o.Std)
	}
	if o.Noise != nil {
		if len(o.Noise) != o.Samples {
			return fmt.Errorf("SmoothGrad has %d noise slices for %d samples", len(o.Noise), o.Samples)
		}
		for _, n := range o.Noise {
			if len(n) != exampleSize {
				return fmt.Errorf("SmoothGrad noise of %d values for inputs of %d", len(n), exampleSize)
			}
		}
	}
	return nil
}

// smoothGrad fills the SmoothGrad maps of result (k classes per image, already resolved).
func (e *Explainer) smoothGrad(images *tensors.Tensor, req Request, k int, result Results) error {
	o := req.SmoothGrad
	dims := images.Shape().Dimensions
	b, size := dims[0], shapeSize(dims[1:])
	pixels := toFloat32(images)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	for i := range b {
		x := pixels[i*size : (i+1)*size]
		noisy := make([]float32, o.Samples*size)
		for s := range o.Samples {
			for p := range size {
				var n float32
				if o.Noise != nil {
					n = o.Noise[s][p]
				} else {
					n = float32(rng.NormFloat64() * o.Std)
				}
				noisy[s*size+p] = x[p] + n
			}
		}
		// One row per (sample, class).
		rows, classes := make([]float32, 0, o.Samples*k*size), make([]int, 0, o.Samples*k)
		for s := range o.Samples {
			for j := range k {
				rows = append(rows, noisy[s*size:(s+1)*size]...)
				classes = append(classes, result[i*k+j].Class)
			}
		}
		attr, err := e.attributions(rows, dims[1:], classes, o.Method, req, o.BatchSize)
		if err != nil {
			return fmt.Errorf("SmoothGrad: %w", err)
		}
		for j := range k {
			sum, sq := make([]float64, size), make([]float64, size)
			for s := range o.Samples {
				a := attr[(s*k+j)*size:]
				for p := range size {
					v := float64(a[p])
					sum[p] += v
					sq[p] += v * v
				}
			}
			out := make([]float32, size)
			n := float64(o.Samples)
			for p := range size {
				switch o.Type {
				case SmoothGradMean:
					out[p] = float32(sum[p] / n)
				case SmoothGradSquared:
					out[p] = float32(sq[p] / n)
				case VarGrad:
					m := sum[p] / n
					out[p] = float32(sq[p]/n - m*m)
				}
			}
			result[i*k+j].Maps[SmoothGrad] = &Map{Method: SmoothGrad, Values: out, Shape: slices.Clone(dims[1:]),
				AllZero: allZero(out, false)}
		}
	}
	return nil
}

// attributions computes a gradient method's attribution of each row (one input each, of shape
// inDims) for its class, batchSize rows per execution; the result is the rows' attributions
// concatenated.
func (e *Explainer) attributions(rows []float32, inDims []int, classes []int, method Method, req Request, batchSize int) ([]float32, error) {
	n, size := len(classes), shapeSize(inDims)
	if method == IntegratedGradients {
		tmp := make(Results, n)
		for r, c := range classes {
			tmp[r] = &Explanation{Image: r, Class: c, Maps: map[Method]*Map{}}
		}
		batch := fromFloat32(rows, e.Model.DType(), append([]int{n}, inDims...)...)
		defer batch.FinalizeAll()
		if err := e.integratedGradients(batch, req.Target, req.IntegratedGradients, 1, tmp); err != nil {
			return nil, err
		}
		out := make([]float32, 0, n*size)
		for _, ex := range tmp {
			out = append(out, ex.Maps[IntegratedGradients].Values...)
		}
		return out, nil
	}
	exec, err := e.gradientExec(req.Target, gradientRule(method))
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, n*size)
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		cls := make([]int32, end-start)
		for r := range cls {
			cls[r] = int32(classes[start+r])
		}
		res, err := e.run(exec, "gradient", fromFloat32(rows[start*size:end*size], e.Model.DType(), append([]int{end - start}, inDims...)...),
			tensors.FromFlatDataAndDimensions(cls, end-start))
		if err != nil {
			return nil, err
		}
		g := res[1]
		for p := range g {
			switch method {
			case Saliency:
				g[p] = max(g[p], -g[p])
			case InputXGradient:
				g[p] *= rows[start*size+p]
			}
		}
		out = append(out, g...)
	}
	return out, nil
}
