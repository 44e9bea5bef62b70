package train

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestOneStepMatchesPyTorch: from the same initial weights and one batch of 8 (batch norm in
// training mode), one SGD step and one Adam step give PyTorch's updated weights and running
// statistics within 1e-5 of each tensor's largest magnitude.
func TestOneStepMatchesPyTorch(t *testing.T) {
	ref := filepath.Join(testnets.Reference(t), "train")
	x, xShape := testref.ReadNPY(t, filepath.Join(ref, "x.npy"))
	y, _ := testref.ReadNPYAs[int32](t, filepath.Join(ref, "y.npy"))
	set := &data.Set{Name: "batch", Shape: xShape[1:], Inputs: x, Labels: y}
	init, err := checkpoint.Read(filepath.Join(ref, "init.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		optimizer string
		lr        float64
	}{{"sgd", 0.1}, {"adam", 0.01}} {
		t.Run(tc.optimizer, func(t *testing.T) {
			m, err := models.NewModel(testnets.CNN2D, init, "init")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Fit(m, set, Options{BatchSize: 8, Optimizer: tc.optimizer, LearningRate: tc.lr}); err != nil {
				t.Fatal(err)
			}
			want, err := checkpoint.Read(filepath.Join(ref, tc.optimizer+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, p := range m.Params {
				got, err := m.Param(p.Key)
				if err != nil {
					t.Fatal(err)
				}
				w, ok := want[p.Key]
				if !ok {
					t.Fatalf("no reference for %s", p.Key)
				}
				if tc.optimizer == "adam" && p.Key == "conv1.bias" {
					// conv1 feeds batch norm in training mode, which removes any per-channel shift:
					// its bias's gradient is 0 up to rounding (~1e-9), and Adam's first step,
					// lr*g/(|g|+eps), turns that rounding into an update of up to lr in both
					// frameworks. Only the bound can be checked.
					for i := range got.Data {
						if d := math.Abs(float64(got.Data[i] - init[p.Key].Data[i])); d > 1.01*tc.lr {
							t.Errorf("%s moved by %.3g in one Adam step, more than the learning rate", p.Key, d)
						}
					}
					continue
				}
				if e := testref.MaxRelErr(got.Data, w.Data); !(e <= 1e-5) {
					t.Errorf("%s after one %s step differs from PyTorch's by %.3g of its magnitude", p.Key, tc.optimizer, e)
				}
				if testref.MaxRelErr(init[p.Key].Data, w.Data) > 1e-3 {
					changed++
				}
			}
			if changed < len(m.Params)/2 {
				t.Errorf("only %d of %d tensors changed in the reference step: the test would not see a wrong update", changed, len(m.Params))
			}
		})
	}
}

// fashionAccuracy is what the GAP CNN of TestTrainFashionMNIST must reach on the test split.
const fashionAccuracy = 0.85

// TestTrainFashionMNIST trains a small GAP CNN (zoo.SmallCNN: 16, 32, 64 channels) on 20,000
// Fashion-MNIST training images for 3 epochs with Adam and a cosine schedule (about 2 minutes
// on 2 cores), and asserts its accuracy on 2,000 test images: measured 86.4%. (PyTorch, the same
// network with a step schedule: 86-87%; with a constant learning rate both sit near 80% and jump
// by several points from epoch to epoch.)
func TestTrainFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: trains for about a minute")
	}
	trainSet, err := data.FashionMNIST("train")
	if err != nil {
		t.Fatal(err)
	}
	testSet, err := data.FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	net, err := zoo.SmallCNN("fashion-gap", []int{1, 28, 28}, data.FashionMNISTClasses(), "gap", 16, 32, 64)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Fit(m, trainSet.Head(20000), Options{Epochs: 3, BatchSize: 64, LearningRate: 3e-3, Cosine: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := Evaluate(m, testSet.Head(2000), 500)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps in %s: train loss %.3f accuracy %.3f; test loss %.3f accuracy %.3f",
		res.Steps, time.Since(start).Round(time.Second), res.Loss, res.Accuracy, loss, acc)
	if acc < fashionAccuracy || math.IsNaN(acc) {
		t.Errorf("test accuracy %.3f, want >= %.2f", acc, fashionAccuracy)
	}
}

// TestFitErrors: bad datasets and options are one-line errors.
func TestFitErrors(t *testing.T) {
	m, err := models.New(testnets.CNN2D, 1)
	if err != nil {
		t.Fatal(err)
	}
	ok := &data.Set{Name: "ok", Shape: []int{3, 8, 8}, Inputs: make([]float32, 2*3*64), Labels: []int32{0, 1}}
	tests := []struct {
		name string
		set  *data.Set
		opts Options
		want string
	}{
		{"empty", &data.Set{Name: "none", Shape: []int{3, 8, 8}}, Options{}, `dataset "none" is empty`},
		{"label beyond outputs", &data.Set{Name: "x", Shape: []int{3, 8, 8}, Inputs: make([]float32, 3*64), Labels: []int32{10}},
			Options{}, "has label 10 but cnn2d has 10 outputs"},
		{"wrong channels", &data.Set{Name: "x", Shape: []int{1, 8, 8}, Inputs: make([]float32, 64), Labels: []int32{1}},
			Options{}, "takes [3 96 160]"},
		{"regression set on a classifier", &data.Set{Name: "x", Shape: []int{3, 8, 8}, Inputs: make([]float32, 3*64), Targets: []float32{1}},
			Options{}, "regression set"},
		{"no labels nor targets", &data.Set{Name: "pictures", Shape: []int{3, 8, 8}, Inputs: make([]float32, 3*64)},
			Options{}, `"pictures" has neither labels nor targets`},
		{"unknown optimizer", ok, Options{Optimizer: "lbfgs"}, `unknown optimizer "lbfgs"`},
		{"nothing trainable", ok, Options{Trainable: Only("nothing")}, "nothing to train"},
		{"negative epochs", ok, Options{Epochs: -1}, "epochs >= 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := testref.NoPanic(t, func() error { _, err := Fit(m, tc.set, tc.opts); return err })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
