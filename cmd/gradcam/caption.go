package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/pretrained/caption"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
)

// explainCaption captions an image with the shipped captioner (or takes the caption given) and
// explains the whole caption and each of its words.
func explainCaption(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain-caption", flag.ContinueOnError)
	fs.SetOutput(stderr)
	imagePath := fs.String("image", "", "PNG or JPEG image (a scene: gradcam scenes makes some); resized to the model's size")
	text := fs.String("caption", "", `the caption to explain, e.g. "a red circle and a blue square"; default: the model's own (greedy)`)
	method := fs.String("method", "gradcam", "the method: a CAM-family method or a gradient method ("+methodNames()+")")
	out := fs.String("out", "", "output directory: caption.npy/.png (the whole caption) and NN-WORD.npy/.png per word")
	colormap := fs.String("colormap", "jet", "heatmap colormap: jet, turbo, viridis, inferno, gray")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch {
	case *imagePath == "":
		return usageError{errors.New("--image is required")}
	case *out == "":
		return usageError{errors.New("--out is required")}
	}
	methods, cm, err := drawing(*method, *colormap)
	if err != nil {
		return err
	}
	if len(methods) != 1 {
		return usageError{fmt.Errorf("--method %q: give one method", *method)}
	}
	if *text != "" {
		if _, _, err := caption.Encode(*text); err != nil {
			return usageError{err}
		}
	}
	img, err := preprocess.LoadImage(*imagePath)
	if err != nil {
		return err
	}
	m, err := caption.Load()
	if err != nil {
		return err
	}
	if *text == "" {
		if *text, _, err = caption.Describe(m, img); err != nil {
			return err
		}
	}
	words, perWord, whole, err := caption.ExplainWith(m, img, *text, methods[0])
	if err != nil {
		return err
	}
	given, err := caption.Given(m, *text)
	if err != nil {
		return err
	}
	logits, err := gradcam.New(given).Logits(scenes.Input(img))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	probs := caption.Probabilities(logits[0], words)
	logp := 0.0
	for _, p := range probs {
		logp += math.Log(max(p, 1e-45))
	}
	fitted := scenes.Fitted(img)
	grid := &render.Grid{Title: fmt.Sprintf("%s: %q", m.Name, *text), Rows: [][]render.Cell{{{Image: fitted, Caption: filepath.Base(*imagePath)}}}}
	write := func(name, label string, mp *gradcam.Map) error {
		if err := writeMap(*out, name, mp.Values, mp.Shape); err != nil {
			return err
		}
		pic, err := mp.Picture(fitted, cm, 0.5)
		if err != nil {
			return err
		}
		if err := writePNG(filepath.Join(*out, name+".png"), pic); err != nil {
			return err
		}
		grid.Rows[0] = append(grid.Rows[0], render.Cell{Image: pic, Caption: label})
		return nil
	}
	fmt.Fprintf(stdout, "caption\t%s\t%.4f\n", *text, logp)
	if err := write("caption", "whole caption", whole.Maps[methods[0]]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "whole\t%s\n", filepath.Join(*out, "caption.png"))
	for i, w := range words {
		name := fmt.Sprintf("%02d-%s", w.Step, strings.Trim(w.Word, "<>"))
		if err := write(name, w.Word, perWord[i].Maps[methods[0]]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\t%.4f\t%s\n", w.Word, probs[i], filepath.Join(*out, name+".png"))
	}
	fig, err := grid.Render()
	if err != nil {
		return err
	}
	if err := writePNG(filepath.Join(*out, "figure.png"), fig); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "figure\t%s\n", filepath.Join(*out, "figure.png"))
	return nil
}
