package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
	"github.com/gradcam-go/gradcam/pretrained/vqa"
)

// explainVQA answers a question about an image with the shipped VQA model and explains an answer.
func explainVQA(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain-vqa", flag.ContinueOnError)
	fs.SetOutput(stderr)
	imagePath := fs.String("image", "", "PNG or JPEG image (a scene: gradcam scenes makes some); resized to the model's size")
	question := fs.String("question", "", `the question, e.g. "what color is the circle?" or "what shape is the red object?"`)
	answer := fs.String("answer", "", "the answer to explain; default: the model's best answer")
	methodList := fs.String("method", "gradcam,guided-backprop,guided-gradcam", "comma-separated methods: "+methodNames())
	top := fs.Int("top", 5, "answers to print, best first")
	out := fs.String("out", "", "output directory for METHOD.npy and METHOD.png")
	colormap := fs.String("colormap", "jet", "heatmap colormap: jet, turbo, viridis, inferno, gray")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch {
	case *imagePath == "":
		return usageError{errors.New("--image is required")}
	case *question == "":
		return usageError{errors.New(`--question is required, e.g. --question "what color is the circle?"`)}
	case *out == "":
		return usageError{errors.New("--out is required")}
	case *top < 1:
		return usageError{fmt.Errorf("--top %d: print at least 1 answer", *top)}
	}
	methods, cm, err := drawing(*methodList, *colormap)
	if err != nil {
		return err
	}
	class := -1
	if *answer != "" {
		if class, err = vqa.AnswerIndex(*answer); err != nil {
			return usageError{err}
		}
	}
	if _, _, err := vqa.Encode(*question); err != nil {
		return usageError{err}
	}
	img, err := preprocess.LoadImage(*imagePath)
	if err != nil {
		return err
	}
	m, err := vqa.Load()
	if err != nil {
		return err
	}
	given, err := vqa.Ask(m, *question)
	if err != nil {
		return usageError{err}
	}
	ex := gradcam.New(given)
	x := scenes.Input(img)
	logits, err := ex.Logits(x)
	if err != nil {
		return err
	}
	exps, err := ex.Explain(x, gradcam.Request{Methods: methods, Classes: []int{class}, Layers: []string{vqa.Layer}})
	if err != nil {
		return err
	}
	for _, p := range models.TopK(logits[0], m.Labels, *top) {
		fmt.Fprintf(stdout, "%s\t%.4f\n", p.Label, p.Probability)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	e := exps[0]
	title := fmt.Sprintf("%s %q: %s, p=%.3f", m.Name, *question, e.Label, e.Probability)
	return writeMaps(*out, e, methods, scenes.Fitted(img), filepath.Base(*imagePath), title, cm, stdout)
}
