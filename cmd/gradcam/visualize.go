package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/visualize"
)

// visualizeCommand writes the image gradient ascent finds for a class (class model
// visualization) or a channel of a layer (feature visualization).
func visualizeCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("visualize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a torchvision model name or a demo network (fashion-gap, fashion-fc); default: $GRADCAM_MODEL, else the default model")
	weights := fs.String("weights", "", "checkpoint for --model (.pth or .safetensors)")
	onnx := fs.String("onnx", "", "an ONNX model instead of --model")
	class := fs.Int("class", -1, "the output (class) to maximize")
	layer := fs.String("layer", "", "maximize a channel of this spatial layer instead of a class (with --channel)")
	channel := fs.Int("channel", 0, "the channel of --layer")
	out := fs.String("out", "", "the PNG file to write")
	d := visualize.DefaultAscent()
	steps := fs.Int("steps", d.Steps, "ascent steps")
	lr := fs.Float64("lr", d.LearningRate, "step size, in normalized input units (the gradient is divided by its mean magnitude)")
	decay := fs.Float64("decay", d.Decay, "L2 weight decay per step (0: none)")
	jitter := fs.Int("jitter", d.Jitter, "random shift before each step, pixels (0: none)")
	blurEvery := fs.Int("blur-every", d.BlurEvery, "blur every N steps (0: never)")
	blurSigma := fs.Float64("blur-sigma", d.BlurSigma, "the blur's Gaussian sigma, pixels")
	percentile := fs.Float64("norm-percentile", d.NormPercentile, "zero the pixels whose norm is below this percentile after each step (0: none)")
	noise := fs.Bool("from-noise", false, "start from noise instead of the mean image")
	seed := fs.Uint64("seed", 0, "seed of the noise and the jitter")
	scale := fs.Int("scale", 0, "enlarge the image this many times (0: to at least 224 pixels)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	if (*class < 0) == (*layer == "") {
		return usageError{errors.New("give either --class C or --layer NAME (with --channel K)")}
	}
	if *scale < 0 {
		return usageError{fmt.Errorf("--scale %d: must be >= 0", *scale)}
	}
	if *weights != "" && *model == "" {
		return usageError{errors.New("--weights needs --model: the architecture the checkpoint is for")}
	}
	if *onnx != "" && *model != "" {
		return usageError{errors.New("--onnx is a whole model: give it without --model")}
	}
	m, err := loadEvaluated(*model, *weights, *onnx, stderr)
	if err != nil {
		return err
	}
	obj := visualize.Objective{Class: *class, Layer: *layer, Channel: *channel}
	a, err := visualize.GradientAscent(m, obj, visualize.AscentOptions{Steps: *steps, LearningRate: *lr, Decay: *decay,
		Jitter: *jitter, BlurEvery: *blurEvery, BlurSigma: *blurSigma, NormPercentile: *percentile, FromNoise: *noise, Seed: *seed})
	if err != nil {
		return err
	}
	c, h, w := m.Input[0], m.Input[1], m.Input[2]
	img, err := render.PixelImage(a.Pixels, c, h, w)
	if err != nil {
		return err
	}
	k := *scale
	if k == 0 {
		k = max(1, (224+min(h, w)-1)/min(h, w))
	}
	var b bytes.Buffer
	if err := png.Encode(&b, render.Zoom(img, k)); err != nil {
		return err
	}
	if err := atomicfile.Write(*out, b.Bytes()); err != nil {
		return err
	}
	name := obj.String()
	if obj.Layer == "" {
		name += " (" + m.Label(obj.Class) + ")"
	}
	fmt.Fprintf(stdout, "%s of %s: score %.3f -> %.3f in %d steps; wrote %s\n", name, m.Name, a.Scores[0], a.Scores[len(a.Scores)-1], len(a.Scores)-1, *out)
	if obj.Layer == "" {
		p, err := m.Predict(a.Input, 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the model classifies it as %d (%s), probability %.3f\n", p[0][0].Class, m.Label(p[0][0].Class), p[0][0].Probability)
	}
	return nil
}
