package fashion

import (
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	gotrain "github.com/gradcam-go/gradcam/train"
)

// BenchmarkTrainStep times a training step of the GAP demo network with the shipped settings
// (batch 64 of 64x64 cluttered canvases, Adam, cosine schedule), the speed issue's training
// target: within 1.5x of PyTorch's step on the same machine (bench/torch_bench.py train). Every Fit
// builds and compiles its graph once, so each iteration runs Fit for 2 and for 22 steps from
// the same start and reports the difference per step as s/step (testref.StepSeconds).
func BenchmarkTrainStep(b *testing.B) {
	const short, long = 2, 22
	set, err := data.ClutteredFashionMNIST("train", BatchSize*long, data.ClutterOptions{Canvas: Canvas, Seed: TrainSeed})
	if err != nil {
		b.Skip(err) // Fashion-MNIST is not installed (Debian's dataset-fashion-mnist)
	}
	net, err := Network(GAP)
	if err != nil {
		b.Fatal(err)
	}
	fit := func(steps int) time.Duration {
		m, err := models.New(net, TrainSeed)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := gotrain.Fit(m, set.Head(BatchSize*steps), gotrain.Options{Epochs: 1, BatchSize: BatchSize,
			LearningRate: LearningRate, Cosine: true, Seed: TrainSeed}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	testref.StepSeconds(b, short, long, fit)
}
