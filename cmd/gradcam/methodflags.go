package main

import (
	"flag"
	"fmt"
	"math/rand/v2"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

// methodFlags are the methods' options on the command line, the same for explain and evaluate.
type methodFlags struct {
	fs                                                                             *flag.FlagSet
	patch, stride, igSteps, smoothSamples, draws, superpixels, baselines, riseCell *int
	smoothStd, riseP, lrpEpsilon, lrpGamma                                         *float64
	grid, augSmooth, eigenSmooth, counterfactual                                   *bool
	guidedCAM                                                                      *string
}

func (f *methodFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	f.patch = fs.Int("occlusion-patch", gradcam.DefaultOcclusionFor(224, 224).Patch, "occlusion patch size, pixels (default: scaled to the images)")
	f.stride = fs.Int("occlusion-stride", gradcam.DefaultOcclusionFor(224, 224).Stride, "occlusion stride, pixels (default: scaled to the images)")
	f.augSmooth = fs.Bool("aug-smooth", false, "average the CAM maps over flips and brightness changes (pytorch-grad-cam's aug_smooth)")
	f.eigenSmooth = fs.Bool("eigen-smooth", false, "first principal component of the weighted activations instead of their sum (eigen_smooth)")
	f.igSteps = fs.Int("ig-steps", 50, "integrated-gradients: integration steps")
	f.smoothSamples = fs.Int("smooth-samples", 5, "smoothgrad: noisy samples")
	f.smoothStd = fs.Float64("smooth-std", 1, "smoothgrad: noise standard deviation, in normalized input units")
	f.counterfactual = fs.Bool("counterfactual", false, "negate the layer gradients of gradcam, hirescam, gradcam-elementwise, "+
		"gradcam++, xgradcam, layercam: regions whose removal would raise the score")
	f.draws = fs.Int("samples", 0, "rise: random masks (default 4000); gradient-shap: draws (default 5); lime, kernel-shap: samples (default 200)")
	f.superpixels = fs.Int("superpixels", 50, "lime, kernel-shap: SLIC superpixels (about as many)")
	f.grid = fs.Bool("grid", false, "lime, kernel-shap: square cells instead of SLIC superpixels")
	f.baselines = fs.Int("baselines", 1, "gradient-shap, deeplift-shap: the references: the all-zero input (the dataset's mean) "+
		"and N-1 Gaussian-noise inputs (std 1 in input units, seeded); deeplift takes the all-zero one")
	f.riseCell = fs.Int("rise-cell", 8, "rise: cells a side of the random grid (RISE's s)")
	f.riseP = fs.Float64("rise-p", 0.5, "rise: probability that a cell is kept, in (0, 1]")
	f.guidedCAM = fs.String("guided-cam", "gradcam", "guided-gradcam: the CAM method multiplied with guided backprop")
	f.lrpEpsilon = fs.Float64("lrp-epsilon", nn.DefaultStabilizer, "lrp-*: the epsilon rule's epsilon, > 0")
	f.lrpGamma = fs.Float64("lrp-gamma", 0.25, "lrp-gamma, lrp-epsilon-gamma-box: the gamma rule's gamma, > 0")
}

// check refuses options no method can use, naming the flag.
func (f *methodFlags) check() error {
	switch {
	case *f.superpixels < 1:
		return usageError{fmt.Errorf("--superpixels %d: lime and kernel-shap need at least 1 superpixel", *f.superpixels)}
	case !(*f.lrpEpsilon > 0) || !(*f.lrpGamma > 0):
		return usageError{fmt.Errorf("--lrp-epsilon %g, --lrp-gamma %g: both must be > 0 (a tiny epsilon such as 1e-9 is the z-rule)",
			*f.lrpEpsilon, *f.lrpGamma)}
	case (flagSet(f.fs, "samples") && *f.draws < 1) || *f.riseCell < 1 || !(*f.riseP > 0 && *f.riseP <= 1) || *f.baselines < 1:
		return usageError{fmt.Errorf("--samples %d, --rise-cell %d, --rise-p %g, --baselines %d: the samplers need at least 1 "+
			"sample, RISE a grid of at least 1 cell and a keep probability in (0, 1], GradientShap at least 1 baseline",
			*f.draws, *f.riseCell, *f.riseP, *f.baselines)}
	case *f.igSteps < 1:
		return usageError{fmt.Errorf("--ig-steps %d: integrated gradients needs at least 1 step", *f.igSteps)}
	case *f.smoothSamples < 1:
		return usageError{fmt.Errorf("--smooth-samples %d: smoothgrad needs at least 1 sample", *f.smoothSamples)}
	case *f.smoothStd <= 0:
		return usageError{fmt.Errorf("--smooth-std %g: the noise std must be positive (normalized input units)", *f.smoothStd)}
	}
	return nil
}

// request is a request with the methods' options, for examples of the given shape made by the
// transform t (ZBox's bounds).
func (f *methodFlags) request(example []int, t preprocess.Transform) gradcam.Request {
	size := 1
	for _, d := range example {
		size *= d
	}
	baselines := noiseBaselines(size, *f.baselines)
	low, high := t.Bounds()
	req := gradcam.Request{
		RISE:                gradcam.RISEOptions{Masks: *f.draws, Cell: *f.riseCell, P: *f.riseP},
		GradientShap:        gradcam.GradientShapOptions{Samples: *f.draws, Baselines: baselines},
		IntegratedGradients: gradcam.IntegratedGradientsOptions{Steps: *f.igSteps},
		SmoothGrad:          gradcam.SmoothGradOptions{Samples: *f.smoothSamples, Std: *f.smoothStd},
		GuidedCAM:           gradcam.Method(*f.guidedCAM),
		LRP:                 gradcam.LRPOptions{Epsilon: *f.lrpEpsilon, Gamma: *f.lrpGamma, Low: low, High: high},
		DeepLift:            gradcam.DeepLiftOptions{Baselines: baselines},
		Surrogate:           gradcam.SurrogateOptions{Samples: *f.draws, Superpixels: *f.superpixels, Grid: *f.grid},
		AugSmooth:           *f.augSmooth, EigenSmooth: *f.eigenSmooth, Counterfactual: *f.counterfactual,
	}
	if flagSet(f.fs, "occlusion-patch") || flagSet(f.fs, "occlusion-stride") {
		req.Occlusion = gradcam.OcclusionOptions{Patch: *f.patch, Stride: *f.stride}
	}
	return req
}

// noiseBaselines are the references for --baselines n: the all-zero input (the dataset's mean
// after normalization) and n-1 inputs of seeded Gaussian noise, std 1 in input units.
func noiseBaselines(size, n int) [][]float32 {
	r := rand.New(rand.NewPCG(1, 2))
	out := [][]float32{make([]float32, size)}
	for range n - 1 {
		b := make([]float32, size)
		for p := range b {
			b[p] = float32(r.NormFloat64())
		}
		out = append(out, b)
	}
	return out
}
