package models

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestActivationsOfAFeatureVector taps a [batch, features] layer whose output comes before the
// head's weights in the graph (the GAP of a GAP network, an embedding): simplego once indexed
// out of range executing such a graph. The GAP's values must be the spatial means of the layer
// before it.
func TestActivationsOfAFeatureVector(t *testing.T) {
	const size, channels = 16, 8
	net := &nn.Network{Name: "gapnet", Input: []int{1, size, size}, Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
		x = b.ReLU("relu", b.BatchNorm("bn", b.Conv2D("conv", x, nn.Conv{Out: channels, Kernel: 3, Padding: 1, NoBias: true})))
		return b.Linear("fc", b.GlobalAvgPool("gap", x), 10)
	}}
	m, err := New(net, 3)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float32, 2*size*size)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)))
	}
	x := tensors.FromFlatDataAndDimensions(in, 2, 1, size, size)
	acts, err := m.Activations(x, "gap") // alone: no later output covers the head's weights
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.Activations(x, "relu")
	if err != nil {
		t.Fatal(err)
	}
	gap, relu := acts["gap"], before["relu"]
	if len(gap.Shape) != 2 || gap.Shape[0] != 2 || gap.Shape[1] != channels {
		t.Fatalf("gap shape %v, want [2 %d]", gap.Shape, channels)
	}
	for b := range 2 {
		for c := range channels {
			var mean float64
			for _, v := range relu.Data[(b*channels+c)*size*size : (b*channels+c+1)*size*size] {
				mean += float64(v) / (size * size)
			}
			if got := gap.Data[b*channels+c]; math.Abs(float64(got)-mean) > 1e-6 {
				t.Errorf("image %d channel %d: gap %g, mean of relu %g", b, c, got, mean)
			}
		}
	}
}

// TestClassIndex: a class is named by its output index or its label; anything else is an error
// naming the model's range.
func TestClassIndex(t *testing.T) {
	m, err := New(testnets.Regression, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Labels = []string{"value"}
	for _, tc := range []struct {
		class string
		want  int
		err   string
	}{{"0", 0, ""}, {"value", 0, ""}, {"1", 0, "class 1 is out of range"}, {"-1", 0, "out of range"}, {"cat", 0, `class "cat" is neither`}} {
		got, err := m.ClassIndex(tc.class)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %d, %v", tc.class, got, err)
		}
	}
}
