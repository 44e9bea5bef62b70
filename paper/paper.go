// Package paper reproduces the measured claims of the Grad-CAM paper's figures (Selvaraju et
// al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization"): where
// each class's map puts its mass among the objects of an image (Figures 1 and 3, the adversarial
// images of Section 6.3, the failure modes of Section 6.2). The notebooks print these numbers
// under the figures and the tests assert them, from the same code.
package paper

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Object is an annotated object of an image: its class and its box in the model's input pixels.
type Object struct {
	Class int
	Label string
	Box   data.Box
}

// ObjectsIn reads the objects of one image of dir from a boxes file (docs/boxes), their boxes
// mapped to the image the transform fits (Transform.FitBox), labelled with the model's labels.
// Rows of one class with several boxes give several objects.
func ObjectsIn(boxesFile, dir, image string, m *models.Model, t preprocess.Transform) ([]Object, error) {
	f, err := os.Open(boxesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := data.ReadBoxes(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", boxesFile, err)
	}
	img, err := preprocess.LoadImage(filepath.Join(dir, image))
	if err != nil {
		return nil, err
	}
	size := img.Bounds().Size()
	var objs []Object
	for _, r := range rows {
		if r.Image != image {
			continue
		}
		class, err := m.ClassIndex(r.Class)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", boxesFile, r.Line, err)
		}
		b := t.FitBox(r.Box.Rect(), size.X, size.Y)
		objs = append(objs, Object{Class: class, Label: m.Label(class), Box: data.Box{X0: b.Min.X, Y0: b.Min.Y, X1: b.Max.X, Y1: b.Max.Y}})
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s has no box of %s", boxesFile, image)
	}
	return objs, nil
}

// Distinct returns the objects with one box each: the first object of each box (the dog of
// cat_dog.png is both bull mastiff and boxer: one box).
func Distinct(objs []Object) []Object {
	var out []Object
	for _, o := range objs {
		seen := false
		for _, p := range out {
			seen = seen || p.Box == o.Box
		}
		if !seen {
			out = append(out, o)
		}
	}
	return out
}

// Mass is, for each explanation (a class of an image) and each object, the share of the
// method's map inside the object's box (metrics.MassInBox): Mass[i][j] for explanation i and
// object j.
func Mass(exps []*gradcam.Explanation, method gradcam.Method, objs []Object) ([][]float64, error) {
	out := make([][]float64, len(exps))
	for i, ex := range exps {
		hm, err := metrics.HeatmapOf(ex.Maps[method])
		if err != nil {
			return nil, err
		}
		out[i] = make([]float64, len(objs))
		for j, o := range objs {
			if out[i][j], err = metrics.MassInBox(hm, o.Box); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// MassMarkdown is Mass as a table: a row per explanation (its class and probability), a column
// per object, each cell the share of the map in that object's box.
func MassMarkdown(exps []*gradcam.Explanation, method gradcam.Method, objs []Object) (string, error) {
	mass, err := Mass(exps, method, objs)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| %s of | p |", method.Title())
	for _, o := range objs {
		fmt.Fprintf(&b, " in the %s box |", o.Label)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(objs)) + "\n")
	for i, ex := range exps {
		fmt.Fprintf(&b, "| %s (%d) | %.3f |", ex.Label, ex.Class, ex.Probability)
		for j := range objs {
			fmt.Fprintf(&b, " %.0f%% |", 100*mass[i][j])
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
