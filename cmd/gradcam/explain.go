package main

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/internal/npy"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

func explain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	class := fs.Int("class", -1, "class (output index) to explain; default: the top prediction")
	layer := fs.String("layer", "", "layer to explain (torchvision module path, or ONNX node output name); several, comma-separated, "+
		"are averaged; default: the model's last conv block")
	methodList := fs.String("method", "gradcam", "comma-separated methods: "+methodNames())
	out := fs.String("out", "", "output directory for METHOD.npy and METHOD.png")
	colormap := fs.String("colormap", "jet", "heatmap colormap: jet, turbo, viridis, inferno, gray")
	patch := fs.Int("occlusion-patch", gradcam.DefaultOcclusionFor(224, 224).Patch, "occlusion patch size, pixels")
	stride := fs.Int("occlusion-stride", gradcam.DefaultOcclusionFor(224, 224).Stride, "occlusion stride, pixels")
	augSmooth := fs.Bool("aug-smooth", false, "average the CAM maps over flips and brightness changes (pytorch-grad-cam's aug_smooth)")
	eigenSmooth := fs.Bool("eigen-smooth", false, "first principal component of the weighted activations instead of their sum (eigen_smooth)")
	igSteps := fs.Int("ig-steps", 50, "integrated-gradients: integration steps")
	samples := fs.Int("smooth-samples", 5, "smoothgrad: noisy samples")
	std := fs.Float64("smooth-std", 1, "smoothgrad: noise standard deviation, in normalized input units")
	counterfactual := fs.Bool("counterfactual", false, "negate the layer gradients of gradcam, hirescam, gradcam-elementwise, "+
		"gradcam++, xgradcam, layercam: regions whose removal would raise the score")
	draws := fs.Int("samples", 0, "rise: random masks (default 4000); gradient-shap: draws (default 5); lime, kernel-shap: samples (default 200)")
	superpixels := fs.Int("superpixels", 50, "lime, kernel-shap: SLIC superpixels (about as many)")
	grid := fs.Bool("grid", false, "lime, kernel-shap: square cells instead of SLIC superpixels")
	baselines := fs.Int("baselines", 1, "gradient-shap, deeplift-shap: the references: the all-zero input (the dataset's mean) "+
		"and N-1 Gaussian-noise inputs (std 1 in input units, seeded); deeplift takes the all-zero one")
	riseCell := fs.Int("rise-cell", 8, "rise: cells a side of the random grid (RISE's s)")
	riseP := fs.Float64("rise-p", 0.5, "rise: probability that a cell is kept, in (0, 1]")
	guidedCAM := fs.String("guided-cam", "gradcam", "guided-gradcam: the CAM method multiplied with guided backprop")
	lrpEpsilon := fs.Float64("lrp-epsilon", nn.DefaultStabilizer, "lrp-*: the epsilon rule's epsilon, > 0")
	lrpGamma := fs.Float64("lrp-gamma", 0.25, "lrp-gamma, lrp-epsilon-gamma-box: the gamma rule's gamma, > 0")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *superpixels < 1 {
		return usageError{fmt.Errorf("--superpixels %d: lime and kernel-shap need at least 1 superpixel", *superpixels)}
	}
	if !(*lrpEpsilon > 0) || !(*lrpGamma > 0) {
		return usageError{fmt.Errorf("--lrp-epsilon %g, --lrp-gamma %g: both must be > 0 (a tiny epsilon such as 1e-9 is the z-rule)",
			*lrpEpsilon, *lrpGamma)}
	}
	if (flagSet(fs, "samples") && *draws < 1) || *riseCell < 1 || !(*riseP > 0 && *riseP <= 1) || *baselines < 1 {
		return usageError{fmt.Errorf("--samples %d, --rise-cell %d, --rise-p %g, --baselines %d: the samplers need at least 1 "+
			"sample, RISE a grid of at least 1 cell and a keep probability in (0, 1], GradientShap at least 1 baseline",
			*draws, *riseCell, *riseP, *baselines)}
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	methods, cm, err := drawing(*methodList, *colormap)
	if err != nil {
		return err
	}
	m, in, err := mf.load(stderr)
	if err != nil {
		return err
	}
	if *class < -1 || *class >= m.Outputs {
		return usageError{fmt.Errorf("--class %d out of range: %s has %d outputs, 0..%d", *class, m.Name, m.Outputs, m.Outputs-1)}
	}
	if *igSteps < 1 {
		return usageError{fmt.Errorf("--ig-steps %d: integrated gradients needs at least 1 step", *igSteps)}
	}
	if *samples < 1 {
		return usageError{fmt.Errorf("--smooth-samples %d: smoothgrad needs at least 1 sample", *samples)}
	}
	if *std <= 0 {
		return usageError{fmt.Errorf("--smooth-std %g: the noise std must be positive (normalized input units)", *std)}
	}
	var layers []string
	for _, l := range strings.Split(*layer, ",") {
		if l = strings.TrimSpace(l); l != "" {
			layers = append(layers, l)
		}
	}
	exps, err := gradcam.New(m).Explain(in.tensor, gradcam.Request{
		Methods: methods, Classes: []int{*class}, Layers: layers,
		Occlusion:           gradcam.OcclusionOptions{Patch: *patch, Stride: *stride},
		RISE:                gradcam.RISEOptions{Masks: *draws, Cell: *riseCell, P: *riseP},
		GradientShap:        gradcam.GradientShapOptions{Samples: *draws, Baselines: noiseBaselines(in.tensor, *baselines)},
		IntegratedGradients: gradcam.IntegratedGradientsOptions{Steps: *igSteps},
		SmoothGrad:          gradcam.SmoothGradOptions{Samples: *samples, Std: *std},
		GuidedCAM:           gradcam.Method(*guidedCAM),
		LRP:                 lrpOptions(*lrpEpsilon, *lrpGamma, in.transform),
		DeepLift:            gradcam.DeepLiftOptions{Baselines: noiseBaselines(in.tensor, *baselines)},
		Surrogate:           gradcam.SurrogateOptions{Samples: *draws, Superpixels: *superpixels, Grid: *grid},
		AugSmooth:           *augSmooth, EigenSmooth: *eigenSmooth, Counterfactual: *counterfactual,
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ex := exps[0]
	if ex.SingleOutput {
		fmt.Fprintf(stdout, "output %d (%s) = %.4f\n", ex.Class, ex.Label, ex.Logit)
	} else {
		fmt.Fprintf(stdout, "class %d (%s), probability %.4f\n", ex.Class, ex.Label, ex.Probability)
	}
	title := fmt.Sprintf("%s: %s (%d), p=%.3f", m.Name, ex.Label, ex.Class, ex.Probability)
	if ex.SingleOutput {
		title = fmt.Sprintf("%s: %s = %.3f", m.Name, cmp.Or(ex.Label, "output"), ex.Logit)
	}
	return writeMaps(*out, ex, methods, in.images[0], filepath.Base(mf.image), title, cm, stdout)
}

// writeMaps writes each method's map of an explanation into dir (METHOD.npy, METHOD_lowres.npy
// for the CAM family, METHOD.png over the image) and figure.png (the image, then every map),
// printing METHOD<TAB>PNG lines and the figure's.
func writeMaps(dir string, ex *gradcam.Explanation, methods []gradcam.Method, img *image.RGBA, caption, title string,
	cm render.Colormap, stdout io.Writer) error {
	grid := &render.Grid{Title: title, Rows: [][]render.Cell{{{Image: img, Caption: caption}}}}
	for _, method := range methods {
		mp := ex.Maps[method]
		if err := writeMap(dir, string(method), mp.Values, mp.Shape); err != nil {
			return err
		}
		if mp.LowRes != nil {
			if err := writeMap(dir, string(method)+"_lowres", mp.LowRes, mp.LowResShape); err != nil {
				return err
			}
		}
		pic, err := mp.Picture(img, cm, 0.5)
		if err != nil {
			return err
		}
		if err := writePNG(filepath.Join(dir, string(method)+".png"), pic); err != nil {
			return err
		}
		grid.Rows[0] = append(grid.Rows[0], render.Cell{Image: pic, Caption: method.Title()})
		note := ""
		if mp.AllZero {
			note = " (all zero: nothing in this layer supports the class)"
		}
		fmt.Fprintf(stdout, "%s\t%s%s\n", method, filepath.Join(dir, string(method)+".png"), note)
	}
	fig, err := grid.Render()
	if err != nil {
		return err
	}
	if err := writePNG(filepath.Join(dir, "figure.png"), fig); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "figure\t%s\n", filepath.Join(dir, "figure.png"))
	return nil
}

// writeMap writes the map as DIR/NAME.npy, atomically.
func writeMap(dir, name string, v []float32, shape []int) error {
	return npy.Write(filepath.Join(dir, name+".npy"), v, shape)
}

// writePNG writes an image as PNG, atomically: an interrupted run leaves the whole file or none.
func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

// methodNames lists the methods --method takes.
func methodNames() string {
	all := gradcam.Methods()
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// noiseBaselines are GradientShap's baselines for --baselines n: the all-zero input (the
// dataset's mean colour after normalization) and n-1 inputs of Gaussian noise, std 1 in input
// units, seeded.
func noiseBaselines(x *tensors.Tensor, n int) [][]float32 {
	size := 1
	for _, d := range x.Shape().Dimensions[1:] {
		size *= d
	}
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

// lrpOptions are the LRP methods' options: the rules' parameters, and the ZBox rule's input
// bounds from the transform the image went through.
func lrpOptions(epsilon, gamma float64, t preprocess.Transform) gradcam.LRPOptions {
	low, high := t.Bounds()
	return gradcam.LRPOptions{Epsilon: epsilon, Gamma: gamma, Low: low, High: high}
}
