package text

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/nn"
)

// widths are CharCNN's filter widths; Explain reads their ReLUs ("relu3", "relu4", "relu5").
var widths = []int{3, 4, 5}

// CharCNN is a Kim-style CNN over characters (Kim 2014): the input is a text's character
// indices ([1, length], Vocabulary.Encode), one-hot encoded inside the graph; an embedding of
// embed dimensions ("embed": a width-1 convolution without bias of the one-hot code, the same as
// PyTorch's nn.Embedding); for each of its filter widths (3, 4, 5) a 1-D convolution of filters filters ("conv3", ...)
// and a ReLU ("relu3", ...), max-over-time pooling, concatenation; dropout 0.5 in training; a
// linear layer ("fc") to the labels.
func CharCNN(name string, vocab, length, embed, filters int, labels []string) *nn.Network {
	return &nn.Network{Name: name, Input: []int{1, length}, Labels: labels, DefaultLayer: fmt.Sprint("relu", widths[len(widths)-1]),
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
			d := x.Shape().Dimensions // [B, L, 1]
			idx := graph.ConvertDType(graph.Reshape(x, d[0], d[1]), dtypes.Int32)
			h := b.Conv1D("embed", graph.OneHot(idx, vocab, x.DType()), nn.Conv{Out: embed, Kernel: 1, NoBias: true})
			var feats []*nn.Node
			for _, w := range widths {
				c := b.ReLU(fmt.Sprint("relu", w), b.Conv1D(fmt.Sprint("conv", w), h, nn.Conv{Out: filters, Kernel: w}))
				feats = append(feats, b.MaxOverTime("", c))
			}
			return b.Linear("fc", b.Dropout("dropout", b.Concat("features", feats...), 0.5), len(labels))
		}}
}
