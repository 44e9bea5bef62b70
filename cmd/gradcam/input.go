package main

import (
	"image"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/preprocess"
)

// modelInput is a preprocessed image: the model's input tensor, the 224x224 picture and the
// transform that made one from the other.
type modelInput struct {
	tensor    *tensors.Tensor
	images    []*image.RGBA
	transform preprocess.Transform
}
