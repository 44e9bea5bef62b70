package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// trainDemo retrains the shipped demo networks (package fashion) and writes their checkpoints.
func trainDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", filepath.Join("pretrained", "fashion"), "folder to write NAME.safetensors into (the package's folder replaces the shipped ones)")
	only := fs.String("model", strings.Join(fashion.Names(), ","), "which demo networks to train")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	names := splitList(*only)
	for _, n := range names {
		if !fashion.IsDemo(n) {
			return usageError{fmt.Errorf("unknown demo network %q: the shipped ones are %s", n, strings.Join(fashion.Names(), ", "))}
		}
	}
	if len(names) == 0 {
		return usageError{errors.New("--model names no demo network")}
	}
	for _, n := range names {
		fmt.Fprintf(stderr, "training %s: %d cluttered Fashion-MNIST items (%dx%d), %d epochs\n", n, fashion.TrainN, fashion.Canvas, fashion.Canvas, fashion.Epochs)
		m, acc, err := fashion.Train(n, stderr)
		if err != nil {
			return err
		}
		path := filepath.Join(*out, n+".safetensors")
		if err := m.Save(path); err != nil {
			return fmt.Errorf("saving %s: %w", n, err)
		}
		fmt.Fprintf(stdout, "%s\theld-out accuracy %.4f\t%s\n", n, acc, path)
	}
	return nil
}
