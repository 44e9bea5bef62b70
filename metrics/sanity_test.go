package metrics

import (
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
)

// TestRandomizedReinitializesOnlyTheLayersGiven checks models.Model.Randomized: the layers given
// get exactly the weights a fresh model of that seed has, the others keep the trained ones.
func TestRandomizedReinitializesOnlyTheLayersGiven(t *testing.T) {
	m, _ := tinySet(t, 1)
	layers := m.ParamLayers()
	if want := []string{"block1.conv", "block1.bn", "block2.conv", "block2.bn", "fc"}; !slices.Equal(layers, want) {
		t.Fatalf("ParamLayers %v, want %v", layers, want)
	}
	r, err := m.Randomized([]string{"block2.bn", "fc"}, 9)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := models.New(m.Network, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		got, _ := r.Param(p.Key)
		old, _ := m.Param(p.Key)
		want := old
		if strings.HasPrefix(p.Key, "block2.bn.") || strings.HasPrefix(p.Key, "fc.") {
			want, _ = fresh.Param(p.Key)
		}
		if !slices.Equal(got.Data, want.Data) {
			t.Errorf("%s: not the expected weights", p.Key)
		}
	}
	if _, err := m.Randomized([]string{"block9"}, 1); err == nil || !strings.Contains(err.Error(), `no layer "block9"`) {
		t.Errorf("unknown layer: error %v", err)
	}
}

// TestCascadingRandomizationSteps checks the steps' layout: the trained model first (similarity 1),
// then one step per layer from the output down, with one map per image.
func TestCascadingRandomizationSteps(t *testing.T) {
	m, set := tinySet(t, 2)
	x, _ := set.Batch([]int{0, 1})
	steps, err := CascadingRandomization(m, x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.GuidedBackprop}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	layers := m.ParamLayers()
	for _, meth := range []gradcam.Method{gradcam.GradCAM, gradcam.GuidedBackprop} {
		s := steps[meth]
		if len(s) != len(layers)+1 {
			t.Fatalf("%s: %d steps, want %d", meth, len(s), len(layers)+1)
		}
		if s[0].Layer != "" || s[0].Spearman != 1 || s[0].SSIM != 1 {
			t.Errorf("%s: first step %+v, want the trained model", meth, s[0])
		}
		for i, st := range s[1:] {
			if want := layers[len(layers)-1-i]; st.Layer != want {
				t.Errorf("%s step %d: layer %q, want %q", meth, i+1, st.Layer, want)
			}
			if len(st.Maps) != 2 || st.Spearman < -1 || st.Spearman > 1 || st.SSIM < -1 || st.SSIM > 1 {
				t.Errorf("%s step %d: %d maps, Spearman %g, SSIM %g", meth, i+1, len(st.Maps), st.Spearman, st.SSIM)
			}
		}
	}
	// Randomizing every layer leaves Grad-CAM's maps unrelated to the trained model's.
	if last := steps[gradcam.GradCAM][len(layers)]; last.Spearman > 0.9 {
		t.Errorf("Grad-CAM with every layer randomized: Spearman %g with the trained maps", last.Spearman)
	}
}
