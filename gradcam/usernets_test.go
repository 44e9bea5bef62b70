package gradcam

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestUserNetworksParity: networks defined with package nn (a 2-D CNN on non-square images with
// dilated and grouped convolutions, a character CNN over sequences, a regression CNN) match the
// same networks in PyTorch (testnets/reference.py): outputs, activations, and every
// method's arrays for two inputs and two classes (the regression's one output), within the
// bounds of TestParityWithPyTorch.
func TestUserNetworksParity(t *testing.T) {
	for _, tc := range testnets.All {
		t.Run(tc.Net.Name, func(t *testing.T) {
			dir := testnets.Dir(t, tc.Net)
			m, x := loadTestNet(t, tc.Net)
			logits, err := m.Logits(x)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := testref.ReadNPY(t, filepath.Join(dir, "logits.npy"))
			var got []float32
			for _, row := range logits {
				got = append(got, row...)
			}
			if e := testref.MaxRelErr(got, want); !(e < 1e-4) {
				t.Errorf("outputs differ from PyTorch's: %.3g", e)
			}
			acts, _ := filepath.Glob(filepath.Join(dir, "act__*.npy"))
			if len(acts) == 0 {
				t.Fatal("no reference activations")
			}
			for _, file := range acts {
				name := filepath.Base(file)[len("act__") : len(filepath.Base(file))-len(".npy")]
				a, err := m.Activations(x, name)
				if err != nil {
					t.Fatal(err)
				}
				want, wantShape := testref.ReadNPY(t, file)
				if fmt.Sprint(a[name].Shape) != fmt.Sprint(wantShape) {
					t.Errorf("%s: shape %v, PyTorch %v", name, a[name].Shape, wantShape)
				} else if e := testref.MaxRelErr(a[name].Data, want); !(e < 1e-4) {
					t.Errorf("%s differs from PyTorch's: %.3g", name, e)
				}
			}
			methods := []Method{GradCAM, Counterfactual, Saliency, GuidedBackprop, Deconvnet, GuidedGradCAM}
			if m.CAM != nil {
				methods = append(methods, CAM)
			}
			if len(m.Input) == 3 {
				methods = append(methods, Occlusion)
			}
			exps, err := New(m).Explain(x, Request{Methods: methods, Classes: tc.Classes, Layers: layerList(tc.Layer),
				Occlusion: OcclusionOptions{Patch: testnets.OcclusionPatch, Stride: testnets.OcclusionStride, BatchSize: 8}})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range exps {
				for _, method := range methods {
					for _, a := range arraysOf(ex.Maps[method]) {
						if msg := compareWithReference(t, dir, "", fmt.Sprint(ex.Image), ex.Class, a); msg != "" {
							t.Errorf("image %d class %d %s: %s", ex.Image, ex.Class, a.name, msg)
						}
					}
				}
			}
		})
	}
}

// TestCAMFoundAutomatically: CAM's head is found from how a network ends, whatever its names.
func TestCAMFoundAutomatically(t *testing.T) {
	for _, tc := range []struct {
		name, layer, weight string
	}{
		{"cnn2d", "relu3", "fc.weight"}, {"regression", "relu2", "fc.weight"}, {"charcnn", "", ""},
	} {
		for _, n := range testnets.All {
			if n.Net.Name != tc.name {
				continue
			}
			spec, err := n.Net.Spec()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.layer == "" && spec.CAM != nil:
				t.Errorf("%s: CAM found at %s, but it ends in max-over-time pooling", tc.name, spec.CAM.Layer)
			case tc.layer == "" && spec.NoCAM == "":
				t.Errorf("%s: no reason given why CAM does not apply", tc.name)
			case tc.layer != "" && (spec.CAM == nil || spec.CAM.Layer != tc.layer || spec.CAM.Weight != tc.weight):
				t.Errorf("%s: CAM head %+v, want layer %s weight %s (%s)", tc.name, spec.CAM, tc.layer, tc.weight, spec.NoCAM)
			}
		}
	}
}

// layerList is Request.Layers for one layer name, nil for the default.
func layerList(l string) []string {
	if l == "" {
		return nil
	}
	return []string{l}
}

// loadTestNet loads a testnets network with the reference's weights, and the reference's inputs.
func loadTestNet(t testing.TB, net *nn.Network) (*models.Model, *tensors.Tensor) {
	t.Helper()
	dir := testnets.Dir(t, net)
	w, err := checkpoint.Read(filepath.Join(dir, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.NewModel(net, w, "reference")
	if err != nil {
		t.Fatal(err)
	}
	data, shape := testref.ReadNPY(t, filepath.Join(dir, "input.npy"))
	return m, tensors.FromFlatDataAndDimensions(data, shape...)
}
