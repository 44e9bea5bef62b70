package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/preprocess"
)

// TestExcitationBackpropMatchesZennit compares excitation backprop and its contrastive variant
// at inner layers of random-weight VGG-16 (features.29, features.22) and ResNet-18 (layer3), two
// classes each, with Zennit's z+ rule without biases run on the network above the layer
// (gradcam/testdata/reference_excitation.py; TorchRay, which defines the method, is not among
// the peers): the map at the layer's resolution, correlation >= 0.999 and max error <= 1% of the
// largest value. The contrastive map is the difference of two maps that each sum to 1 and
// differ little (about 1e-5 of them on these random networks), so both implementations carry
// float32 rounding of a few 1e-7 of excitation backprop's values into it: its max error is
// bounded by 1e-4 of excitation backprop's largest value instead. Excitation backprop's winning
// probability is conserved: its map sums to 1.
func TestExcitationBackpropMatchesZennit(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_excitation.py", "excitation-ref", testref.Shared(), modelsRef)
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	methods := []Method{ExcitationBackprop, ContrastiveExcitationBackprop}
	for _, tc := range []struct{ model, layer string }{{"vgg16", "features.29"}, {"vgg16", "features.22"}, {"resnet18", "layer3"}} {
		t.Run(tc.model+"/"+tc.layer, func(t *testing.T) {
			res, err := New(loadTestModel(t, tc.model)).Explain(x, Request{Methods: methods, Classes: []int{243, 282},
				Layers: []string{tc.layer}})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range methods {
				for k, c := range []int{243, 282} {
					eb, _ := testref.ReadNPY(t, filepath.Join(ref, tc.model, tc.layer, string(ExcitationBackprop), fmt.Sprint(c)+".npy"))
					want, _ := testref.ReadNPY(t, filepath.Join(ref, tc.model, tc.layer, string(m), fmt.Sprint(c)+".npy"))
					sum := 0.0
					for i, v := range want {
						sum += float64(v)
						want[i] = max(v, 0) // the map is the ReLU of the sum over channels
					}
					got := res.At(0, k).Maps[m].LowRes
					maxErr := testref.MaxRelErr(got, want)
					bound := 0.01
					if m == ContrastiveExcitationBackprop {
						maxErr *= float64(slices.Max(want)) / float64(slices.Max(eb)) // relative to excitation backprop's largest
						bound = 1e-4
					}
					if r := testref.Pearson(got, want); r < 0.999 || maxErr > bound || math.IsNaN(maxErr) {
						t.Errorf("%s class %d: r = %.6f, max error %.3g (bound %g)", m, c, r, maxErr, bound)
					}
					if m == ExcitationBackprop {
						total := 0.0
						for _, v := range got {
							total += float64(v)
						}
						if math.Abs(total-1) > 1e-3 || math.Abs(sum-1) > 1e-3 {
							t.Errorf("class %d: the winning probability sums to %.5f (Zennit's %.5f), want 1", c, total, sum)
						}
					}
				}
			}
		})
	}
}
