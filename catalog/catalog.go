// Package catalog resolves a model named the way the command line and the notebooks name one: a
// torchvision architecture (with its ImageNet weights, or a checkpoint of it), a shipped demo
// network (fashion-gap, fashion-fc), an ONNX file, or nothing (the default model; offline, the
// MobileNetV2 embedded in the toolkit). explain, predict, evaluate, visualize and notebook.Load
// all resolve through it, so a name one of them takes the others take too.
package catalog

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/pretrained/embedded"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// Ref names a model.
type Ref struct {
	// Name is a torchvision architecture (zoo.Names) or a demo network (fashion.Names); "" is
	// the default model (embedded.Load; the commands and notebooks put $GRADCAM_MODEL here).
	Name string
	// Weights is a checkpoint (.pth or .safetensors) for Name; "" takes the architecture's
	// ImageNet weights (found or downloaded by the store the options give) or the demo
	// network's own.
	Weights string
	// ONNX is an ONNX model file, instead of Name and Weights.
	ONNX string
}

// Names are the model names Ref.Name takes: the torchvision architectures, then the demo
// networks.
func Names() []string { return append(zoo.Names(), fashion.Names()...) }

// RefError is Check's error: the reference itself is wrong (the caller's input), whatever the
// machine has. A command line reports it as a usage error.
type RefError struct{ Reason string }

func (e *RefError) Error() string { return e.Reason }

func refError(format string, args ...any) error { return &RefError{fmt.Sprintf(format, args...)} }

// Check validates r without loading anything: an ONNX file goes alone, a checkpoint needs the
// architecture it is for, and a name must be one of Names. Its errors are *RefError.
func (r Ref) Check() error {
	switch {
	case r.ONNX != "" && (r.Name != "" || r.Weights != ""):
		return refError("an ONNX file is a whole model: give it without a model name or weights")
	case r.Weights != "" && r.Name == "":
		return refError("a checkpoint needs the architecture it is for: give the model name with the weights")
	case r.Name != "" && !slices.Contains(Names(), r.Name):
		return refError("unknown model %q; the models are %s", r.Name, strings.Join(Names(), ", "))
	}
	return nil
}

// Load checks r and loads the model it names, with opts (the backend, the store of torchvision
// checkpoints, the load cache). Messages (the offline fallback to the embedded model) go to log.
func Load(r Ref, log io.Writer, opts ...models.Option) (*models.Model, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	switch {
	case r.ONNX != "":
		return models.LoadONNX(r.ONNX, opts...)
	case fashion.IsDemo(r.Name) && r.Weights != "":
		net, err := fashion.Network(r.Name)
		if err != nil {
			return nil, err
		}
		return models.LoadNetwork(net, r.Weights, opts...)
	case fashion.IsDemo(r.Name):
		return fashion.Load(r.Name, opts...)
	case r.Weights != "":
		return models.LoadFile(r.Name, r.Weights, opts...)
	}
	return embedded.Load(r.Name, log, opts...)
}
