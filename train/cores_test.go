package train

import (
	"runtime"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
)

// TestTrainingIsTheSameOnAnyNumberOfCores: training gives the same weights, to the bit, whether
// its multiplies and convolutions run on one core or on more goroutines than this machine has:
// the kernels split their work by output, never a sum between workers, so the order in which
// every value is added is fixed.
func TestTrainingIsTheSameOnAnyNumberOfCores(t *testing.T) {
	set, err := data.FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	set = set.Head(512)
	train := func(procs int) map[string][]float32 {
		t.Helper()
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		net, err := zoo.SmallCNN("fashion-gap", []int{1, 28, 28}, data.FashionMNISTClasses(), "gap", 16, 32, 64)
		if err != nil {
			t.Fatal(err)
		}
		m, err := models.New(net, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Fit(m, set, Options{Epochs: 1, BatchSize: 64, LearningRate: 3e-3, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		w := map[string][]float32{}
		for _, p := range m.Params {
			v, err := m.Param(p.Key)
			if err != nil {
				t.Fatal(err)
			}
			w[p.Key] = v.Data
		}
		return w
	}
	one, many := train(1), train(5)
	for key, v := range one {
		if !slices.Equal(v, many[key]) {
			t.Errorf("%s differs between 1 and 5 goroutines", key)
		}
	}
}
