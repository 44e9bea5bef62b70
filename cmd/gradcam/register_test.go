package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// gradcamAbs is a CAM method defined outside package gradcam: Grad-CAM with the spatial mean of
// the gradients' absolute values as the weights.
const gradcamAbs gradcam.Method = "gradcam-abs"

var registerAbs = sync.OnceValue(func() error {
	return gradcam.RegisterCAM(gradcam.CAMMethod{Name: gradcamAbs, Title: "Grad-CAM |g|",
		Summary: "activations weighted by the spatial mean of |gradient|, ReLU",
		Weights: func(a, g *Node, spatial []int) *Node { return ReduceMean(Abs(g), spatial...) }})
})

// TestRegisteredMethod: a CAM method registered from another package runs through Explain (its
// map equals the one computed by hand from the layer's activations and gradients), is listed by
// gradcam methods, is taken by explain --method and captions its figure; registering it twice,
// or a built-in name, is refused.
func TestRegisteredMethod(t *testing.T) {
	if err := registerAbs(); err != nil {
		t.Fatal(err)
	}
	if err := gradcam.RegisterCAM(gradcam.CAMMethod{Name: gradcamAbs, Title: "x", Summary: "x", Weights: func(a, g *Node, s []int) *Node { return g }}); err == nil ||
		!strings.Contains(err.Error(), "already a method") {
		t.Errorf("registering it twice: %v", err)
	}
	if err := gradcam.RegisterCAM(gradcam.CAMMethod{Name: gradcam.GradCAM, Title: "x", Summary: "x", Weights: func(a, g *Node, s []int) *Node { return g }}); err == nil {
		t.Error("a built-in name was registered")
	}

	weights := filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth")
	m, err := models.LoadFile("squeezenet1_0", weights)
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	e := gradcam.New(m)
	res, err := e.Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcamAbs}, Classes: []int{243}})
	if err != nil {
		t.Fatal(err)
	}
	acts, grads, shape, err := e.LayerGradient(x, m.DefaultLayer(), gradcam.Logit(), []int{243})
	if err != nil {
		t.Fatal(err)
	}
	c, hw := shape[1], shape[2]*shape[3]
	byHand := make([]float32, hw)
	for k := range c {
		var w float32
		for p := range hw {
			w += max(grads[k*hw+p], -grads[k*hw+p])
		}
		for p := range hw {
			byHand[p] += w / float32(hw) * acts[k*hw+p]
		}
	}
	for p := range byHand {
		byHand[p] = max(byHand[p], 0)
	}
	if d := testref.MaxRelErr(res[0].Maps[gradcamAbs].LowRes, byHand); !(d <= 1e-5) {
		t.Errorf("the registered method's map differs from its definition by %.3g of its maximum", d)
	}

	var out, errOut bytes.Buffer
	if err := run([]string{"methods"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gradcam-abs           activations weighted by the spatial mean of |gradient|") {
		t.Errorf("gradcam methods does not list it:\n%s", out.String())
	}
	dir := t.TempDir()
	out.Reset()
	if err := run([]string{"explain", "--model", "squeezenet1_0", "--weights", weights, "--image", testref.Image("cat_dog.png"),
		"--class", "243", "--method", "gradcam-abs,gradcam", "--out", dir}, &out, &errOut); err != nil {
		t.Fatalf("explain --method gradcam-abs: %v", err)
	}
	for _, f := range []string{"gradcam-abs.npy", "gradcam-abs.png", "figure.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if gradcamAbs.Title() != "Grad-CAM |g|" {
		t.Errorf("figure title %q", gradcamAbs.Title())
	}
}
