// Command retrain trains the models shipped for generated scenes and writes them into their
// packages:
//
//	go run ./pretrained/scenes/retrain -model vqa      # pretrained/vqa/vqa.safetensors
//	go run ./pretrained/scenes/retrain -model caption  # pretrained/caption/caption.safetensors
//
// It prints the held-out score (answer accuracy, exact-match rate of greedy captions); the
// packages' tests assert the shipped models'.
package main

import (
	_ "github.com/gradcam-go/gradcam/backend/xla" // XLA where a PJRT plugin is installed

	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/pretrained/caption"
	"github.com/gradcam-go/gradcam/pretrained/scenes"
	"github.com/gradcam-go/gradcam/pretrained/vqa"
	"github.com/gradcam-go/gradcam/train"
)

// recipe is how one scene model is trained and scored.
type recipe struct {
	network  func() *nn.Network
	examples func(name string, all []data.Scene) (*data.Set, error)
	n        int // training scenes
	epochs   int
	options  train.Options
	score    func(m *models.Model, held []data.Scene) (string, error)
}

var recipes = map[string]recipe{
	"vqa": {vqa.Network, vqa.Examples, vqa.TrainN, vqa.Epochs, train.Options{LearningRate: 2e-3},
		func(m *models.Model, held []data.Scene) (string, error) {
			test, err := vqa.Examples("vqa-test", held)
			if err != nil {
				return "", err
			}
			_, acc, err := train.Evaluate(m, test, 256)
			return fmt.Sprintf("held-out answer accuracy %.3f on %d questions", acc, test.Len()), err
		}},
	"caption": {caption.Network, caption.Examples, caption.TrainN, caption.Epochs,
		train.Options{LearningRate: 2e-3, StepLabels: caption.StepLabels},
		func(m *models.Model, held []data.Scene) (string, error) {
			exact := 0
			for _, sc := range held {
				got, _, err := caption.Describe(m, sc.Image)
				if err != nil {
					return "", err
				}
				if got == sc.Caption {
					exact++
				}
			}
			return fmt.Sprintf("held-out exact match %.3f on %d scenes", float64(exact)/float64(len(held)), len(held)), nil
		}},
}

func main() {
	name := flag.String("model", "", "the model to retrain: vqa or caption")
	out := flag.String("out", "", "folder to write NAME.safetensors into; default: the model's package, pretrained/NAME")
	n := flag.Int("n", 0, "training scenes; default: the shipped model's")
	epochs := flag.Int("epochs", 0, "epochs; default: the shipped model's")
	flag.Parse()
	r, ok := recipes[*name]
	if !ok {
		fmt.Fprintln(os.Stderr, "retrain: -model vqa or -model caption")
		os.Exit(2)
	}
	if *out == "" {
		*out = filepath.Join("pretrained", *name)
	}
	if *n > 0 {
		r.n = *n
	}
	if *epochs > 0 {
		r.epochs = *epochs
	}
	if err := run(*name, r, *out); err != nil {
		fmt.Fprintln(os.Stderr, "retrain:", err)
		os.Exit(1)
	}
}

func run(name string, r recipe, out string) error {
	all, err := scenes.Generate(r.n, scenes.TrainSeed)
	if err != nil {
		return err
	}
	set, err := r.examples(name+"-train", all)
	if err != nil {
		return err
	}
	m, err := models.New(r.network(), scenes.TrainSeed)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d examples from %d scenes\n", name, set.Len(), r.n)
	o := r.options
	o.Epochs, o.BatchSize, o.Cosine, o.Seed, o.Progress = r.epochs, 32, true, scenes.TrainSeed, os.Stdout
	if _, err := train.Fit(m, set, o); err != nil {
		return err
	}
	held, err := scenes.Generate(200, scenes.TestSeed)
	if err != nil {
		return err
	}
	score, err := r.score(m, held)
	if err != nil {
		return err
	}
	fmt.Println(score)
	return m.Save(filepath.Join(out, name+".safetensors"))
}
