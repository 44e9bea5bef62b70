package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// Regions of cat_dog.png (224x224): the bull mastiff sits at the top, the tiger cat lies below.
var (
	dogBox = image.Rect(80, 10, 165, 120)
	catBox = image.Rect(40, 150, 200, 224)
)

// TestExplainCommand runs the command for the dog (243) and the cat (282) with the real
// MobileNetV2 weights, checks the files, and that each class's Grad-CAM is hotter on its animal.
func TestExplainCommand(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", filepath.Join(testref.Shared(), "weights"))
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	for _, tc := range []struct {
		class     string
		hot, cold image.Rectangle
	}{{"243", dogBox, catBox}, {"282", catBox, dogBox}} {
		t.Run(tc.class, func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			err := run([]string{"explain", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"),
				"--class", tc.class, "--method", "gradcam,guided-gradcam", "--out", dir}, &out, &errOut)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			for _, f := range []string{"gradcam.npy", "gradcam_lowres.npy", "gradcam.png", "guided-gradcam.npy", "guided-gradcam.png", "figure.png"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}
			for f, shape := range map[string][]int{"gradcam.npy": {224, 224}, "gradcam_lowres.npy": {7, 7}, "guided-gradcam.npy": {3, 224, 224}} {
				if _, s := testref.ReadNPY(t, filepath.Join(dir, f)); !slices.Equal(s, shape) {
					t.Errorf("%s has shape %v, want %v", f, s, shape)
				}
			}
			pf, err := os.Open(filepath.Join(dir, "gradcam.png"))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			if img, err := png.Decode(pf); err != nil || img.Bounds().Dx() != 224 {
				t.Errorf("gradcam.png: %v", err)
			}
			m, _ := testref.ReadNPY(t, filepath.Join(dir, "gradcam.npy"))
			hot, cold := meanIn(m, tc.hot), meanIn(m, tc.cold)
			if !(hot > 2*cold) {
				t.Errorf("class %s: mean Grad-CAM %.3f on its animal, %.3f on the other: not hot where it should be", tc.class, hot, cold)
			}
			t.Logf("class %s: mean Grad-CAM %.3f on its animal, %.3f on the other", tc.class, hot, cold)
			if !strings.Contains(out.String(), "gradcam.png") {
				t.Errorf("output does not list the files: %q", out.String())
			}
		})
	}
}

func meanIn(m []float32, r image.Rectangle) float64 {
	var s float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			s += float64(m[y*224+x])
		}
	}
	return s / float64(r.Dx()*r.Dy())
}

// TestExplainMethodsAndOptions: the newer methods, several layers and the smoothing options
// write their files with the documented shapes (the CAM family without a low-res map when
// layers are averaged), and "gradcam methods" lists every method with a line each.
func TestExplainMethodsAndOptions(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", filepath.Join(testref.Shared(), "weights"))
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"explain", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"), "--class", "243",
		"--method", "gradcam++,eigen-gradcam,fullgrad,smoothgrad,guided-gradcam,rise", "--guided-cam", "gradcam++",
		"--layer", "features.17,features.18", "--aug-smooth", "--eigen-smooth", "--smooth-samples", "2", "--samples", "200",
		"--rise-cell", "7", "--rise-p", "0.4", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	err = run([]string{"explain", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"), "--class", "243",
		"--method", "gradient-shap,lrp-epsilon-gamma-box,lrp-epsilon-plus-flat,deeplift,deeplift-shap,kernel-shap,contrastive-excitation-backprop", "--samples", "3", "--baselines", "3",
		"--superpixels", "20",
		"--lrp-epsilon", "1e-5", "--lrp-gamma", "0.5", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for f, shape := range map[string][]int{"gradcam++.npy": {224, 224}, "eigen-gradcam.npy": {224, 224}, "fullgrad.npy": {224, 224},
		"smoothgrad.npy": {3, 224, 224}, "guided-gradcam.npy": {3, 224, 224}, "rise.npy": {224, 224},
		"gradient-shap.npy": {3, 224, 224}, "lrp-epsilon-gamma-box.npy": {3, 224, 224}, "lrp-epsilon-plus-flat.npy": {3, 224, 224},
		"deeplift.npy": {3, 224, 224}, "deeplift-shap.npy": {3, 224, 224}, "kernel-shap.npy": {224, 224},
		"contrastive-excitation-backprop.npy": {224, 224}} {
		if _, s := testref.ReadNPY(t, filepath.Join(dir, f)); !slices.Equal(s, shape) {
			t.Errorf("%s has shape %v, want %v", f, s, shape)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gradcam++_lowres.npy")); err == nil {
		t.Error("gradcam++_lowres.npy written for two averaged layers")
	}
	m, _ := testref.ReadNPY(t, filepath.Join(dir, "gradcam++.npy"))
	if hot, cold := meanIn(m, dogBox), meanIn(m, catBox); !(hot > cold) {
		t.Errorf("aug-smoothed two-layer Grad-CAM++ of the dog: %.3f on the dog, %.3f on the cat", hot, cold)
	}
	out.Reset()
	if err := run([]string{"methods"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, name := range []string{"scorecam", "ablationcam", "fullgrad", "smoothgrad", "integrated-gradients", "gradcam++", "rise", "gradient-shap"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, name+" ") }) {
			t.Errorf("gradcam methods does not list %s:\n%s", name, out.String())
		}
	}
}

// TestExplainErrors: the command's own checks.
func TestExplainErrors(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", filepath.Join(testref.Shared(), "weights"))
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	img := testref.Image("cat_dog.png")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "gradcam"}, "--out is required"},
		{[]string{"--method", "", "--out", t.TempDir()}, "no method given"},
		{[]string{"--method", "gradcam,lime-x", "--out", t.TempDir()}, `unknown method "lime-x"`},
		{[]string{"--method", "lrp-epsilon", "--lrp-epsilon", "0", "--out", t.TempDir()}, "--lrp-epsilon 0"},
		{[]string{"--method", "lrp-gamma", "--lrp-gamma", "-1", "--out", t.TempDir()}, "--lrp-gamma -1"},
		{[]string{"--method", "gradcam", "--class", "1000", "--out", t.TempDir()}, "--class 1000 out of range"},
		{[]string{"--method", "gradcam", "--layer", "layer4", "--out", t.TempDir()}, `unknown layer "layer4"`},
		{[]string{"--method", "gradcam", "--colormap", "rainbow", "--out", t.TempDir()}, `unknown colormap "rainbow"`},
		{[]string{"--method", "integrated-gradients", "--ig-steps", "0", "--out", t.TempDir()}, "--ig-steps 0"},
		{[]string{"--method", "smoothgrad", "--smooth-std", "-1", "--out", t.TempDir()}, "--smooth-std -1"},
		{[]string{"--method", "smoothgrad", "--smooth-samples", "0", "--out", t.TempDir()}, "--smooth-samples 0"},
		{[]string{"--method", "guided-gradcam", "--guided-cam", "saliency", "--out", t.TempDir()}, `"saliency" is not one`},
		{[]string{"--method", "gradcam", "--layer", "features.18,features.99", "--out", t.TempDir()}, `unknown layer "features.99"`},
		{[]string{"--method", "rise", "--samples", "0", "--out", t.TempDir()}, "--samples 0"},
		{[]string{"--method", "gradient-shap", "--baselines", "0", "--out", t.TempDir()}, "--baselines 0"},
		{[]string{"--method", "rise", "--rise-p", "1.5", "--out", t.TempDir()}, "--rise-p 1.5"},
		{[]string{"--method", "rise", "--rise-cell", "300", "--out", t.TempDir()}, "1 to 224 cells a side"},
		{[]string{"--method", "lime", "--superpixels", "0", "--out", t.TempDir()}, "--superpixels 0"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"explain", "--model", "mobilenet_v2", "--image", img}, tc.args...)
			err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestExplainOffline: with no weights anywhere and downloads failing (a closed port), "gradcam
// explain --image X" without --model explains with the embedded MobileNetV2, saying so in one
// line; its Grad-CAM of the top class (a dog) is hotter on the dog than on the cat.
func TestExplainOffline(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", "")
	t.Setenv("GRADCAM_MODEL", "")
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	t.Setenv("GRADCAM_MODELS_URL", "http://127.0.0.1:1/")
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"explain", "--image", testref.Image("cat_dog.png"), "--out", dir}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "vgg16's weights are not available offline; using the embedded ImageNet MobileNetV2") {
		t.Errorf("no fallback line on stderr: %q", errOut.String())
	}
	if !strings.Contains(out.String(), "class 242 (boxer)") && !strings.Contains(out.String(), "class 243 (bull mastiff)") {
		t.Errorf("top class is not the dog: %s", out.String())
	}
	data, shape := testref.ReadNPY(t, filepath.Join(dir, "gradcam.npy"))
	if !slices.Equal(shape, []int{224, 224}) {
		t.Fatalf("gradcam.npy shape %v", shape)
	}
	if dog, cat := meanIn(data, dogBox), meanIn(data, catBox); !(dog > 2*cat) {
		t.Errorf("mean Grad-CAM on the dog %.3f, on the cat %.3f", dog, cat)
	}
}

// TestEveryCommandTakesTheDemoNetworks: explain and predict resolve models as evaluate does
// (package catalog): the demo networks were a usage error there.
func TestEveryCommandTakesTheDemoNetworks(t *testing.T) {
	for _, args := range [][]string{
		{"explain", "--model", "fashion-gap", "--image", testref.Image("cat_dog.png"), "--method", "gradcam,cam", "--out", t.TempDir()},
		{"predict", "--model", "fashion-fc", "--image", testref.Image("cat_dog.png"), "--top", "2"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
