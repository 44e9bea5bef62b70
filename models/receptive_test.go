package models

import (
	"testing"

	"github.com/gradcam-go/gradcam/models/zoo"
)

// TestReceptiveFieldsOfTorchvisionModels checks the theoretical receptive fields of the
// torchvision architectures against their published values (Araujo et al., "Computing Receptive
// Fields of Convolutional Neural Networks", Distill 2019, table 1: AlexNet 195 and VGG-16 212 at
// the last pooling layer) and the values worked out layer by layer by hand: VGG-16's conv5_3 sees
// 196 px (pool5 adds 16), AlexNet's conv5 163 px, and torchvision's ResNet-50 (v1.5, stride on
// the 3x3 convolution) 427 px at layer4 (Araujo's 483 is TF-slim's v1, which strides elsewhere).
// Starts are worked out by hand too: each padding moves the field back by padding x jump.
func TestReceptiveFieldsOfTorchvisionModels(t *testing.T) {
	for _, c := range []struct {
		model, layer      string
		size, jump, start int
	}{
		{"vgg16", "features.0", 3, 1, -1},        // conv1_1
		{"vgg16", "features.4", 6, 2, -2},        // pool1
		{"vgg16", "features.28", 196, 16, -90},   // conv5_3
		{"vgg16", "features.29", 196, 16, -90},   // relu5_3, the default layer
		{"vgg16", "features.30", 212, 32, -90},   // pool5
		{"alexnet", "features.0", 11, 4, -2},     // conv1
		{"alexnet", "features.10", 163, 16, -66}, // conv5
		{"alexnet", "features.12", 195, 32, -66}, // pool5
		{"resnet50", "maxpool", 11, 4, -5},
		{"resnet50", "layer1", 35, 4, -17},
		{"resnet50", "layer2", 91, 8, -45},
		{"resnet50", "layer3", 267, 16, -133},
		{"resnet50", "layer4", 427, 32, -213},
		{"resnet18", "layer4", 435, 32, -217}, // two 3x3 convolutions a block
	} {
		a, err := zoo.Lookup(c.model)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := a.Spec()
		if err != nil {
			t.Fatal(err)
		}
		got, err := spec.ReceptiveField(c.layer)
		if err != nil {
			t.Errorf("%s %s: %v", c.model, c.layer, err)
			continue
		}
		if got.Size != [2]int{c.size, c.size} || got.Jump != [2]int{c.jump, c.jump} || got.Start != [2]int{c.start, c.start} {
			t.Errorf("%s %s: %v, want %dx%d px, stride %d, from (%d, %d)", c.model, c.layer, got, c.size, c.size, c.jump, c.start, c.start)
		}
	}
}
