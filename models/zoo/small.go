package zoo

import (
	"fmt"

	"github.com/gradcam-go/gradcam/nn"
)

// SmallCNN is a small classifier for teaching and tests: blocks of 3x3 convolution, batch norm
// and ReLU ("block1".."blockN": block1.conv, block1.bn, block1.relu), a 2x2 max pool after every
// block but the last, then a head:
//
//   - gap: global average pooling and one linear layer ("fc"), so CAM applies (Zhou et al.'s
//     recipe: remove the fully connected layers, add GAP);
//   - fc: flatten and two fully connected layers ("fc1", ReLU "fc1.relu", "fc2"), the classic
//     head CAM does not apply to (Grad-CAM does).
//
// input is one example's shape ([1, 28, 28] for Fashion-MNIST), widths the blocks' channels.
func SmallCNN(name string, input []int, labels []string, head string, widths ...int) (*nn.Network, error) {
	if head != "gap" && head != "fc" {
		return nil, fmt.Errorf("SmallCNN head is gap or fc, not %q", head)
	}
	if len(widths) == 0 || len(labels) == 0 {
		return nil, fmt.Errorf("SmallCNN needs at least one block width and one label")
	}
	last := nn.Path(fmt.Sprint("block", len(widths)), "relu")
	return &nn.Network{Name: name, Input: input, Labels: labels, DefaultLayer: last,
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
			for i, w := range widths {
				p := fmt.Sprint("block", i+1)
				x = b.Conv2D(p+".conv", x, nn.Conv{Out: w, Kernel: 3, Padding: 1, NoBias: true})
				x = b.ReLU(p+".relu", b.BatchNorm(p+".bn", x))
				if i < len(widths)-1 {
					x = b.MaxPool2D(p+".pool", x, nn.Pool{Kernel: 2})
				}
			}
			if head == "gap" {
				return b.Linear("fc", b.GlobalAvgPool("gap", x), len(labels))
			}
			x = b.ReLU("fc1.relu", b.Linear("fc1", b.Flatten("flatten", x), 128))
			return b.Linear("fc2", x, len(labels))
		}}, nil
}
