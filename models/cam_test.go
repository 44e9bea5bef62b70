package models

import (
	"errors"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/nlpodyssey/gopickle/pytorch"
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

// TestFloat64Model: Float64 returns an error instead of panicking (here: none), and Logits
// refuses a float64 model before building or running anything.
func TestFloat64Model(t *testing.T) {
	m, err := New(archs["squeezenet1_1"].Network, 1)
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

// TestDenseFloat32RejectsBadTensors: a tensor whose strides do not match its shape, or whose
// shape needs more values than its storage holds, is an error, not a panic or a huge allocation.
func TestDenseFloat32RejectsBadTensors(t *testing.T) {
	storage := &pytorch.FloatStorage{Data: []float32{1, 2, 3, 4}}
	for _, tc := range []struct {
		size, stride []int
		want         string
	}{
		{[]int{2, 2}, []int{1}, "has 1 strides"},
		{[]int{3, 2}, []int{2, 1}, "needs more values"},
		{[]int{-1, 4}, []int{4, 1}, "needs more values"},
		{[]int{1 << 40, 1 << 40}, []int{1, 1}, "needs more values"},
	} {
		tensor := &pytorch.Tensor{Source: storage, Size: tc.size, Stride: tc.stride}
		err := testref.NoPanic(t, func() error { _, err := denseFloat32(tensor); return err })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shape %v strides %v: %v, want an error mentioning %q", tc.size, tc.stride, err, tc.want)
		}
	}
}
