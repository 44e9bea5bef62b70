package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// camFamilyMethods are the methods compared with pytorch-grad-cam's own code.
var camFamilyMethods = []Method{GradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, FEM, EigenCAM, EigenGradCAM}

// TestCAMFamilyMatchesPytorchGradCAM runs pytorch-grad-cam itself (../shared/peers, through
// gradcam/testdata/reference_peers.py) on resnet18 (random weights) and mobilenet_v2 (real
// weights) for two classes, and compares every CAM-family method at the layer's resolution and
// at the input's (its final map, normalized again after upsampling): correlation >= 0.999 and
// max error <= 1% of the largest value. Eigen methods are compared up to the sign pytorch-grad-cam
// leaves to LAPACK: where its SVD chose the other sign, with its pipeline run on the negated
// projection.
func TestCAMFamilyMatchesPytorchGradCAM(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_peers.py", "peers-ref", testref.Shared(), modelsRef)
	x, _, err := models.Preprocess(models.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m := loadTestModel(t, name)
			res, err := New(m).Explain(x, Request{Methods: camFamilyMethods, Classes: []int{243, 282}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range res {
				for _, method := range camFamilyMethods {
					mp := ex.Maps[method]
					dir := filepath.Join(ref, name, fmt.Sprint(ex.Class))
					low, lowShape := testref.ReadNPY(t, filepath.Join(dir, string(method)+"_lowres.npy"))
					final, _ := testref.ReadNPY(t, filepath.Join(dir, string(method)+".npy"))
					if !slices.Equal(mp.LowResShape, lowShape) {
						t.Fatalf("%s: low-res shape %v, pytorch-grad-cam %v", method, mp.LowResShape, lowShape)
					}
					flipped := false
					if method.isEigen() && testref.Pearson(mp.LowRes, low) < 0 {
						flipped = true
						for i := range low {
							low[i] = -low[i]
						}
					}
					check := func(what string, got, want []float32) {
						r, e := testref.Pearson(got, want), testref.MaxRelErr(got, want)
						if r < 0.999 || e > 0.01 || math.IsNaN(e) {
							t.Errorf("class %d %s %s: correlation %.5f, max error %.3g", ex.Class, method, what, r, e)
						} else {
							t.Logf("class %d %-20s %-8s r=%.6f err=%.2g", ex.Class, method, what, r, e)
						}
					}
					check("low-res", mp.LowRes, low)
					if flipped {
						final, _ = testref.ReadNPY(t, filepath.Join(dir, string(method)+"_flipped.npy"))
						t.Logf("class %d %s: pytorch-grad-cam's SVD gave the other sign", ex.Class, method)
					}
					check("final", mp.Values, final)
				}
			}
		})
	}
}
