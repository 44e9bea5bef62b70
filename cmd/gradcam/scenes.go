package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
)

// scenes writes generated scenes (data.Scenes): DIR/NNNN.png and DIR/NNNN.json with the objects'
// shapes, colours, boxes and masks, questions with their answers, and the caption.
func scenesCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 100, "number of scenes")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same scenes")
	size := fs.Int("size", 64, "side of a scene, pixels (at least 32)")
	out := fs.String("out", "", "output folder (created if missing)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	if *n < 1 || *n > 99999 {
		return usageError{fmt.Errorf("--n %d: between 1 and 99999 scenes", *n)}
	}
	all, err := data.Scenes(*n, *seed, data.ScenesOptions{Size: *size})
	if err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for i, sc := range all {
		name := filepath.Join(*out, fmt.Sprintf("%04d", i))
		j, err := sc.JSON()
		if err != nil {
			return err
		}
		if err := writePNG(name+".png", sc.Image); err != nil {
			return err
		}
		if err := atomicfile.Write(name+".json", append(j, '\n')); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d scenes (seed %d) to %s\n", *n, *seed, *out)
	return nil
}
