package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

var squeezeNet = []string{"--model", "squeezenet1_0", "--weights", filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth")}

// TestAttackCommand: a targeted attack on the real SqueezeNet writes an 8-bit PNG that, read back
// as any user would read it, is classified as the target, within the L∞ budget of the original
// (stretched to 224x224), and the float image as .npy.
func TestAttackCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "adv.png")
	var stdout, stderr bytes.Buffer
	args := append(append([]string{"attack"}, squeezeNet...), "--image", testref.Image("cat_dog.png"), "--target", "1", "--out", out)
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "target 1 (goldfish) p=") {
		t.Errorf("output does not give the target's probability:\n%s", stdout.String())
	}
	m, err := models.LoadFile("squeezenet1_0", squeezeNet[3])
	if err != nil {
		t.Fatal(err)
	}
	x, imgs, err := preprocess.Preprocess(preprocess.Stretch, out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := m.Predict(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	if top[0][0].Class != 1 {
		t.Errorf("the PNG read back is classified as %d (p=%.3f), not the target 1", top[0][0].Class, top[0][0].Probability)
	}
	_, orig, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	worst := 0
	for i, v := range imgs[0].Pix {
		if d := int(v) - int(orig[0].Pix[i]); d > worst || -d > worst {
			worst = max(d, -d)
		}
	}
	if worst > 8 {
		t.Errorf("L∞ distance %d/255 exceeds the budget 8/255", worst)
	}
	if worst == 0 {
		t.Error("the adversarial image equals the original")
	}
	v, shape := testref.ReadNPY(t, filepath.Join(dir, "adv.npy"))
	if len(shape) != 3 || shape[0] != 3 || shape[1] != 224 || len(v) != 3*224*224 {
		t.Errorf("adv.npy has shape %v", shape)
	}
}

// TestAttackErrors: bad input gets one line naming the problem and writes nothing; an attack
// that does not reach its target says so and exits non-zero, with nothing written.
func TestAttackErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "adv.png")
	img := testref.Image("cat_dog.png")
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"unknown target", []string{"--image", img, "--target", "1000", "--out", out}, true, "--target 1000 out of range: squeezenet1_0 has 1000 outputs"},
		{"epsilon 0", []string{"--image", img, "--target", "1", "--epsilon", "0", "--out", out}, true, "--epsilon 0: the budget must be in (0, 1]"},
		{"epsilon above 1", []string{"--image", img, "--target", "1", "--epsilon", "2", "--out", out}, true, "--epsilon 2: the budget must be in (0, 1]"},
		{"epsilon not a number", []string{"--image", img, "--target", "1", "--epsilon", "8/x", "--out", out}, true, "not a number or a fraction"},
		{"no steps", []string{"--image", img, "--target", "1", "--steps", "0", "--out", out}, true, "--steps 0: give at least 1"},
		{"unreadable image", []string{"--image", bad, "--target", "1", "--out", out}, false, "bad.png"},
		{"not a PNG", []string{"--image", img, "--target", "1", "--out", filepath.Join(dir, "adv.jpg")}, true, "name it FILE.png"},
		{"target not reached", []string{"--image", img, "--target", "500", "--epsilon", "1/255", "--steps", "1", "--out", out}, false,
			"the attack did not reach target 500 (cliff dwelling) in 1 steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(append(append([]string{"attack"}, squeezeNet...), tc.args...), &stdout, &stderr)
			var ue usageError
			switch {
			case err == nil:
				t.Fatal("no error")
			case !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n"):
				t.Errorf("error %q: want one line containing %q", err, tc.want)
			case asUsage(err, &ue) != tc.usage:
				t.Errorf("usage error %v, want %v", !tc.usage, tc.usage)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files written: %v", entries)
			}
		})
	}
}
