package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestPredictRealWeights runs "gradcam predict" with the real ImageNet weights in
// ../shared/weights (found through GRADCAM_WEIGHTS) and requires PyTorch's top-3 classes and
// probabilities to 2 decimals, and the values the weights' README lists.
func TestPredictRealWeights(t *testing.T) {
	ref := testref.Ensure(t, "models/testdata/reference_real.py", "models-real", testref.Shared())
	var torchTop map[string]map[string][][2]float64
	data, err := os.ReadFile(filepath.Join(ref, "top3.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &torchTop); err != nil {
		t.Fatal(err)
	}
	// The weights README's list (class, probability).
	readme := map[string]map[string][][2]float64{
		"mobilenet_v2": {"cat_dog.png": {{242, 0.47}, {243, 0.46}}, "snake.png": {{56, 0.86}},
			"spider.png": {{73, 0.49}, {74, 0.16}}, "egyptian_cat.png": {{285, 0.74}}},
		"squeezenet1_0": {"cat_dog.png": {{243, 0.89}, {242, 0.05}}, "snake.png": {{56, 0.99}},
			"spider.png": {{74, 0.36}}, "egyptian_cat.png": {{285, 0.87}}},
	}
	t.Setenv("GRADCAM_WEIGHTS", filepath.Join(testref.Shared(), "weights"))
	t.Setenv("GRADCAM_CACHE", t.TempDir()) // nothing may be downloaded
	for _, model := range []string{"mobilenet_v2", "squeezenet1_0"} {
		for _, img := range []string{"cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png"} {
			t.Run(model+"/"+img, func(t *testing.T) {
				var out, errOut bytes.Buffer
				err := run([]string{"predict", "--model", model, "--image", testref.Image(img), "--top", "3"}, &out, &errOut)
				if err != nil {
					t.Fatalf("%v\n%s", err, errOut.String())
				}
				got := parsePredict(t, out.String())
				if len(got) != 3 {
					t.Fatalf("want 3 lines, got:\n%s", out.String())
				}
				for i, want := range torchTop[model][img] {
					if got[i][0] != want[0] || math.Abs(got[i][1]-want[1]) >= 0.005 {
						t.Errorf("rank %d: got class %v p=%.4f, PyTorch class %v p=%.4f", i+1, got[i][0], got[i][1], want[0], want[1])
					}
				}
				for i, want := range readme[model][img] {
					if got[i][0] != want[0] || math.Abs(got[i][1]-want[1]) > 0.005+1e-9 {
						t.Errorf("rank %d: got class %v p=%.2f, README says class %v p=%.2f", i+1, got[i][0], got[i][1], want[0], want[1])
					}
				}
			})
		}
	}
}

// parsePredict reads INDEX<TAB>LABEL<TAB>PROBABILITY lines.
func parsePredict(t *testing.T, out string) [][2]float64 {
	t.Helper()
	var rows [][2]float64
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[1] == "" {
			t.Fatalf("bad line %q", line)
		}
		c, err1 := strconv.Atoi(f[0])
		p, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", line)
		}
		rows = append(rows, [2]float64{float64(c), p})
	}
	return rows
}

// TestCommandErrors checks usage errors and bad input through the command.
func TestCommandErrors(t *testing.T) {
	t.Setenv("GRADCAM_WEIGHTS", filepath.Join(testref.Shared(), "weights"))
	t.Setenv("GRADCAM_CACHE", t.TempDir())
	notImage := filepath.Join(t.TempDir(), "x.jpg")
	os.WriteFile(notImage, []byte("not a jpeg"), 0o644)
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{nil, true, "usage"},
		{[]string{"explode"}, true, `unknown command "explode"`},
		{[]string{"predict", "--model", "resnet18"}, true, "--image is required"},
		{[]string{"predict", "--image", testref.Image("cat_dog.png"), "--weights", "x.pth"}, true, "a checkpoint needs the architecture it is for"},
		{[]string{"predict", "--model", "lenet", "--image", testref.Image("cat_dog.png")}, true, `unknown model "lenet"`},
		{[]string{"predict", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"), "--top", "0"}, true, "--top must be"},
		{[]string{"predict", "--model", "mobilenet_v2", "--image", notImage}, false, "not a PNG or JPEG image"},
		{[]string{"predict", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"),
			"--weights", filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth")}, false, "looks like a squeezenet1_0 checkpoint"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			var ue usageError
			if isUsage := asUsage(err, &ue); isUsage != tc.usage {
				t.Errorf("usage error = %v, want %v (%v)", isUsage, tc.usage, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
