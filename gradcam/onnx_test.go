package gradcam

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/train"
)

// onnxArchs are the ONNX exports of gradcam/testdata/reference_onnx.py; the last two are
// architectures the toolkit does not define.
var onnxArchs = []string{"resnet18", "mobilenet_v2", "efficientnet_b0", "shufflenet_v2_x1_0"}

func onnxReference(t testing.TB) string {
	return testref.Ensure(t, "gradcam/testdata/reference_onnx.py", "onnx-ref", testref.Shared())
}

// TestONNXParityWithPyTorch: torchvision models exported to ONNX with random weights and loaded
// with models.LoadONNX give PyTorch's logits, and Grad-CAM, Guided Grad-CAM and CAM at the
// layer named by its ONNX node output, within the bounds of TestParityWithPyTorch.
func TestONNXParityWithPyTorch(t *testing.T) {
	ref := onnxReference(t)
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range onnxArchs {
		t.Run(arch, func(t *testing.T) {
			m, err := models.LoadONNX(filepath.Join(ref, arch+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(ref, arch, "layer.txt"))
			if err != nil {
				t.Fatal(err)
			}
			layer := strings.TrimSpace(string(b))
			logits, err := m.Logits(x)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := testref.ReadNPY(t, filepath.Join(ref, arch, "logits.npy"))
			if r, e := testref.Pearson(logits[0], want), testref.MaxRelErr(logits[0], want); r < 0.99999 || e > 1e-4 {
				t.Errorf("logits: correlation %.7f, max error %.3g of the largest", r, e)
			}
			if m.CAM == nil {
				t.Fatalf("no CAM head found: %s", m.NoCAM)
			}
			if !strings.Contains(strings.Join(m.CAM.Aliases, " "), layer) {
				t.Errorf("CAM layer %v, PyTorch's module output is %s", m.CAM.Aliases, layer)
			}
			methods := []Method{GradCAM, GuidedGradCAM, CAM}
			exps, err := New(m).Explain(x, Request{Methods: methods, Classes: []int{243, 282}, Layers: []string{layer}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exps {
				for _, method := range methods {
					for _, a := range arraysOf(ex.Maps[method]) {
						if msg := compareWithReference(t, ref, "", arch, ex.Class, a); msg != "" {
							t.Errorf("class %d %s: %s", ex.Class, a.name, msg)
						}
					}
				}
			}
		})
	}
}

// TestONNXSmallNetworks: a network ending in mean + MatMul + Add (CAM found through MatMul, the
// Add folded into its bias) and a 1-D CNN over a sequence: logits, Grad-CAM and CAM as PyTorch.
func TestONNXSmallNetworks(t *testing.T) {
	ref := onnxReference(t)
	for _, name := range []string{"tiny_matmul", "tiny_conv1d"} {
		t.Run(name, func(t *testing.T) {
			m, err := models.LoadONNX(filepath.Join(ref, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			data, shape := testref.ReadNPY(t, filepath.Join(ref, name, "input.npy"))
			x := tensors.FromFlatDataAndDimensions(data, shape...)
			logits, err := m.Logits(x)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := testref.ReadNPY(t, filepath.Join(ref, name, "logits.npy"))
			if e := testref.MaxRelErr(logits[0], want); e > 1e-5 {
				t.Errorf("logits %v, PyTorch %v", logits[0], want)
			}
			if m.CAM == nil {
				t.Fatalf("no CAM head: %s", m.NoCAM)
			}
			b, err := os.ReadFile(filepath.Join(ref, name, "layer.txt"))
			if err != nil {
				t.Fatal(err)
			}
			layer := strings.TrimSpace(string(b))
			exps, err := New(m).Explain(x, Request{Methods: []Method{GradCAM, CAM}, Classes: []int{1, 3}, Layers: []string{layer}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exps {
				for _, method := range []Method{GradCAM, CAM} {
					mp := ex.Maps[method]
					a := array{string(method) + "_lowres", mp.LowRes, mp.LowResShape}
					if msg := compareWithReference(t, ref, "", name, ex.Class, a); msg != "" {
						t.Errorf("class %d %s: %s", ex.Class, a.name, msg)
					}
				}
			}
		})
	}
}

// TestONNXBatch: a batch of two images gives each image's batch-1 logits (the exporter folds
// batch size 1 into Reshape shapes, as ShuffleNet's channel shuffle has them).
func TestONNXBatch(t *testing.T) {
	ref := onnxReference(t)
	m, err := models.LoadONNX(filepath.Join(ref, "shufflenet_v2_x1_0.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"), testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testref.ReadNPY(t, filepath.Join(ref, "shufflenet_v2_x1_0", "logits.npy"))
	for i := range logits {
		if e := testref.MaxRelErr(logits[i], want); e > 1e-4 {
			t.Errorf("image %d of the batch: max error %.3g", i, e)
		}
	}
}

// TestONNXBadInput: files that are not ONNX, a truncated file, an unsupported op and a layer
// that is no node output give one-line errors saying what is wrong and what is valid.
func TestONNXBadInput(t *testing.T) {
	ref := onnxReference(t)
	dir := t.TempDir()
	full, err := os.ReadFile(filepath.Join(ref, "tiny_matmul.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	png, err := os.ReadFile(testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "none.onnx"), []string{"no such file"}},
		{"directory", dir, []string{"is a directory"}},
		{"image", write("cat.onnx", png), []string{"not a", "ONNX", "torch.onnx.export"}},
		{"empty", write("empty.onnx", nil), []string{"not an ONNX model"}},
		{"no graph", write("nograph.onnx", []byte{0x0a, 0x00}), []string{"holds no graph"}},
		{"text", write("text.onnx", []byte("hello, this is not a model\n")), []string{"ONNX"}},
		{"truncated", write("half.onnx", full[:len(full)/2]), []string{"ONNX"}},
		{"unsupported op", filepath.Join(ref, "unsupported.onnx"), []string{`Resize node`, "not convert", "supported ops: Abs, Add"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := testref.NoPanic(t, func() error { _, err := models.LoadONNX(tc.path); return err })
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error has several lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
	t.Run("unknown layer", func(t *testing.T) {
		m, err := models.LoadONNX(filepath.Join(ref, "tiny_matmul.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		data, shape := testref.ReadNPY(t, filepath.Join(ref, "tiny_matmul", "input.npy"))
		_, err = New(m).Explain(tensors.FromFlatDataAndDimensions(data, shape...), Request{Methods: []Method{GradCAM}, Layers: []string{"relu"}})
		if err == nil || !strings.Contains(err.Error(), `"relu"`) || !strings.Contains(err.Error(), "/relu/Relu_output_0") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("unknown layer: %v", err)
		}
	})
}

// TestShippedONNXModel: the PyTorch-trained Fashion-MNIST network notebook 05 explains
// (notebooks/data/fashion_effnet.onnx, made by fashion_effnet.py beside it) loads with its
// labels and CAM head and classifies as it did in PyTorch (85.6% on the whole test set there).
func TestShippedONNXModel(t *testing.T) {
	m, err := models.LoadONNX(filepath.Join(testref.Root(), "notebooks", "data", "fashion_effnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Labels) != 10 || m.Labels[9] != "Ankle boot" || m.CAM == nil {
		t.Fatalf("labels %v, CAM %v (%s)", m.Labels, m.CAM, m.NoCAM)
	}
	set, err := data.FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	_, acc, err := train.Evaluate(m, set.Head(2000), 500)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.83 {
		t.Errorf("test accuracy %.3f on 2,000 items, want >= 0.83", acc)
	}
	t.Logf("test accuracy %.3f on the first 2,000 test items", acc)
}
