package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
)

// resnet18Weights is the random-weight torchvision ResNet-18 checkpoint of the models' reference
// (the stand-in for ImageNet weights, which cannot be downloaded here).
func resnet18Weights(t testing.TB) string {
	ref := testref.Ensure(t, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	return filepath.Join(ref, "resnet18.pth")
}

// TestFinetuneResNet18: ResNet-18 with a new 10-output head, backbone frozen, trained a few
// steps on a generated ImageFolder: the loss decreases, the backbone does not move, and the
// saved checkpoint reloads (with its labels) and predicts exactly the same.
func TestFinetuneResNet18(t *testing.T) {
	dir := t.TempDir()
	classes := testref.ImageFolder(t, filepath.Join(dir, "data"), 10, 2, 64)
	set, err := data.ImageFolder(filepath.Join(dir, "data"), models.ImageNet(models.Stretch))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.Classes, classes) || set.Len() != 20 {
		t.Fatalf("ImageFolder: classes %v, %d images", set.Classes, set.Len())
	}
	pretrained, err := models.ReadCheckpoint(resnet18Weights(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := models.LookupArch("resnet18")
	net, err := a.WithOutputs(10, classes)
	if err != nil {
		t.Fatal(err)
	}
	m, fresh, err := models.Adapt(net, pretrained, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fresh, []string{"fc.weight", "fc.bias"}) {
		t.Errorf("initialized %v, want only the new head fc.weight, fc.bias", fresh)
	}
	before, _, err := Evaluate(m, set, 20)
	if err != nil {
		t.Fatal(err)
	}
	backbone, _ := m.Param("layer4.1.conv2.weight")
	if _, err := Fit(m, set, Options{Epochs: 6, BatchSize: 10, LearningRate: 0.01, Seed: 1, Trainable: Only("fc")}); err != nil {
		t.Fatal(err)
	}
	after, acc, err := Evaluate(m, set, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f, training accuracy %.2f", before, after, acc)
	if !(after < 0.7*before) {
		t.Errorf("loss %.3f -> %.3f: fine-tuning did not lower it by 30%%", before, after)
	}
	if moved, _ := m.Param("layer4.1.conv2.weight"); !slices.Equal(moved.Data, backbone.Data) {
		t.Error("the frozen backbone changed")
	}
	path := filepath.Join(dir, "ft.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	re, err := models.LoadFile("resnet18", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if re.Outputs != 10 || !slices.Equal(re.Labels, classes) {
		t.Errorf("reloaded: %d outputs, labels %v", re.Outputs, re.Labels)
	}
	x, _ := set.Batch([]int{0, 5, 19})
	want, err := m.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := re.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("image %d: reloaded logits %v, trained model's %v", i, got[i], want[i])
		}
	}

	// A labels file that does not match the head is refused, naming both.
	if err := os.WriteFile(models.LabelsPath(path), []byte(strings.Join(classes[:9], "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	err = testref.NoPanic(t, func() error { _, err := models.LoadFile("resnet18", path, nil); return err })
	if err == nil || !strings.Contains(err.Error(), "has 10 outputs but its labels") {
		t.Errorf("mismatched labels: %v", err)
	}
}

// TestImageFolderErrors: an empty class folder, a file that is not an image, a folder without
// class folders: one-line errors naming the problem.
func TestImageFolderErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"empty class", func(dir string) { os.MkdirAll(filepath.Join(dir, "cats"), 0o755) }, "cats has no images"},
		{"not an image", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "cats"), 0o755)
			os.WriteFile(filepath.Join(dir, "cats", "notes.txt"), []byte("hello"), 0o644)
		}, "notes.txt is not a PNG or JPEG image"},
		{"no classes", func(dir string) { os.WriteFile(filepath.Join(dir, "a.png"), []byte("x"), 0o644) }, "no class subfolders"},
		{"missing", func(dir string) { os.RemoveAll(dir) }, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			err := testref.NoPanic(t, func() error { _, err := data.ImageFolder(dir, models.ImageNet(models.Stretch)); return err })
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
}
