// Command retrain trains the regression CNN shipped in package disks and writes it there:
//
//	go run ./pretrained/disks/retrain [-out pretrained/disks]
//
// It prints the held-out root mean squared error; package disks's test asserts the shipped one's.
package main

import (
	_ "github.com/gradcam-go/gradcam/backend/xla" // XLA where a PJRT plugin is installed

	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/pretrained/disks"
	"github.com/gradcam-go/gradcam/train"
)

func main() {
	out := flag.String("out", filepath.Join("pretrained", "disks"), "folder to write disks.safetensors into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "retrain:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	trainSet, err := data.GenerateDisks(disks.TrainN, disks.Size, disks.TrainSeed)
	if err != nil {
		return err
	}
	test, err := data.GenerateDisks(500, disks.Size, disks.TestSeed)
	if err != nil {
		return err
	}
	m, err := models.New(disks.Network(), disks.TrainSeed)
	if err != nil {
		return err
	}
	if _, err := train.Fit(m, trainSet.Set, train.Options{Epochs: disks.Epochs, BatchSize: 32, LearningRate: 3e-3, Cosine: true,
		Seed: disks.TrainSeed, Progress: os.Stdout}); err != nil {
		return err
	}
	mse, _, err := train.Evaluate(m, test.Set, 100)
	if err != nil {
		return err
	}
	fmt.Printf("held-out RMSE %.3f (percentage points of area)\n", math.Sqrt(mse))
	return m.Save(filepath.Join(out, "disks.safetensors"))
}
