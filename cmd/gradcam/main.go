// Command gradcam classifies images with torchvision CNNs, explains the answers, and
// fine-tunes the CNNs to new classes.
//
//	gradcam predict --model NAME [--weights FILE] --image FILE [--top K] [--crop]
//	gradcam explain --model NAME [--weights FILE] --image FILE [--class N] [--layer NAME[,NAME]]
//	        --method LIST --out DIR [--aug-smooth] [--eigen-smooth] [--ig-steps N]
//	        [--smooth-samples N] [--smooth-std S]
//	gradcam methods
//	gradcam backend
//	gradcam scenes [--n N] [--seed S] [--size PX] --out DIR
//	gradcam attack [--model NAME] --image FILE --target CLASS [--epsilon 8/255] [--steps N] [--step-size S] --out FILE.png
//	gradcam finetune --model NAME --data DIR --out FILE.safetensors [--epochs N] [--weights FILE]
//	gradcam evaluate --model LIST --data DIR|cluttered-fashion-mnist --method LIST [--metric LIST] --out DIR
//	        [--limit N] [--layer NAME]
//	gradcam train-demo [--model fashion-gap,fashion-fc] [--out pretrained/fashion]
//	gradcam visualize [--model NAME] (--class C | --layer NAME --channel K) --out FILE.png [--steps N]
//
// A fine-tuned checkpoint is used with --weights (its labels are read from beside it).
// Weights are found in $GRADCAM_WEIGHTS, then the cache ($GRADCAM_CACHE), else downloaded from
// torchvision's official address. Without --model the model is $GRADCAM_MODEL, else VGG-16, and
// offline the MobileNetV2 embedded in the program. Errors go to stderr with exit status 1 (2 for usage errors).
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"strings"

	"github.com/gradcam-go/gradcam/backend"
	_ "github.com/gradcam-go/gradcam/backend/xla" // XLA where a PJRT plugin is installed
	"github.com/gradcam-go/gradcam/catalog"
	"github.com/gradcam-go/gradcam/environ"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/pretrained/embedded"
)

// usageError marks errors in the command line itself (exit status 2).
type usageError struct{ error }

func main() {
	if isBeamWorker(os.Args[1:]) {
		runBeamWorker()
		return
	}
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "gradcam:", err)
	var ue usageError
	if asUsage(err, &ue) || errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	os.Exit(1)
}

const usage = `usage: gradcam COMMAND [flags]

commands:
  predict   print the top classes of an image: INDEX<TAB>LABEL<TAB>PROBABILITY
  explain   write explanation maps (METHOD.npy, METHOD.png) for a class of an image
  finetune  train a new head (one output per class folder) on a model, save .safetensors
  explain-vqa   answer a question about a scene (ANSWER<TAB>PROBABILITY) and explain an answer's maps
  explain-caption  caption a scene (or take --caption) and explain the whole caption and each word
  explain-text  Grad-CAM over the characters of a text (language ID by default): colours, --html or --json
  evaluate  measure explanation methods over a dataset (localization, deletion/insertion, ROAD, ...): metrics.csv
  train-demo  retrain the demo networks fashion-gap and fashion-fc (pretrained/fashion) from scratch
  attack    a targeted adversarial image (PGD under an L∞ budget), written as an 8-bit PNG that stays adversarial
  scenes    generated scenes of coloured shapes with their masks, questions, answers and captions (DIR/NNNN.png, .json)
  visualize  gradient ascent: the image that maximizes a class (or a channel of a layer), as PNG
  models    list the supported models and their default layers
  methods   list the explanation methods, a line each
  backend   say what computes: the backend, GoMLX's version, the matrix-multiply kernel (AVX-512, AVX2/FMA, none),
            and whether the fast executors (fastdot) and gradients (fastvjp) are installed

run "gradcam COMMAND -h" for the flags of a command.`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usage)}
	}
	// The environment is read here, at the entry point, and passed down (package environ).
	catch.WithStacks(environ.Debug())
	if err := environ.UseBackend(); err != nil {
		return err
	}
	switch args[0] {
	case "predict":
		return predict(args[1:], stdout, stderr)
	case "explain":
		return explain(args[1:], stdout, stderr)
	case "finetune":
		return finetune(args[1:], stdout, stderr)
	case "explain-vqa":
		return explainVQA(args[1:], stdout, stderr)
	case "explain-caption":
		return explainCaption(args[1:], stdout, stderr)
	case "explain-text":
		return explainText(args[1:], stdout, stderr)
	case "train-demo":
		return trainDemo(args[1:], stdout, stderr)
	case "evaluate":
		return evaluate(args[1:], stdout, stderr)
	case "attack":
		return attackCommand(args[1:], stdout, stderr)
	case "scenes":
		return scenesCommand(args[1:], stdout, stderr)
	case "visualize":
		return visualizeCommand(args[1:], stdout, stderr)
	case "models":
		for _, n := range zoo.Names() {
			a, _ := zoo.Lookup(n)
			fmt.Fprintf(stdout, "%s\t%s\n", n, a.DefaultLayer)
		}
		return nil
	case "methods":
		for _, m := range gradcam.Methods() {
			fmt.Fprintf(stdout, "%-21s %s\n", m, m.Summary())
		}
		return nil
	case "backend":
		if len(args) > 1 {
			return usageError{fmt.Errorf("backend takes no arguments (got %q)", args[1:])}
		}
		b, err := backend.New()
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, backend.Report(b))
		return err
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q\n%s", args[0], usage)}
}

// modelFlags are the flags every command that runs a model takes.
type modelFlags struct {
	model, weights, onnx, image string
	crop                        bool
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model name: "+strings.Join(catalog.Names(), ", ")+"; default: $GRADCAM_MODEL, else "+
		embedded.DefaultModel+" (or, offline, the embedded MobileNetV2)")
	fs.StringVar(&f.weights, "weights", "", "checkpoint file (.pth or .safetensors); default: $GRADCAM_WEIGHTS, the cache, or download")
	fs.StringVar(&f.onnx, "onnx", "", "an ONNX model file (a CNN exported from PyTorch, Keras, ...) instead of --model; "+
		"its layers are its node output names; labels from FILE.labels.txt beside it")
	fs.StringVar(&f.image, "image", "", "PNG or JPEG image")
	fs.BoolVar(&f.crop, "crop", false, "resize the shorter side to 256 and center-crop 224 (torchvision's eval transform) instead of stretching to 224x224")
}

func (f *modelFlags) check() error {
	if f.image == "" {
		return usageError{errors.New("--image is required")}
	}
	return checkRef(f.ref())
}

// ref is the model the flags name.
func (f *modelFlags) ref() catalog.Ref {
	return catalog.Ref{Name: f.model, Weights: f.weights, ONNX: f.onnx}
}

// loadModel loads the model r names with the environment's settings (package environ): without
// a name or an ONNX file, $GRADCAM_MODEL, else the default model.
func loadModel(r catalog.Ref, log io.Writer) (*models.Model, error) {
	if r.Name == "" && r.ONNX == "" {
		r.Name = environ.Model()
	}
	return catalog.Load(r, log, environ.ModelOptions()...)
}

// checkRef reports a model reference that names no model as a usage error, in the flags' terms.
func checkRef(r catalog.Ref) error {
	if err := r.Check(); err != nil {
		return usageError{fmt.Errorf("%w (--model, --weights, --onnx)", err)}
	}
	return nil
}

// load returns the model and the preprocessed image. Messages (the offline fallback) go to log.
func (f *modelFlags) load(log io.Writer) (*models.Model, *modelInput, error) {
	mode := preprocess.Stretch
	if f.crop {
		mode = preprocess.CenterCrop
	}
	img, err := preprocess.LoadImage(f.image) // a bad image fails before any model is loaded
	if err != nil {
		return nil, nil, err
	}
	m, err := loadModel(f.ref(), log)
	if err != nil {
		return nil, nil, err
	}
	t, err := m.Transform(mode)
	if err != nil {
		return nil, nil, err
	}
	fitted := t.Fit(img)
	x, err := t.Normalize(fitted)
	if err != nil {
		return nil, nil, err
	}
	return m, &modelInput{tensor: x, images: []*image.RGBA{fitted}, transform: t}, nil
}

func predict(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	top := fs.Int("top", 5, "number of classes to print")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if err := mf.check(); err != nil {
		return err
	}
	if *top < 1 {
		return usageError{fmt.Errorf("--top must be at least 1, got %d", *top)}
	}
	m, in, err := mf.load(stderr)
	if err != nil {
		return err
	}
	preds, err := m.Predict(in.tensor, *top)
	if err != nil {
		return err
	}
	for _, p := range preds[0] {
		fmt.Fprintf(stdout, "%d\t%s\t%.4f\n", p.Class, p.Label, p.Probability)
	}
	return nil
}

func asUsage(err error, ue *usageError) bool { return errors.As(err, ue) }

// drawing parses the --method and --colormap flags of the commands that draw maps; a bad value is
// a usage error.
func drawing(methodList, colormap string) ([]gradcam.Method, render.Colormap, error) {
	methods, err := gradcam.ParseMethods(methodList)
	if err != nil {
		return nil, "", usageError{err}
	}
	cm, err := render.ColormapByName(colormap)
	if err != nil {
		return nil, "", usageError{err}
	}
	return methods, cm, nil
}
