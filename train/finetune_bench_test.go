package train

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
)

// BenchmarkFinetuneStep times a step of `gradcam finetune`'s default recipe: MobileNetV2 with a
// new 10-class head, the backbone frozen (run as at inference, no gradient below the head),
// batch 16 of 3x224x224, Adam. The speed issue's target is PyTorch's step for the same recipe
// (bench/torch_bench.py finetune): within 1.5x. As BenchmarkTrainStep, each iteration runs Fit
// for 2 and for 12 steps from the same start and reports the difference per step as s/step.
func BenchmarkFinetuneStep(b *testing.B) {
	const batch, short, long = 16, 2, 12
	a, err := zoo.Lookup("mobilenet_v2")
	if err != nil {
		b.Fatal(err)
	}
	classes := data.FashionMNISTClasses()
	net, err := a.WithOutputs(len(classes), classes)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	set := &data.Set{Name: "random", Shape: []int{3, 224, 224}, Inputs: make([]float32, batch*long*3*224*224),
		Labels: make([]int32, batch*long), Classes: classes}
	for i := range set.Inputs {
		set.Inputs[i] = float32(rng.NormFloat64())
	}
	for i := range set.Labels {
		set.Labels[i] = int32(rng.IntN(len(classes)))
	}
	fit := func(steps int) time.Duration {
		m, err := models.New(net, 1)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := Fit(m, set.Head(batch*steps), Options{Epochs: 1, BatchSize: batch, LearningRate: 1e-3,
			Trainable: Only(a.Head), Seed: 1}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	testref.StepSeconds(b, short, long, fit)
}
