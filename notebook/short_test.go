package notebook

import (
	"errors"
	"image"
	"path/filepath"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// TestShortPathShowsErrors: every step of the short path reports a failure and returns nil,
// and the next steps accept the nil without panicking, so a cell needs no must helper.
func TestShortPathShowsErrors(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", t.TempDir())
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	if !Error(errString("boom")) || Error(nil) {
		t.Error("Error reports whether there was an error")
	}
	m := testref.NoPanic(t, func() *models.Model { return Load("lenet") })
	if m != nil {
		t.Error("an unknown model loaded")
	}
	b := testref.NoPanic(t, func() *Batch { return Images(m, "cat_dog.png") })
	if b != nil {
		t.Error("images for no model")
	}
	if r := testref.NoPanic(t, func() gradcam.Results {
		return Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}})
	}); r != nil {
		t.Error("an explanation of no model")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestShortPathExplains: a checkpoint loads with Load, images are found by name, and Explain
// returns the results of the request (also with a style); a request error returns nil.
func TestShortPathExplains(t *testing.T) {
	t.Setenv("GRADCAM_IMAGES", filepath.Join(testref.Shared(), "images"))
	m := Load("squeezenet1_0", filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth"))
	if m == nil {
		t.Fatal("no model")
	}
	b := Images(m, "cat_dog.png", "snake.png")
	if b == nil || len(b.Pictures) != 2 || b.Input.Shape().Dimensions[0] != 2 {
		t.Fatalf("batch %+v", b)
	}
	res := Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GuidedGradCAM}, Classes: []int{243}},
		Style{ImageWeight: 0.7, Zoom: 2})
	if len(res) != 2 || res.At(1, 0).Class != 243 || res.At(0, 0).Maps[gradcam.CAM] == nil {
		t.Fatalf("results %v", res)
	}
	// The same request again compiles nothing: the model's explainer and its graphs are kept.
	builds, graphs := m.ForwardBuilds(), ExplainerOf(m).Stats().GraphBuilds
	again := Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GuidedGradCAM}, Classes: []int{243}})
	if len(again) != 2 || m.ForwardBuilds() != builds || ExplainerOf(m).Stats().GraphBuilds != graphs {
		t.Errorf("a second Explain of the same request built the network %d times and %d graphs, want 0",
			m.ForwardBuilds()-builds, ExplainerOf(m).Stats().GraphBuilds-graphs)
	}
	if Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{5000}}) != nil {
		t.Error("a class out of range gave results")
	}
	if Images(m, "no-such.png") != nil {
		t.Error("a missing image gave a batch")
	}
}

// TestFromSetAndZoom: dataset examples become pictures of their pixels, and zoomed figures are
// k times larger.
func TestFromSetAndZoom(t *testing.T) {
	set := &data.Set{Name: "tiny", Shape: []int{1, 2, 3}, Inputs: []float32{0, 0.5, 1, 1, 0.5, 0, 1, 1, 1, 0, 0, 0},
		Labels: []int32{1, 0}, Classes: []string{"a", "b"}}
	b := FromSet(set, 1, 0)
	if b == nil || len(b.Pictures) != 2 || b.Names[0] != "1: a" || b.Names[1] != "0: b" {
		t.Fatalf("batch %+v", b)
	}
	if c := b.Pictures[1].RGBAAt(1, 0); c.R != 128 || c.G != 128 || c.B != 128 {
		t.Errorf("pixel (1, 0) of example 0 is %v, want gray 128", c)
	}
	if FromSet(set, 2) != nil {
		t.Error("an example beyond the set")
	}
	if z := render.Zoom(b.Pictures[0], 3); z.Bounds() != image.Rect(0, 0, 9, 6) || z.RGBAAt(8, 5) != b.Pictures[0].RGBAAt(2, 1) {
		t.Errorf("zoom: %v", z.Bounds())
	}
}

// TestMust: Must and Must2 pass values through, and outside a notebook panic with the error.
func TestMust(t *testing.T) {
	if got := Must(3, nil); got != 3 {
		t.Errorf("Must(3, nil) = %d", got)
	}
	if a, b := Must2("a", 2, nil); a != "a" || b != 2 {
		t.Errorf("Must2 = %q, %d", a, b)
	}
	want := errors.New("no such layer")
	defer func() {
		if r := recover(); r != want {
			t.Errorf("Must with an error outside a notebook: recovered %v, want the error", r)
		}
	}()
	Must(0, want)
	t.Error("Must went on after an error")
}
