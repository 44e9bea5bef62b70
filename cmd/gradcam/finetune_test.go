package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models/checkpoint"
)

// TestFinetuneCommand runs the command on a generated ImageFolder of 3 classes (a
// random-weight ResNet-18 checkpoint stands in for the ImageNet weights), then predict and
// explain with the checkpoint: labels are the folder names, classes beyond the new head are
// refused.
func TestFinetuneCommand(t *testing.T) {
	ref := testref.Ensure(t, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	dir := t.TempDir()
	classes := testref.ImageFolder(t, filepath.Join(dir, "data"), 3, 2, 48)
	ckpt := filepath.Join(dir, "ft.safetensors")
	var out, errOut bytes.Buffer
	err := run([]string{"finetune", "--model", "resnet18", "--weights", filepath.Join(ref, "resnet18.pth"),
		"--data", filepath.Join(dir, "data"), "--epochs", "2", "--batch-size", "6", "--lr", "0.01", "--out", ckpt}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"new head fc.weight, fc.bias (3 classes: class0, class1, class2)", "trained 2 steps", "saved " + ckpt} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not mention %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "loss") {
		t.Errorf("no progress bar with the loss on stderr:\n%s", errOut.String())
	}
	labels, err := checkpoint.ReadLabels(checkpoint.LabelsPath(ckpt))
	if err != nil || strings.Join(labels, ",") != strings.Join(classes, ",") {
		t.Errorf("labels beside the checkpoint: %v, %v", labels, err)
	}

	img := filepath.Join(dir, "data", "class1", "img0.png")
	out.Reset()
	if err := run([]string{"predict", "--model", "resnet18", "--weights", ckpt, "--image", img, "--top", "3"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("predict printed %d lines, want 3 (the head's 3 classes):\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if f := strings.Split(l, "\t"); len(f) != 3 || !strings.HasPrefix(f[1], "class") {
			t.Errorf("predict line %q does not name a folder class", l)
		}
	}
	expl := filepath.Join(dir, "explain")
	out.Reset()
	if err := run([]string{"explain", "--model", "resnet18", "--weights", ckpt, "--image", img, "--class", "2",
		"--method", "gradcam,cam", "--out", expl}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "class 2 (class2)") {
		t.Errorf("explain output: %s", out.String())
	}
	for _, f := range []string{"gradcam.npy", "cam.npy", "figure.png"} {
		if _, err := os.Stat(filepath.Join(expl, f)); err != nil {
			t.Error(err)
		}
	}
	err = run([]string{"explain", "--model", "resnet18", "--weights", ckpt, "--image", img, "--class", "3",
		"--method", "gradcam", "--out", expl}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--class 3 out of range: resnet18 has 3 outputs, 0..2") {
		t.Errorf("class beyond the head: %v", err)
	}
}

// TestFinetuneErrors: usage errors before any training.
func TestFinetuneErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "resnet18", "--data", dir}, "--model, --data and --out are required"},
		{[]string{"--model", "resnet18", "--data", dir, "--out", filepath.Join(dir, "x.pth")}, "written as .safetensors"},
		{[]string{"--model", "resnet18", "--data", dir, "--out", filepath.Join(dir, "no", "x.safetensors")}, "its folder does not exist"},
		{[]string{"--model", "lenet", "--data", dir, "--out", filepath.Join(dir, "x.safetensors")}, `unknown model "lenet"`},
		{[]string{"--model", "resnet18", "--data", dir, "--out", filepath.Join(dir, "x.safetensors")}, "no class subfolders"},
	} {
		var out, errOut bytes.Buffer
		err := run(append([]string{"finetune"}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("finetune %v: %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed runs left files: %v", entries)
	}
}
