package visualize

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

func fashionGAP(t *testing.T) (*models.Model, *data.Set) {
	t.Helper()
	m, err := fashion.Load(fashion.GAP)
	if err != nil {
		t.Fatal(err)
	}
	set, err := fashion.TestSet(40)
	if err != nil {
		t.Fatal(err)
	}
	return m, set
}

// unit is the activation of channel at (row, col) of layer for one image.
func unit(t *testing.T, m *models.Model, pixels []float32, shape []int, layer string, channel, row, col int) float32 {
	t.Helper()
	set := &data.Set{Name: "one", Shape: shape, Inputs: pixels}
	x, _ := set.Batch([]int{0})
	acts, err := m.Activations(x, layer)
	if err != nil {
		t.Fatal(err)
	}
	a := acts[layer]
	h, w := a.Shape[2], a.Shape[3]
	return a.Data[(channel*h+row)*w+col]
}

// TestTopPatches checks the selection against every image's activations (best first, one patch
// per image, batch size irrelevant), and that the patch is the unit's receptive field: changing
// every pixel outside it leaves the unit's value as it was, changing the pixels inside does not.
func TestTopPatches(t *testing.T) {
	m, set := fashionGAP(t)
	const layer, channel, k = "block3.relu", 5, 6
	patches, err := TopPatches(m, set, layer, channel, k, 16)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TopPatches(m, set, layer, channel, k, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(patches) != k || len(again) != k {
		t.Fatalf("%d and %d patches, want %d", len(patches), len(again), k)
	}
	seen := map[int]bool{}
	for i, p := range patches {
		if again[i] != p {
			t.Errorf("patch %d: %+v with batches of 16, %+v with batches of 7", i, p, again[i])
		}
		if seen[p.Image] {
			t.Errorf("image %d chosen twice", p.Image)
		}
		seen[p.Image] = true
		if i > 0 && p.Activation > patches[i-1].Activation {
			t.Errorf("patch %d (%g) is stronger than patch %d (%g)", i, p.Activation, i-1, patches[i-1].Activation)
		}
	}
	// Every image's strongest response, from one batch of the whole set: the images kept are
	// those with the k largest.
	idx := make([]int, set.Len())
	for i := range idx {
		idx[i] = i
	}
	x, _ := set.Batch(idx)
	acts, err := m.Activations(x, layer)
	if err != nil {
		t.Fatal(err)
	}
	a := acts[layer]
	c, plane := a.Shape[1], a.Shape[2]*a.Shape[3]
	for i := range set.Len() {
		strongest := float32(math.Inf(-1))
		for _, v := range a.Data[(i*c+channel)*plane : (i*c+channel+1)*plane] {
			strongest = max(strongest, v)
		}
		if !seen[i] && strongest > patches[k-1].Activation {
			t.Errorf("image %d responds %g, more than the weakest patch kept (%g)", i, strongest, patches[k-1].Activation)
		}
		if seen[i] && math.Abs(float64(strongest-patches[slices.IndexFunc(patches, func(p Patch) bool { return p.Image == i })].Activation)) > 1e-5 {
			t.Errorf("image %d: strongest response %g, not its patch's", i, strongest)
		}
	}

	size := 64 * 64
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range patches[:2] {
		pixels := set.Inputs[p.Image*size : (p.Image+1)*size]
		if got := unit(t, m, pixels, set.Shape, layer, channel, p.Row, p.Col); got != p.Activation {
			t.Fatalf("image %d: the unit is %g, the patch says %g", p.Image, got, p.Activation)
		}
		outside, inside := make([]float32, size), make([]float32, size)
		for y := range 64 {
			for x := range 64 {
				in := image.Pt(x, y).In(p.Region)
				outside[y*64+x], inside[y*64+x] = pixels[y*64+x], pixels[y*64+x]
				if in {
					inside[y*64+x] = r.Float32()
				} else {
					outside[y*64+x] = r.Float32()
				}
			}
		}
		if got := unit(t, m, outside, set.Shape, layer, channel, p.Row, p.Col); math.Abs(float64(got-p.Activation)) > 1e-5*math.Max(1, float64(p.Activation)) {
			t.Errorf("image %d: noise outside the field %v moved the unit from %g to %g", p.Image, p.Region, p.Activation, got)
		}
		if got := unit(t, m, inside, set.Shape, layer, channel, p.Row, p.Col); got == p.Activation {
			t.Errorf("image %d: noise inside the field %v left the unit at %g", p.Image, p.Region, got)
		}
		if !p.Region.In(image.Rect(0, 0, 64, 64)) || !p.Region.In(p.Field) {
			t.Errorf("image %d: region %v is not the field %v clipped to the image", p.Image, p.Region, p.Field)
		}
	}
}

// TestTopPatchesErrors checks one-line errors for bad requests.
func TestTopPatchesErrors(t *testing.T) {
	m, set := fashionGAP(t)
	for _, tc := range []struct {
		name    string
		set     *data.Set
		layer   string
		channel int
		k       int
		want    string
	}{
		{"unknown layer", set, "block9", 0, 3, `layer "block9"`},
		{"not spatial", set, "fc", 0, 3, "not a spatial layer"},
		{"channel out of range", set, "block1.relu", 8, 3, "channel 8 is out of range"},
		{"k zero", set, "block1.relu", 0, 0, "k must be at least 1"},
		{"empty set", &data.Set{Name: "none", Shape: []int{1, 64, 64}}, "block1.relu", 0, 3, "the dataset is empty"},
	} {
		_, err := TopPatches(m, tc.set, tc.layer, tc.channel, tc.k, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line saying %q", tc.name, err, tc.want)
		}
	}
}
