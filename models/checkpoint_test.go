package models

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestCheckpointFormatsAgree reads the same resnet18 weights from the zip and legacy .pth
// formats and from .safetensors, and requires identical tensors.
func TestCheckpointFormatsAgree(t *testing.T) {
	ref := reference(t)
	zip, err := checkpoint.Read(filepath.Join(ref, "resnet18.pth"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := lookup("resnet18").Spec()
	if err != nil {
		t.Fatal(err)
	}
	params := spec.Params
	for _, file := range []string{"resnet18_legacy.pth", "resnet18.safetensors"} {
		t.Run(file, func(t *testing.T) {
			other, err := checkpoint.Read(filepath.Join(ref, file))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range params {
				a, b := zip[p.Key], other[p.Key]
				if a == nil || b == nil {
					t.Fatalf("%s: missing in zip=%v, in %s=%v", p.Key, a == nil, file, b == nil)
				}
				if !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.Data, b.Data) {
					t.Fatalf("%s differs between resnet18.pth and %s", p.Key, file)
				}
			}
			if _, err := NewModel(lookup("resnet18").Network, other, file); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBadInputErrors checks that broken checkpoints, a checkpoint of another architecture and
// files that are not images give one-line errors that name the problem.
func TestBadInputErrors(t *testing.T) {
	ref := reference(t)
	dir := t.TempDir()
	truncate := func(src, name string, frac float64) string {
		data, err := os.ReadFile(filepath.Join(ref, src))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data[:int(float64(len(data))*frac)], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notImage := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(notImage, []byte("this is not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notCheckpoint := filepath.Join(dir, "text.pth")
	if err := os.WriteFile(notCheckpoint, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want []string // substrings of the error
	}{
		{"truncated zip .pth", func() error {
			_, err := LoadFile("resnet18", truncate("resnet18.pth", "r18.pth", 0.5))
			return err
		}, []string{"truncated or corrupt"}},
		{"truncated legacy .pth", func() error {
			_, err := LoadFile("resnet18", truncate("resnet18_legacy.pth", "r18_legacy.pth", 0.5))
			return err
		}, []string{"truncated"}},
		{"truncated safetensors", func() error {
			_, err := LoadFile("resnet18", truncate("resnet18.safetensors", "r18.safetensors", 0.5))
			return err
		}, []string{"truncated"}},
		{"another architecture", func() error {
			_, err := LoadFile("resnet34", filepath.Join(ref, "resnet18.pth"))
			return err
		}, []string{"not a resnet34 checkpoint", "missing keys", "layer1.2.conv1.weight", "looks like a resnet18 checkpoint"}},
		{"shape mismatch", func() error {
			_, err := LoadFile("squeezenet1_1", filepath.Join(ref, "squeezenet1_0.pth"))
			return err
		}, []string{"not a squeezenet1_1 checkpoint", "shape mismatches", "features.0.weight is [96 3 7 7]", "looks like a squeezenet1_0"}},
		{"not a checkpoint", func() error {
			_, err := LoadFile("resnet18", notCheckpoint)
			return err
		}, []string{"not a PyTorch checkpoint"}},
		{"a folder", func() error {
			_, err := LoadFile("resnet18", dir)
			return err
		}, []string{"is a folder, not a file"}},
		{"safetensors with a negative shape", func() error {
			p := filepath.Join(dir, "neg.safetensors")
			writeSafetensorsHeader(t, p, `{"w": {"dtype": "F32", "shape": [-4, 1], "data_offsets": [0, 16]}}`, 16)
			_, err := checkpoint.Read(p)
			return err
		}, []string{"tensor w has shape [-4 1]"}},
		{"safetensors with a huge shape", func() error {
			p := filepath.Join(dir, "huge.safetensors")
			writeSafetensorsHeader(t, p, `{"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}}`, 16)
			_, err := checkpoint.Read(p)
			return err
		}, []string{"larger than the"}},
		{"fine-tuned checkpoint with labels of another head", func() error {
			p := filepath.Join(dir, "ft.safetensors")
			m, err := New(lookup("resnet18").Network, 1)
			if err != nil {
				return err
			}
			if err := m.Save(p); err != nil {
				return err
			}
			if err := os.WriteFile(checkpoint.LabelsPath(p), []byte("a\nb\n"), 0o644); err != nil {
				return err
			}
			_, err = LoadFile("resnet18", p)
			return err
		}, []string{"has 1000 outputs but its labels", "name 2 classes"}},
		{"missing weights file", func() error {
			_, err := LoadFile("resnet18", filepath.Join(dir, "nope.pth"))
			return err
		}, []string{"no such file"}},
		{"unknown model", func() error {
			_, err := LoadFile("resnet9000", filepath.Join(ref, "resnet18.pth"))
			return err
		}, []string{`unknown model "resnet9000"`, "resnet50"}},
		{"not an image", func() error {
			_, _, err := preprocess.Preprocess(preprocess.Stretch, notImage)
			return err
		}, []string{"not a PNG or JPEG image"}},
		{"image declaring a huge size", func() error {
			// A valid PNG signature and IHDR chunk declaring 100000 x 100000 pixels, and no data.
			ihdr := []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0}
			chunk := append([]byte("IHDR"), ihdr...)
			png := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
			png = binary.BigEndian.AppendUint32(append(png, chunk...), crc32.ChecksumIEEE(chunk))
			p := filepath.Join(dir, "huge.png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				return err
			}
			_, _, err := preprocess.Preprocess(preprocess.Stretch, p)
			return err
		}, []string{"declares a 100000x100000 image, too large"}},
		{"missing image", func() error {
			_, _, err := preprocess.Preprocess(preprocess.Stretch, filepath.Join(dir, "nope.png"))
			return err
		}, []string{"no such file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := testref.NoPanic(t, tc.run)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			t.Log(msg)
		})
	}
}

// TestParamAndActivations: Param gives back the checkpoint's tensors in torchvision's layout, and
// Activations the forward's taps.
func TestParamAndActivations(t *testing.T) {
	ref := reference(t)
	w, err := checkpoint.Read(filepath.Join(ref, "mobilenet_v2.pth"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(lookup("mobilenet_v2").Network, w, "mobilenet_v2.pth")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"features.0.0.weight", "features.2.conv.1.0.weight", "classifier.1.weight"} {
		got, err := m.Param(key)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape, w[key].Shape) || !slices.Equal(got.Data, w[key].Data) {
			t.Errorf("%s differs from the checkpoint", key)
		}
	}
	if _, err := m.Param("features.99.weight"); err == nil {
		t.Error("no error for an unknown parameter")
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	acts, err := m.Activations(x, "features.0", "features.18")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(acts["features.18"].Shape, []int{1, 1280, 7, 7}) || !slices.Equal(acts["features.0"].Shape, []int{1, 32, 112, 112}) {
		t.Errorf("activation shapes %v %v", acts["features.0"].Shape, acts["features.18"].Shape)
	}
	if _, err := m.Activations(x, "features.99"); err == nil || !strings.Contains(err.Error(), `unknown layer "features.99"`) {
		t.Errorf("unknown layer: %v", err)
	}
}

// writeSafetensorsHeader writes a .safetensors file with the given JSON header and n zero bytes
// of data.
func writeSafetensorsHeader(t *testing.T, path, header string, n int) {
	t.Helper()
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(append(b, header...), make([]byte, n)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestActivationsReuseTheirGraph: a second Activations call with the same layers and batch shape
// builds no graph (the batch loops of features and visualize call it once per batch).
func TestActivationsReuseTheirGraph(t *testing.T) {
	m, err := New(testnets.CNN2D, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 2*3*96*160), 2, 3, 96, 160)
	layers := m.ExplainableLayers()[:2]
	if _, err := m.Activations(x, layers...); err != nil {
		t.Fatal(err)
	}
	builds := m.ForwardBuilds()
	for range 3 {
		if _, err := m.Activations(x, layers...); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.ForwardBuilds() - builds; got != 0 {
		t.Errorf("3 more Activations calls built the network %d times, want 0", got)
	}
}
