package embedded

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/store"
	"github.com/gradcam-go/gradcam/preprocess"
)

// TestEmbeddedMatchesFullPrecision: the half-precision copy predicts what the float32
// checkpoint in ../shared/weights predicts: the same top-3 classes on the four test images,
// probabilities within 0.02.
func TestEmbeddedMatchesFullPrecision(t *testing.T) {
	m, err := Model()
	if err != nil {
		t.Fatal(err)
	}
	full, err := models.LoadFile(Arch, filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, img := range []string{"cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png"} {
		paths = append(paths, testref.Image(img))
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, paths...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	want, err := full.Predict(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for r := range want[i] {
			g, w := got[i][r], want[i][r]
			if g.Class != w.Class || math.Abs(g.Probability-w.Probability) > 0.02 {
				t.Errorf("%s rank %d: embedded %d %.3f, float32 %d %.3f", filepath.Base(paths[i]), r+1, g.Class, g.Probability, w.Class, w.Probability)
			}
		}
	}
}

// TestLoadFallsBackOffline: with no weights on disk and downloads failing (a closed port), the
// default model falls back to the embedded one with one line saying so; a model asked for by
// name does not.
func TestLoadFallsBackOffline(t *testing.T) {
	offline := models.FromStore(&store.Store{CacheDir: t.TempDir(), Mirror: "http://127.0.0.1:1/"})
	var msg bytes.Buffer
	m, err := Load("", &msg, offline)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != Arch || strings.Count(msg.String(), "\n") != 1 || !strings.Contains(msg.String(), "vgg16's weights are not available offline") {
		t.Errorf("fell back to %s, saying %q", m.Name, msg.String())
	}
	if _, err := Load("resnet50", &msg, offline); err == nil || !strings.Contains(err.Error(), "no weights for resnet50") {
		t.Errorf("an explicit model fell back or gave %v", err)
	}
}
