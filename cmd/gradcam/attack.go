package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gradcam-go/gradcam/attack"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/preprocess"
)

// attackCommand makes a targeted adversarial image (PGD under an L∞ budget) and writes it as an
// 8-bit PNG that is still adversarial when read back, with the float image as .npy beside it.
func attackCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	target := fs.Int("target", -1, "class (output index) the image should be classified as")
	epsilon := fs.String("epsilon", "8/255", "L∞ budget: the largest change of a pixel, in 0..1 units (a fraction such as 8/255, or a number)")
	steps := fs.Int("steps", 40, "gradient steps at most (the attack stops once the target has probability >= 0.9)")
	stepSize := fs.String("step-size", "", "each step's change of a pixel, in 0..1 units; default: 2.5 epsilon / steps (Madry et al.)")
	out := fs.String("out", "", "the adversarial image, FILE.png (8-bit); the float image goes beside it as FILE.npy")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *out == "" || *target == -1 {
		return usageError{errors.New("--target and --out are required")}
	}
	if strings.ToLower(filepath.Ext(*out)) != ".png" {
		return usageError{fmt.Errorf("--out %s: the adversarial image is written as PNG; name it FILE.png", *out)}
	}
	opts := attack.Options{Steps: *steps}
	var err error
	if opts.Epsilon, err = parseFraction(*epsilon); err != nil {
		return usageError{fmt.Errorf("--epsilon: %w", err)}
	}
	if *stepSize != "" {
		if opts.StepSize, err = parseFraction(*stepSize); err != nil {
			return usageError{fmt.Errorf("--step-size: %w", err)}
		}
	}
	if !(opts.Epsilon > 0 && opts.Epsilon <= 1) {
		return usageError{fmt.Errorf("--epsilon %s: the budget must be in (0, 1] (pixel units; 8/255 is usual)", *epsilon)}
	}
	if *steps < 1 {
		return usageError{fmt.Errorf("--steps %d: give at least 1", *steps)}
	}
	m, in, err := mf.load(stderr)
	if err != nil {
		return err
	}
	if *target < 0 || *target >= m.Outputs {
		return usageError{fmt.Errorf("--target %d out of range: %s has %d outputs, 0..%d", *target, m.Name, m.Outputs, m.Outputs-1)}
	}
	mode := preprocess.Stretch
	if mf.crop {
		mode = preprocess.CenterCrop
	}
	t, err := m.Transform(mode)
	if err != nil {
		return err
	}
	res, err := attack.Targeted(gradcam.New(m), t, in.images[0], *target, opts)
	if err != nil {
		return err
	}
	label := func(c int) string { return fmt.Sprintf("%d (%s)", c, m.Label(c)) }
	fmt.Fprintf(stdout, "original: %s p=%.4f\n", label(res.Original), res.OriginalProbability)
	fmt.Fprintf(stdout, "adversarial (8-bit, after %d steps, L∞ %.4f = %g/255): %s p=%.4f; target %s p=%.4f\n", res.Steps, res.LInf,
		res.LInf*255, label(res.Top), res.TopProbability, label(res.Target), res.Probability)
	if !res.Reached() {
		return fmt.Errorf("the attack did not reach target %s in %d steps within epsilon %s: the 8-bit image is classified as %s; "+
			"nothing written (raise --steps or --epsilon)", label(res.Target), res.Steps, *epsilon, label(res.Top))
	}
	dir, base := filepath.Split(*out)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if err := writeMap(filepath.Clean(dir+"."), base, res.Pixels, []int{3, t.Height, t.Width}); err != nil {
		return err
	}
	if err := writePNG(*out, res.Image); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", *out, filepath.Join(dir, base+".npy"))
	return nil
}

// parseFraction reads "8/255" or "0.03".
func parseFraction(s string) (float64, error) {
	num, den, isFraction := strings.Cut(strings.TrimSpace(s), "/")
	a, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or a fraction such as 8/255", s)
	}
	if !isFraction {
		return a, nil
	}
	b, err := strconv.ParseFloat(den, 64)
	if err != nil || b == 0 {
		return 0, fmt.Errorf("%q is not a number or a fraction such as 8/255", s)
	}
	return a / b, nil
}
