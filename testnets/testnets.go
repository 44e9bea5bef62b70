// Package testnets defines, with package nn, the user-style networks that reference.py (beside
// this file) defines in PyTorch, so tests compare the two: a 2-D CNN on non-square images, a
// character CNN over sequences, and a regression CNN.
package testnets

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/nn"
)

// CNN2D: conv-BN-ReLU-maxpool, a dilated grouped conv-BN-ReLU, a strided conv-ReLU, global
// average pooling and a linear layer to 10 outputs, on 3x96x160 images.
var CNN2D = &nn.Network{Name: "cnn2d", Input: []int{3, 96, 160},
	Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
		x = b.Conv2D("conv1", x, nn.Conv{Out: 8, Kernel: 3, Padding: 1})
		x = b.ReLU("relu1", b.BatchNorm("bn1", x))
		x = b.MaxPool2D("pool1", x, nn.Pool{Kernel: 2})
		x = b.Conv2D("conv2", x, nn.Conv{Out: 16, Kernel: 3, Padding: 2, Dilation: 2, Groups: 4, NoBias: true})
		x = b.ReLU("relu2", b.BatchNorm("bn2", x))
		x = b.ReLU("relu3", b.Conv2D("conv3", x, nn.Conv{Out: 16, Kernel: 3, Stride: 2, Padding: 1}))
		return b.Linear("fc", b.GlobalAvgPool("", x), 10)
	}}

// CharCNN: 1-D convolutions of widths 3, 4 and 5 over 16 input channels, ReLU, max-over-time
// pooling, concatenation and a linear layer to 5 outputs, on sequences of 40.
var CharCNN = &nn.Network{Name: "charcnn", Input: []int{16, 40},
	Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
		var feats []*nn.Node
		for _, w := range []int{3, 4, 5} {
			h := b.Conv1D(fmt.Sprint("conv", w), x, nn.Conv{Out: 8, Kernel: w})
			h = b.ReLU(fmt.Sprint("relu", w), h)
			feats = append(feats, b.MaxOverTime("", h))
		}
		return b.Linear("fc", b.Concat("", feats...), 5)
	}}

// Regression: conv-ReLU-conv-ReLU, global average pooling and one linear output, on 3x48x48.
var Regression = &nn.Network{Name: "regression", Input: []int{3, 48, 48},
	Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
		x = b.ReLU("relu1", b.Conv2D("conv1", x, nn.Conv{Out: 8, Kernel: 3, Padding: 1}))
		x = b.ReLU("relu2", b.Conv2D("conv2", x, nn.Conv{Out: 8, Kernel: 3, Padding: 1}))
		return b.Linear("fc", b.GlobalAvgPool("", x), 1)
	}}

// All maps the reference's names to the networks, with the layer each explains and its classes.
var All = []struct {
	Net     *nn.Network
	Layer   string
	Classes []int
}{
	{CNN2D, "relu3", []int{3, 7}},
	{CharCNN, "relu4", []int{1, 4}},
	{Regression, "relu2", []int{0}},
}

// OcclusionPatch and OcclusionStride are the occlusion settings of the reference run.
const OcclusionPatch, OcclusionStride = 12, 8

// Reference returns the directory reference.py writes (generated once, cached).
func Reference(t testing.TB) string {
	return testref.Ensure(t, "testnets/reference.py", "testnets-ref",
		fmt.Sprint(OcclusionPatch), fmt.Sprint(OcclusionStride))
}

// Dir is the reference directory of one network.
func Dir(t testing.TB, net *nn.Network) string { return filepath.Join(Reference(t), net.Name) }
