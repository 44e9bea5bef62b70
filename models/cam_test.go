package models

import (
	"errors"
	"strings"
	"testing"
)

// TestCAMHeadsOfTheZoo: CAM's head is found from each architecture's graph (GAP + linear for
// the ResNets and MobileNetV2, 1x1 conv + ReLU + GAP for the SqueezeNets) at the paper's layer,
// and refused with the reason for AlexNet and the VGGs.
func TestCAMHeadsOfTheZoo(t *testing.T) {
	want := map[string]string{"resnet18": "layer4 fc.weight", "resnet34": "layer4 fc.weight", "resnet50": "layer4 fc.weight", "resnet101": "layer4 fc.weight",
		"squeezenet1_0": "features.12 classifier.1.weight relu", "squeezenet1_1": "features.12 classifier.1.weight relu",
		"mobilenet_v2": "features.18 classifier.1.weight"}
	for _, name := range Names() {
		a, _ := LookupArch(name)
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
		case !errors.Is(err, ErrNoCAM) || !strings.Contains(err.Error(), "classifier.6 does not read global average pooling"):
			t.Errorf("%s: %v, want ErrNoCAM naming its last linear layer", name, err)
		}
	}
}
