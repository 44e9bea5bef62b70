package train

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/preprocess"
)

// realMobileNetV2 reads ../shared/weights' ImageNet MobileNetV2 (batch norms folded into identity
// ones) and gives it a 3-output head with the given weights (nil: initialized from seed 1).
func realMobileNetV2(t *testing.T, classes []string, w, b []float32) *models.Model {
	t.Helper()
	pretrained, err := checkpoint.Read(filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := zoo.Lookup("mobilenet_v2")
	if err != nil {
		t.Fatal(err)
	}
	net, err := a.WithOutputs(len(classes), classes)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		m, _, err := models.Adapt(net, pretrained, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	pretrained["classifier.1.weight"] = &checkpoint.Tensor{Shape: []int{len(classes), 1280}, Data: w}
	pretrained["classifier.1.bias"] = &checkpoint.Tensor{Shape: []int{len(classes)}, Data: b}
	m, err := models.NewModel(net, pretrained, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backboneUnchanged fails the test unless every parameter outside the head (weights and running
// statistics) is bit for bit the checkpoint's.
func backboneUnchanged(t *testing.T, m *models.Model) {
	t.Helper()
	pretrained, err := checkpoint.Read(filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range m.Params {
		if strings.HasPrefix(p.Key, "classifier.1.") {
			continue
		}
		got, err := m.Param(p.Key)
		if err != nil {
			t.Fatal(err)
		}
		want := pretrained[p.Key].Data
		for i := range want {
			if math.Float32bits(got.Data[i]) != math.Float32bits(want[i]) {
				t.Fatalf("frozen %s[%d] changed: %g -> %g", p.Key, i, want[i], got.Data[i])
			}
		}
		checked++
	}
	if checked < 200 {
		t.Fatalf("only %d backbone tensors checked", checked)
	}
}

// TestFrozenBackboneStepMatchesPyTorch: one SGD step of a new head on the real MobileNetV2 with
// the backbone frozen equals PyTorch's with the model in eval mode (reference_frozen.py), and the
// backbone, running statistics included, does not move. FrozenTrainMode (PyTorch's model.train()
// on the frozen backbone) gives another step: batch statistics of these identity batch norms.
func TestFrozenBackboneStepMatchesPyTorch(t *testing.T) {
	ref := testref.Ensure(t, "train/testdata/reference_frozen.py", "train-frozen-ref", filepath.Join(testref.Shared(), "weights"))
	x, xShape := testref.ReadNPY(t, filepath.Join(ref, "x.npy"))
	y64, _ := testref.ReadNPYAs[int64](t, filepath.Join(ref, "y.npy"))
	y := make([]int32, len(y64))
	for i, v := range y64 {
		y[i] = int32(v)
	}
	w0, _ := testref.ReadNPY(t, filepath.Join(ref, "w0.npy"))
	b0, _ := testref.ReadNPY(t, filepath.Join(ref, "b0.npy"))
	w1, _ := testref.ReadNPY(t, filepath.Join(ref, "w1.npy"))
	b1, _ := testref.ReadNPY(t, filepath.Join(ref, "b1.npy"))
	set := &data.Set{Name: "batch", Shape: xShape[1:], Inputs: x, Labels: y}
	classes := []string{"a", "b", "c"}
	for _, trainMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("frozen-train-mode=%v", trainMode), func(t *testing.T) {
			m := realMobileNetV2(t, classes, w0, b0)
			res, err := Fit(m, set, Options{BatchSize: len(y), Optimizer: "sgd", LearningRate: 0.5, Trainable: Only("classifier.1"),
				FrozenTrainMode: trainMode})
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != 1 {
				t.Fatalf("%d steps, want 1", res.Steps)
			}
			w, _ := m.Param("classifier.1.weight")
			b, _ := m.Param("classifier.1.bias")
			ew, eb := testref.MaxRelErr(w.Data, w1), testref.MaxRelErr(b.Data, b1)
			if trainMode {
				if ew < 1e-3 {
					t.Errorf("in training mode the frozen batch norms use batch statistics, yet the step is eval mode's (%.3g)", ew)
				}
				rv, _ := m.Param("features.18.1.running_var")
				want, _ := testref.ReadNPY(t, filepath.Join(ref, "features_18_1_running_var.npy"))
				if testref.MaxRelErr(rv.Data, want) == 0 {
					t.Error("in training mode the frozen running statistics did not move")
				}
				return
			}
			if !(ew <= 1e-5) || !(eb <= 1e-5) {
				t.Errorf("head after one step differs from PyTorch's (backbone in eval mode): weight %.3g, bias %.3g of their magnitude", ew, eb)
			}
			if testref.MaxRelErr(w0, w1) < 1e-3 {
				t.Error("the reference step barely moved the head: the comparison would not see a wrong update")
			}
			backboneUnchanged(t, m)
		})
	}
}

// writeTextures writes an ImageFolder of three texture classes, none of them a plain colour cue:
// stripes (any angle), checkerboards and polka dots, each with random colours, scale and phase,
// size x size pixels, perClass images per class.
func writeTextures(t *testing.T, dir string, perClass, size int, seed uint64) []string {
	t.Helper()
	classes := []string{"checkers", "dots", "stripes"}
	r := rand.New(rand.NewPCG(seed, 27))
	for c, name := range classes {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			fg := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
			bg := color.RGBA{255 - fg.R, 255 - fg.G, 255 - fg.B, 255}
			period := 8 + r.Float64()*16
			angle := r.Float64() * math.Pi
			dx, dy := r.Float64()*period, r.Float64()*period
			img := image.NewRGBA(image.Rect(0, 0, size, size))
			for py := range size {
				for px := range size {
					x, y := float64(px)+dx, float64(py)+dy
					on := false
					switch c {
					case 0:
						on = (int(math.Floor(x/period))+int(math.Floor(y/period)))%2 == 0
					case 1:
						cx, cy := math.Mod(x, period)-period/2, math.Mod(y, period)-period/2
						on = cx*cx+cy*cy < period*period/10
					case 2:
						u := x*math.Cos(angle) + y*math.Sin(angle)
						on = math.Mod(u, period) < period/2
					}
					px2 := bg
					if on {
						px2 = fg
					}
					img.Set(px, py, px2)
				}
			}
			f, err := os.Create(filepath.Join(dir, name, fmt.Sprintf("%03d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return classes
}

// TestFinetuneFrozenMobileNetV2Learns is issue 27's fine-tune: the real ImageNet MobileNetV2,
// backbone frozen (the default of gradcam finetune), Adam 3e-3 in batches of 8, 3 epochs on 72
// generated texture images of 3 classes. Held-out accuracy on 90 images of another seed must
// reach 95% (measured: 98.9%; with FrozenTrainMode, which is how every frozen fine-tune ran
// before, the loss stays at ln 3 and accuracy at chance, 33%), and the backbone, running
// statistics included, is bit for bit the checkpoint's.
func TestFinetuneFrozenMobileNetV2Learns(t *testing.T) {
	dir := t.TempDir()
	classes := writeTextures(t, filepath.Join(dir, "train"), 24, 96, 1)
	writeTextures(t, filepath.Join(dir, "test"), 30, 96, 2)
	trainSet, err := data.ImageFolder(filepath.Join(dir, "train"), preprocess.ImageNet(preprocess.Stretch))
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := data.ImageFolder(filepath.Join(dir, "test"), preprocess.ImageNet(preprocess.Stretch))
	if err != nil {
		t.Fatal(err)
	}
	m := realMobileNetV2(t, classes, nil, nil)
	res, err := Fit(m, trainSet, Options{Epochs: 3, BatchSize: 8, LearningRate: 3e-3, Seed: 1, Trainable: Only("classifier.1")})
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := Evaluate(m, testSet, 15)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d steps: training loss %.4f; held out: loss %.4f, accuracy %.3f", res.Steps, res.Loss, loss, acc)
	if acc < 0.95 {
		t.Errorf("held-out accuracy %.3f after 3 epochs with the backbone frozen, want >= 0.95 (loss %.4f; ln 3 = 1.0986)", acc, loss)
	}
	backboneUnchanged(t, m)
}

// fashionStandIn is notebook 14's recipe, the blog's fine-tune on a data set this machine has:
// the real ImageNet MobileNetV2, a new 10-class head, the backbone frozen, trained on the first
// 600 Fashion-MNIST training items drawn as 112x112 RGB pictures (Adam 3e-3, batches of 16, 2
// epochs) and tested on the first 200 test items.
var fashionStandIn = struct {
	Train, Test, Size, Epochs, Batch int
	LearningRate                     float64
}{600, 200, 112, 2, 16, 3e-3}

// TestFinetuneFashionStandIn: notebook 14's claim, the fine-tuned model's held-out accuracy
// far above the ImageNet model's (its new head untrained: chance). Measured: 0.140 before, 0.775
// after (20 s). Asserted: after >= 0.6 and at least 0.4 above before.
func TestFinetuneFashionStandIn(t *testing.T) {
	r := fashionStandIn
	fashionTrain, err := data.FashionMNIST("train")
	if err != nil {
		t.Fatal(err)
	}
	fashionTest, err := data.FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	tr := preprocess.ImageNet(preprocess.Stretch)
	tr.Height, tr.Width = r.Size, r.Size
	trainSet, err := fashionTrain.Head(r.Train).Transformed(tr)
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := fashionTest.Head(r.Test).Transformed(tr)
	if err != nil {
		t.Fatal(err)
	}
	m := realMobileNetV2(t, fashionTrain.Classes, nil, nil)
	_, before, err := Evaluate(m, testSet, 50)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fit(m, trainSet, Options{Epochs: r.Epochs, BatchSize: r.Batch, LearningRate: r.LearningRate, Seed: 1, Trainable: Only("classifier.1")}); err != nil {
		t.Fatal(err)
	}
	_, after, err := Evaluate(m, testSet, 50)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out accuracy: %.3f before, %.3f after", before, after)
	if after < 0.6 || after-before < 0.4 {
		t.Errorf("held-out accuracy %.3f before, %.3f after fine-tuning; want >= 0.6 and 0.4 above", before, after)
	}
}
