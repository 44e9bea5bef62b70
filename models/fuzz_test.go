package models

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/testnets"
)

// Fuzz targets for every reader of outside input in this package. Their seeds are real files:
// small checkpoints in all three formats (testnets/reference.py writes them with
// PyTorch) and the shared test images. CI runs each for a bounded time (.ci/run); a crasher
// found goes to testdata/fuzz/NAME and stays as a regression case.

func seedFiles(f *testing.F, paths ...string) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// writeTemp writes data to a file named name in a fresh temporary folder.
func writeTemp(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzReadCheckpoint: no file makes the checkpoint readers (zip and legacy .pth, safetensors)
// panic or allocate beyond what the file could hold; what they accept has consistent tensors.
func FuzzReadCheckpoint(f *testing.F) {
	ref := filepath.Join(testnets.Reference(f), "regression")
	seedFiles(f, filepath.Join(ref, "weights.safetensors"), filepath.Join(ref, "weights.pth"), filepath.Join(ref, "weights_legacy.pth"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeTemp(t, "ckpt", data)
		var w map[string]*checkpoint.Tensor
		done := make(chan struct{})
		go func() {
			defer close(done)
			testref.NoPanic(t, func() error {
				var err error
				w, err = checkpoint.Read(p)
				return err
			})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("reading a %d-byte file takes more than 5 s", len(data))
		}
		for k, v := range w {
			if len(v.Data) != shapeSize(v.Shape) {
				t.Errorf("%s: %d values for shape %v", k, len(v.Data), v.Shape)
			}
		}
	})
}

// FuzzPreprocess: no file makes image decoding and preprocessing panic, or decode a picture
// far larger than the file could describe.
func FuzzPreprocess(f *testing.F) {
	seedFiles(f, testref.Image("snake.png"), testref.Image("horses.jpg"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeTemp(t, "img", data)
		testref.NoPanic(t, func() error {
			x, _, err := preprocess.Preprocess(preprocess.Stretch, p)
			if err == nil && x.Shape().Dimensions[2] != preprocess.InputSize {
				t.Errorf("input %v", x.Shape())
			}
			return err
		})
	})
}

// FuzzReadLabels: any labels file is read without panicking, one label per line.
func FuzzReadLabels(f *testing.F) {
	f.Add([]byte("tench\ngoldfish\n"))
	f.Add([]byte("a\r\nb"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := writeTemp(t, "labels.txt", data)
		testref.NoPanic(t, func() error { _, err := checkpoint.ReadLabels(p); return err })
	})
}
