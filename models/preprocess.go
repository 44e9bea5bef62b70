package models

import (
	"fmt"
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/preprocess"
)

// The preprocessing of package preprocess, under the names models has always given it.
type (
	// Transform is preprocess.Transform.
	Transform = preprocess.Transform
	// Resize is preprocess.Resize.
	Resize = preprocess.Resize
)

// The resize modes and ImageNet's sizes (package preprocess).
const (
	Stretch    = preprocess.Stretch
	CenterCrop = preprocess.CenterCrop
	InputSize  = preprocess.InputSize
	NumClasses = preprocess.NumClasses
)

// ImageNet is torchvision's ImageNet transform (preprocess.ImageNet).
func ImageNet(mode Resize) Transform { return preprocess.ImageNet(mode) }

// LoadImage reads a PNG or JPEG file as an RGB image (preprocess.LoadImage).
func LoadImage(path string) (*image.RGBA, error) { return preprocess.LoadImage(path) }

// Preprocess loads image files with ImageNet's transform (preprocess.Preprocess).
func Preprocess(mode Resize, paths ...string) (*tensors.Tensor, []*image.RGBA, error) {
	return preprocess.Preprocess(mode, paths...)
}

// Transform is the transform of the model's network at its input size (nn.Network.Input).
func (m *Model) Transform(mode Resize) (Transform, error) {
	if len(m.Input) != 3 || (m.Input[0] != 1 && m.Input[0] != 3) {
		return Transform{}, fmt.Errorf("%s takes %v inputs, not 1- or 3-channel images", m.Name, m.Input)
	}
	return Transform{Height: m.Input[1], Width: m.Input[2], Resize: mode, Channels: m.Input[0], Mean: m.Mean, Std: m.Std}, nil
}
