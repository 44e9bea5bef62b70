package models

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
)

// TestCAMHeadsOfTheZoo: CAM's head is found from each architecture's graph (GAP + linear for
// the ResNets and MobileNetV2, 1x1 conv + ReLU + GAP for the SqueezeNets) at the paper's layer,
// and refused with the reason for AlexNet and the VGGs.
func TestCAMHeadsOfTheZoo(t *testing.T) {
	want := map[string]string{"resnet18": "layer4 fc.weight", "resnet34": "layer4 fc.weight", "resnet50": "layer4 fc.weight", "resnet101": "layer4 fc.weight",
		"squeezenet1_0": "features.12 classifier.1.weight relu", "squeezenet1_1": "features.12 classifier.1.weight relu",
		"mobilenet_v2": "features.18 classifier.1.weight"}
	for _, name := range zoo.Names() {
		a, _ := zoo.Lookup(name)
		spec, err := a.Spec()
		if err != nil {
			t.Fatal(err)
		}
		err = a.CheckCAM()
		w, gap := want[name]
		switch {
		case gap && err != nil:
			t.Errorf("%s: %v", name, err)
		case gap:
			got := spec.CAM.Layer + " " + spec.CAM.Weight
			if spec.CAM.ReLUAfter {
				got += " relu"
			}
			if got != w {
				t.Errorf("%s: CAM head %q, want %q", name, got, w)
			}
		case !errors.Is(err, nn.ErrNoCAM) || !strings.Contains(err.Error(), "classifier.6 does not read global average pooling"):
			t.Errorf("%s: %v, want ErrNoCAM naming its last linear layer", name, err)
		}
	}
}

// TestFloat64Model: Float64 returns an error instead of panicking (here: none), and Logits
// refuses a float64 model before building or running anything.
func TestFloat64Model(t *testing.T) {
	m, err := New(lookup("squeezenet1_1").Network, 1)
	if err != nil {
		t.Fatal(err)
	}
	m64, err := m.Float64()
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float64, 3*64*64), 1, 3, 64, 64)
	if _, err := m64.Logits(x); err == nil || !strings.Contains(err.Error(), "use a float32 model") {
		t.Errorf("Logits of a float64 model: %v", err)
	}
	if n := m64.ForwardBuilds(); n != 0 {
		t.Errorf("the network was built %d times before the error", n)
	}
}

// lookup is the torchvision architecture of that name (zoo.Lookup), which the tests know exists.
func lookup(name string) *zoo.Arch {
	a, err := zoo.Lookup(name)
	if err != nil {
		panic(err)
	}
	return a
}
