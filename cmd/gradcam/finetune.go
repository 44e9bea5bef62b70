package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/environ"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/train"
)

// finetune replaces a torchvision model's head with one output per class folder of --data,
// trains it with GoMLX, and saves the checkpoint and its labels.
func finetune(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("finetune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "torchvision architecture: "+strings.Join(zoo.Names(), ", "))
	weights := fs.String("weights", "", "pretrained checkpoint to start from; default: the ImageNet weights ($GRADCAM_WEIGHTS, the cache, or download)")
	dir := fs.String("data", "", "image folder: one subfolder per class (torchvision's ImageFolder)")
	out := fs.String("out", "", "checkpoint to write (.safetensors); the labels go beside it as FILE.labels.txt")
	epochs := fs.Int("epochs", 1, "passes over the data")
	batch := fs.Int("batch-size", 16, "images per training step")
	lr := fs.Float64("lr", 1e-3, "learning rate")
	optimizer := fs.String("optimizer", "adam", "adam or sgd")
	all := fs.Bool("train-all", false, "train every layer; by default the backbone is frozen and only the new head trains")
	frozenTrain := fs.Bool("frozen-train-mode", false, "run the frozen backbone in training mode (batch statistics, running statistics "+
		"updated, dropout on: PyTorch's model.train()); by default frozen layers run as at inference (Keras's trainable=False)")
	seed := fs.Uint64("seed", 1, "seed of the new head's initialization and of the order of the images")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *model == "" || *dir == "" || *out == "" {
		return usageError{errors.New("--model, --data and --out are required")}
	}
	if filepath.Ext(*out) != ".safetensors" {
		return usageError{fmt.Errorf("--out %s: the checkpoint is written as .safetensors; name it FILE.safetensors", *out)}
	}
	if info, err := os.Stat(filepath.Dir(*out)); err != nil || !info.IsDir() {
		return usageError{fmt.Errorf("--out %s: its folder does not exist", *out)}
	}
	a, err := zoo.Lookup(*model)
	if err != nil {
		return usageError{err}
	}
	set, err := data.ImageFolder(*dir, preprocess.ImageNet(preprocess.Stretch))
	if err != nil {
		return err
	}
	path := *weights
	if path == "" {
		if path, err = environ.Store(stderr).Weights(context.Background(), a); err != nil {
			return err
		}
	}
	pretrained, err := checkpoint.Read(path)
	if err != nil {
		return err
	}
	net, err := a.WithOutputs(len(set.Classes), set.Classes)
	if err != nil {
		return err
	}
	m, fresh, err := models.Adapt(net, pretrained, *seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s from %s: new head %s (%d classes: %s); %d images\n", *model, path, strings.Join(fresh, ", "),
		len(set.Classes), strings.Join(set.Classes, ", "), set.Len())
	opts := train.Options{Epochs: *epochs, BatchSize: *batch, LearningRate: *lr, Optimizer: *optimizer, Seed: *seed, Progress: stderr}
	if !*all {
		opts.Trainable = train.Only(a.Head)
		opts.FrozenTrainMode = *frozenTrain
	}
	res, err := train.Fit(m, set, opts)
	if err != nil {
		return err
	}
	if err := m.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %d steps: loss %.4f, accuracy %.3f\nsaved %s and %s\n", res.Steps, res.Loss, res.Accuracy,
		*out, checkpoint.LabelsPath(*out))
	return nil
}
