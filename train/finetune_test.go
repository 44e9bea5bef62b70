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
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
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
	set, err := data.ImageFolder(filepath.Join(dir, "data"), preprocess.ImageNet(preprocess.Stretch))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(set.Classes, classes) || set.Len() != 20 {
		t.Fatalf("ImageFolder: classes %v, %d images", set.Classes, set.Len())
	}
	pretrained, err := checkpoint.Read(resnet18Weights(t))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := zoo.Lookup("resnet18")
	net, err := a.WithOutputs(10, classes)
	if err != nil {
		t.Fatal(err)
	}
	m, fresh, err := models.Adapt(net, pretrained, 1)
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
	// The frozen backbone runs as at inference: a random network's batch norms, on running
	// statistics (0, 1), do not normalize its features, whose scale calls for Adam's default 1e-3.
	if _, err := Fit(m, set, Options{Epochs: 6, BatchSize: 10, LearningRate: 1e-3, Seed: 1, Trainable: Only("fc")}); err != nil {
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
	re, err := models.LoadFile("resnet18", path)
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
	if err := os.WriteFile(checkpoint.LabelsPath(path), []byte(strings.Join(classes[:9], "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	err = testref.NoPanic(t, func() error { _, err := models.LoadFile("resnet18", path); return err })
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
			err := testref.NoPanic(t, func() error { _, err := data.ImageFolder(dir, preprocess.ImageNet(preprocess.Stretch)); return err })
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
}

// TestFinetuneVGGGAP is the CAM paper's recipe: VGG-16's features from a checkpoint under a new
// conv + GAP + linear head (zoo.VGGGAP), trained with the features frozen. The head is new,
// the features are VGG-16's, CAM applies, and the loss decreases. (64x64 images keep it fast:
// the network takes any size.)
func TestFinetuneVGGGAP(t *testing.T) {
	ref := testref.Ensure(t, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	vgg, err := checkpoint.Read(filepath.Join(ref, "vgg16.pth"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	classes := testref.ImageFolder(t, dir, 4, 3, 64)
	set, err := data.ImageFolder(dir, preprocess.Transform{Height: 64, Width: 64, Channels: 3, Mean: preprocess.ImageNetMean(), Std: preprocess.ImageNetStd()})
	if err != nil {
		t.Fatal(err)
	}
	net := &nn.Network{Name: "vgg16-gap", Input: []int{3, 224, 224}, Labels: classes, Mean: preprocess.ImageNetMean(), Std: preprocess.ImageNetStd(),
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node { return zoo.VGGGAP(b, x, zoo.VGGConfig(16), len(classes)) }}
	m, fresh, err := models.Adapt(net, vgg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fresh, []string{"gap.conv.weight", "gap.conv.bias", "fc.weight", "fc.bias"}) {
		t.Errorf("initialized %v, want the new head only", fresh)
	}
	if m.CAM == nil || m.CAM.Layer != "gap.relu" || m.DefaultLayer() != "gap.relu" {
		t.Errorf("CAM head %+v, default layer %s: want CAM at gap.relu", m.CAM, m.DefaultLayer())
	}
	before, _, err := Evaluate(m, set, 12)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fit(m, set, Options{Epochs: 4, BatchSize: 6, LearningRate: 1e-3, Seed: 1, Trainable: Only("gap", "fc")}); err != nil {
		t.Fatal(err)
	}
	after, acc, err := Evaluate(m, set, 12)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.3f -> %.3f, training accuracy %.2f", before, after, acc)
	if !(after < before) {
		t.Errorf("loss %.3f -> %.3f: training did not lower it", before, after)
	}
	w, _ := m.Param("features.28.weight")
	if !slices.Equal(w.Data, vgg["features.28.weight"].Data) {
		t.Error("VGG-16's frozen conv5_3 changed")
	}
}
