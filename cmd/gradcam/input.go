package main

import (
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// modelInput is a preprocessed image: the model's input tensor and the 224x224 picture.
type modelInput struct {
	tensor *tensors.Tensor
	images []*image.RGBA
}
