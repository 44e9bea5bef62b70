package disks

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/train"
)

// Bounds the shipped model is held to (measured at training: see the retrain command's output).
const (
	maxRMSE = 0.5 // percentage points of area, on held-out images (retrain measured 0.303)
	// RAM's and Grad-CAM's mass (upsampled 12x12 maps) on the red disks: measured 40% where they
	// cover 9.7% of the images; on the blue ones: 6.7%, less than their area.
	minRedShare      = 0.32
	minRedEnrichment = 3.0 // red share / red area
	heldOutImages    = 100
)

// TestShippedModelEstimatesRedArea: the shipped regression CNN's error on held-out images.
func TestShippedModelEstimatesRedArea(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.GenerateDisks(500, Size, TestSeed)
	if err != nil {
		t.Fatal(err)
	}
	mse, _, err := train.Evaluate(m, test.Set, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out RMSE %.3f percentage points", math.Sqrt(mse))
	if math.Sqrt(mse) > maxRMSE {
		t.Errorf("held-out RMSE %.3f, want <= %.2f", math.Sqrt(mse), maxRMSE)
	}
}

// TestRAMLightsRedDisks: RAM (CAM with the regression unit's weights) and Grad-CAM of the output
// concentrate on the red disks (several times their area) and give the blue ones less than their
// area, on held-out images.
func TestRAMLightsRedDisks(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	test, err := data.GenerateDisks(heldOutImages, Size, TestSeed)
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(test.Inputs, heldOutImages, 3, Size, Size)
	res, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	area, blueArea := 0.0, 0.0
	for i := range heldOutImages {
		area += float64(test.Targets[i]) / 100 / heldOutImages
		for _, b := range test.Blue[i] {
			if b {
				blueArea += 1 / float64(Size*Size*heldOutImages)
			}
		}
	}
	for _, method := range []gradcam.Method{gradcam.CAM, gradcam.GradCAM} {
		red, blue := 0.0, 0.0
		for i := range heldOutImages {
			r, b, err := test.Share(i, res.At(i, 0).Maps[method].Values)
			if err != nil {
				t.Fatal(err)
			}
			red, blue = red+r/heldOutImages, blue+b/heldOutImages
		}
		t.Logf("%s: %.1f%% of the map's mass on the red disks (%.1f%% of the image), %.1f%% on the blue ones (%.1f%%)",
			method, 100*red, 100*area, 100*blue, 100*blueArea)
		if red < minRedShare || red < minRedEnrichment*area || blue > blueArea {
			t.Errorf("%s: red share %.3f (want >= %.2f and >= %.0fx the red area %.3f), blue share %.3f (want <= the blue area %.3f)",
				method, red, minRedShare, minRedEnrichment, area, blue, blueArea)
		}
	}
}

// TestRAMMatchesPyTorch: the shipped network written in PyTorch (pretrained/disks/testdata/reference.py)
// gives the same output, RAM and Grad-CAM.
func TestRAMMatchesPyTorch(t *testing.T) {
	ref := testref.Ensure(t, "pretrained/disks/testdata/reference.py", "disks-ref", filepath.Join(testref.Root(), "pretrained", "disks", "disks.safetensors"))
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	in, shape := testref.ReadNPY(t, filepath.Join(ref, "input.npy"))
	x := tensors.FromFlatDataAndDimensions(in, shape...)
	res, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Classes: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := testref.ReadNPY(t, filepath.Join(ref, "output.npy"))
	if got := res[0].Logit; math.Abs(float64(got-out[0])) > 1e-4*max(1, math.Abs(float64(out[0]))) {
		t.Errorf("output %g, PyTorch %g", got, out[0])
	}
	for method, file := range map[gradcam.Method]string{gradcam.CAM: "ram_lowres.npy", gradcam.GradCAM: "gradcam_lowres.npy"} {
		want, _ := testref.ReadNPY(t, filepath.Join(ref, file))
		got := res[0].Maps[method].LowRes
		if r, e := testref.Pearson(got, want), testref.MaxRelErr(got, want); r < 0.9999 || e > 1e-4 {
			t.Errorf("%s: correlation %.6f, max error %.3g", method, r, e)
		}
	}
}
