package paper

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gradcam-go/gradcam/attack"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

var weights = map[string]string{"squeezenet1_0": "squeezenet1_0_deepcompression.pth", "mobilenet_v2": "mobilenet_v2_coral_dequant.pth"}

func load(t *testing.T, name string) *models.Model {
	t.Helper()
	m, err := models.LoadFile(name, filepath.Join(testref.Shared(), "weights", weights[name]))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// catDog returns the model input of cat_dog.png and its objects: the dog (bull mastiff) and the
// cat (tiger cat), from docs/boxes/shared-images.csv.
func catDog(t *testing.T, m *models.Model) (*gradcam.Explainer, []Object, *preprocess.Transform) {
	t.Helper()
	tr, err := m.Transform(preprocess.Stretch)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ObjectsIn(filepath.Join(testref.Root(), "docs", "boxes", "shared-images.csv"), filepath.Join(testref.Shared(), "images"), "cat_dog.png", m, tr)
	if err != nil {
		t.Fatal(err)
	}
	objs = Distinct(objs)
	if len(objs) != 2 || objs[0].Class != 243 || objs[1].Class != 282 {
		t.Fatalf("objects of cat_dog.png: %+v", objs)
	}
	return gradcam.New(m), objs, &tr
}

func explain(t *testing.T, e *gradcam.Explainer, file string, req gradcam.Request) gradcam.Results {
	t.Helper()
	x, _, err := preprocess.Preprocess(preprocess.Stretch, file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Explain(x, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestFigure1 measures Figure 1 on the real SqueezeNet: each class's Grad-CAM and Guided
// Grad-CAM puts most of its mass in its own object's box. Measured (docs/boxes; the boxes overlap
// where the cat lies in front of the dog): Grad-CAM bull mastiff 70% in the dog's box, 14% in the
// cat's; tiger cat 62% in the cat's, 36% in the dog's; Guided Grad-CAM 93/5 and 67/47. Asserted:
// own box >= 55% and at least 20 points more than the other's (Guided Grad-CAM's tiger cat: 15).
// MobileNetV2 (the second network, panels f and l): Grad-CAM bull mastiff 49/26, tiger cat 17/68;
// asserted own box ahead by 15 points.
func TestFigure1(t *testing.T) {
	for _, tc := range []struct {
		model  string
		method gradcam.Method
		own    float64 // at least
		ahead  [2]float64
	}{
		{"squeezenet1_0", gradcam.GradCAM, 0.55, [2]float64{0.2, 0.2}},
		{"squeezenet1_0", gradcam.GuidedGradCAM, 0.55, [2]float64{0.2, 0.15}},
		{"mobilenet_v2", gradcam.GradCAM, 0.45, [2]float64{0.15, 0.15}},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.model, tc.method), func(t *testing.T) {
			e, objs, _ := catDog(t, load(t, tc.model))
			res := explain(t, e, testref.Image("cat_dog.png"), gradcam.Request{Methods: []gradcam.Method{tc.method}, Classes: []int{243, 282}})
			mass, err := Mass(res, tc.method, objs)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("bull mastiff: dog %.2f cat %.2f; tiger cat: dog %.2f cat %.2f", mass[0][0], mass[0][1], mass[1][0], mass[1][1])
			for i := range 2 {
				own, other := mass[i][i], mass[i][1-i]
				if own < tc.own || own-other < tc.ahead[i] {
					t.Errorf("%s: %.0f%% in its own box, %.0f%% in the other's; want >= %.0f%% and %.0f points ahead",
						objs[i].Label, 100*own, 100*other, 100*tc.own, 100*tc.ahead[i])
				}
			}
		})
	}
}

// TestFigure3 measures the counterfactual explanations of Figure 3 on SqueezeNet: the regions
// whose removal would raise the class's score lie on the other animal. Measured: bull mastiff's
// counterfactual 48% in the cat's box, 16% in the dog's. Asserted: in the other object's box >=
// 35% and ahead of its own by 20 points. (Tiger cat's counterfactual, 7% / 15%, spreads over the
// background and is not asserted; the notebook says so.)
func TestFigure3(t *testing.T) {
	e, objs, _ := catDog(t, load(t, "squeezenet1_0"))
	res := explain(t, e, testref.Image("cat_dog.png"), gradcam.Request{Methods: []gradcam.Method{gradcam.Counterfactual}, Classes: []int{243}})
	mass, err := Mass(res, gradcam.Counterfactual, objs)
	if err != nil {
		t.Fatal(err)
	}
	if dog, cat := mass[0][0], mass[0][1]; cat < 0.35 || cat-dog < 0.2 {
		t.Errorf("bull mastiff's counterfactual: %.0f%% in the cat's box, %.0f%% in the dog's; want the cat's >= 35%% and 20 points ahead", 100*cat, 100*dog)
	}
}

// TestAdversarialKeepsTheEvidence is Section 6.3: SqueezeNet is attacked towards "airliner"
// (404) under 8/255; read back from its PNG the image is an airliner with high confidence, within
// the budget, yet Grad-CAM for bull mastiff and tiger cat still finds each in its box. Measured:
// airliner p = 0.996 after 5 steps of 0.5/255, L∞ 3/255; bull mastiff 67% in the
// dog's box (70% on the clean image), 11% in the cat's; tiger cat 66% in the cat's (62%), 38% in
// the dog's. Asserted: target p >= 0.9 after the PNG round trip, L∞ <= 8/255, and each original
// class's Grad-CAM with >= 50% of its mass in its own box, 15 points ahead of the other's.
func TestAdversarialKeepsTheEvidence(t *testing.T) {
	m := load(t, "squeezenet1_0")
	e, objs, tr := catDog(t, m)
	img, err := preprocess.LoadImage(testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	adv, err := attack.Targeted(e, *tr, tr.Fit(img), 404, attack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, adv.Image); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "adversarial.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := preprocess.LoadImage(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := tr.Normalize(back)
	if err != nil {
		t.Fatal(err)
	}
	top, err := m.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d steps: %s p=%.4f, L∞ %g/255", adv.Steps, top[0][0].Label, top[0][0].Probability, adv.LInf*255)
	if top[0][0].Class != 404 || top[0][0].Probability < 0.9 {
		t.Errorf("the PNG read back is %d (p=%.3f), want 404 with p >= 0.9", top[0][0].Class, top[0][0].Probability)
	}
	if adv.LInf > 8.0/255+1e-9 {
		t.Errorf("L∞ %g > 8/255", adv.LInf)
	}
	res, err := e.Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{243, 282}})
	if err != nil {
		t.Fatal(err)
	}
	mass, err := Mass(res, gradcam.GradCAM, objs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("on the adversarial image: bull mastiff dog %.2f cat %.2f; tiger cat dog %.2f cat %.2f", mass[0][0], mass[0][1], mass[1][0], mass[1][1])
	for i := range 2 {
		if own, other := mass[i][i], mass[i][1-i]; own < 0.5 || own-other < 0.15 {
			t.Errorf("%s on the adversarial image: %.0f%% in its box, %.0f%% in the other's", objs[i].Label, 100*own, 100*other)
		}
	}
}

// TestGradCAMByHand: Grad-CAM computed by hand from the layer's activations and gradients
// (LayerGradient) — alpha = the spatial mean of the gradients, the alpha-weighted sum of the
// activation maps, ReLU — equals the library's map at the layer's resolution to 1e-5 of its
// largest value, as notebook 01 shows; without the ReLU the map has negative regions.
func TestGradCAMByHand(t *testing.T) {
	m := load(t, "squeezenet1_0")
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	e := gradcam.New(m)
	layer := m.DefaultLayer()
	acts, grads, shape, err := e.LayerGradient(x, layer, gradcam.Logit(), []int{243})
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := shape[1], shape[2], shape[3]
	byHand := make([]float32, h*w)
	negative := 0
	for k := range c {
		var alpha float64
		for p := range h * w {
			alpha += float64(grads[k*h*w+p])
		}
		alpha /= float64(h * w)
		for p := range h * w {
			byHand[p] += float32(alpha) * acts[k*h*w+p]
		}
	}
	for p, v := range byHand {
		if v < 0 {
			negative++
			byHand[p] = 0 // the ReLU
		}
	}
	res, err := e.Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{243}})
	if err != nil {
		t.Fatal(err)
	}
	lib := res[0].Maps[gradcam.GradCAM].LowRes
	if e := testref.MaxRelErr(byHand, lib); !(e <= 1e-5) {
		t.Errorf("Grad-CAM by hand differs from the library's by %.3g of its largest value", e)
	}
	if negative == 0 || negative == len(byHand) || math.IsNaN(float64(byHand[0])) {
		t.Errorf("%d of %d positions negative before the ReLU: the 'why the ReLU' cell would show nothing", negative, len(byHand))
	}
}

// debianPhoto explains a photo Debian ships (docs/boxes/debian-photos.csv) with SqueezeNet's top
// class and returns the explanation and the objects.
func debianPhoto(t *testing.T, m *models.Model, photo string) (*gradcam.Explanation, []Object) {
	t.Helper()
	tr, err := m.Transform(preprocess.Stretch)
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/usr/lib/python3/dist-packages"
	objs, err := ObjectsIn(filepath.Join(testref.Root(), "docs", "boxes", "debian-photos.csv"), dir, photo, m, tr)
	if err != nil {
		t.Fatal(err)
	}
	res := explain(t, gradcam.New(m), filepath.Join(dir, photo), gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}})
	return res[0], Distinct(objs)
}

// TestFailureModes measures two of notebook 12's failure modes (Section 6.2) on SqueezeNet:
// rocket.jpg is a "pole" (p = 0.23) whose map lies on the launch towers, 9% of it in the rocket's
// box; flower.jpg is a "brain coral" (p = 0.23) whose map lies on the dahlia, 63% in its box (no
// ImageNet class for it). Asserted: the classes, and rocket < 20%, flower > 50%.
func TestFailureModes(t *testing.T) {
	m := load(t, "squeezenet1_0")
	for _, tc := range []struct {
		photo  string
		class  int
		lo, hi float64
		label  string
	}{
		{"skimage/data/rocket.jpg", 733, 0, 0.2, "pole"},
		{"sklearn/datasets/images/flower.jpg", 109, 0.5, 1, "brain coral"},
	} {
		ex, objs := debianPhoto(t, m, tc.photo)
		mass, err := Mass([]*gradcam.Explanation{ex}, gradcam.GradCAM, objs)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Class != tc.class || mass[0][0] < tc.lo || mass[0][0] > tc.hi {
			t.Errorf("%s: predicted %d %s, %.0f%% of its map in the %s box; want %d (%s) with %.0f-%.0f%%", tc.photo, ex.Class, ex.Label,
				100*mass[0][0], objs[0].Label, tc.class, tc.label, 100*tc.lo, 100*tc.hi)
		}
	}
}
