// Package embedded ships a model inside the program, so that the toolkit's main job works on a
// fresh machine without internet: the ImageNet MobileNetV2 of the toolkit's test weights
// (TF-slim MobileNetV2 1.0/224, quantization-aware trained by google-coral/test_data,
// dequantized to torchvision's layout; Apache-2.0, see LICENSE) stored in half precision,
// 7 MB (convert.py writes it). Only programs that import this package carry it.
package embedded

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/store"
	"github.com/gradcam-go/gradcam/models/zoo"
)

//go:embed mobilenet_v2_f16.safetensors
var mobilenetV2 []byte

// Arch is the embedded model's architecture.
const Arch = "mobilenet_v2"

// DefaultModel is the model explained when none is named: VGG-16, the Grad-CAM paper's.
const DefaultModel = "vgg16"

// Model returns the embedded MobileNetV2.
func Model(opts ...models.Option) (*models.Model, error) {
	w, err := checkpoint.ReadSafetensors(bytes.NewReader(mobilenetV2), int64(len(mobilenetV2)), "embedded mobilenet_v2")
	if err != nil {
		return nil, err
	}
	a, err := zoo.Lookup(Arch)
	if err != nil {
		return nil, err
	}
	return models.NewModel(a.Network, w, "embedded ImageNet MobileNetV2 (float16)", opts...)
}

// Load returns the named torchvision model with its ImageNet weights (models.Load, with opts).
// With no name it is DefaultModel; and when that default's weights can be neither found nor
// downloaded (store.ErrNoWeights: offline), it falls back to the embedded MobileNetV2, writing
// one line on w that says so. A model named explicitly never falls back.
func Load(name string, w io.Writer, opts ...models.Option) (*models.Model, error) {
	chosen := name != ""
	if name == "" {
		name = DefaultModel
	}
	m, err := models.Load(name, opts...)
	if err == nil || chosen || !errors.Is(err, store.ErrNoWeights) {
		return m, err
	}
	if w != nil {
		fmt.Fprintf(w, "gradcam: %s's weights are not available offline; using the embedded ImageNet MobileNetV2 instead\n", name)
	}
	return Model(opts...)
}
