// Package zoo holds the torchvision architectures written with package nn (AlexNet, VGG, ResNet,
// SqueezeNet, MobileNetV2) with their checkpoints' addresses, the small CNN of the teaching
// networks, and ImageNet's labels.
package zoo

import (
	"fmt"
	"math"
	"sync"

	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Arch is one of the torchvision architectures: the ImageNet network, written with package nn,
// and the official checkpoint's address.
type Arch struct {
	*nn.Network
	// URL is the official torchvision checkpoint; its file name carries a SHA-256 prefix.
	URL string
	// Head is the module path of the classifier's last layer ("fc", "classifier.6"), the layer
	// fine-tuning replaces.
	Head string

	build func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node
}

const base = "https://download.pytorch.org/models/"

func arch(name, file, defaultLayer, head string, build func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node) *Arch {
	a := &Arch{URL: base + file, Head: head, build: build}
	a.Network = a.network(preprocess.NumClasses, imageNetLabels)
	a.Network.Name, a.Network.DefaultLayer = name, defaultLayer
	return a
}

// network is the architecture with another number of outputs: 3x224x224 inputs normalized with
// ImageNet's statistics, the given labels.
func (a *Arch) network(outputs int, labels []string) *nn.Network {
	net := &nn.Network{Input: []int{3, preprocess.InputSize, preprocess.InputSize}, Labels: labels, Mean: preprocess.ImageNetMean(), Std: preprocess.ImageNetStd(),
		Build: func(b *nn.Builder, x *nn.Node) *nn.Node { return a.build(b, x, outputs) }}
	if a.Network != nil {
		net.Name, net.DefaultLayer = a.Name, a.DefaultLayer
	}
	return net
}

var (
	headsMu sync.Mutex
	heads   = map[string]*nn.Network{}
)

// WithOutputs is the architecture with a new head of the given number of outputs (fine-tuning
// to other classes), named by labels (nil: unnamed; else one per output). The body's parameters
// keep their names, so an ImageNet checkpoint's body loads into it (Adapt).
func (a *Arch) WithOutputs(outputs int, labels []string) (*nn.Network, error) {
	if outputs < 1 {
		return nil, fmt.Errorf("%s needs at least one output, not %d", a.Name, outputs)
	}
	if labels != nil && len(labels) != outputs {
		return nil, fmt.Errorf("%s with %d outputs needs %d labels, got %d", a.Name, outputs, outputs, len(labels))
	}
	if outputs == preprocess.NumClasses && labels == nil {
		return a.Network, nil
	}
	key := fmt.Sprint(a.Name, outputs, labels)
	headsMu.Lock()
	defer headsMu.Unlock()
	if net, ok := heads[key]; ok {
		return net, nil
	}
	net := a.network(outputs, labels)
	heads[key] = net
	return net, nil
}

var archs = map[string]*Arch{
	"alexnet":   arch("alexnet", "alexnet-owt-7be5be79.pth", "features.11", "classifier.6", AlexNet),
	"vgg11":     arch("vgg11", "vgg11-8a719046.pth", vggLayer(VGGConfig(11)), "classifier.6", vgg(VGGConfig(11))),
	"vgg13":     arch("vgg13", "vgg13-19584684.pth", vggLayer(VGGConfig(13)), "classifier.6", vgg(VGGConfig(13))),
	"vgg16":     arch("vgg16", "vgg16-397923af.pth", vggLayer(VGGConfig(16)), "classifier.6", vgg(VGGConfig(16))),
	"vgg19":     arch("vgg19", "vgg19-dcbb9e9d.pth", vggLayer(VGGConfig(19)), "classifier.6", vgg(VGGConfig(19))),
	"resnet18":  arch("resnet18", "resnet18-f37072fd.pth", "layer4", "fc", resnet(false, [4]int{2, 2, 2, 2})),
	"resnet34":  arch("resnet34", "resnet34-b627a593.pth", "layer4", "fc", resnet(false, [4]int{3, 4, 6, 3})),
	"resnet50":  arch("resnet50", "resnet50-0676ba61.pth", "layer4", "fc", resnet(true, [4]int{3, 4, 6, 3})),
	"resnet101": arch("resnet101", "resnet101-63fe2227.pth", "layer4", "fc", resnet(true, [4]int{3, 4, 23, 3})),
	"squeezenet1_0": arch("squeezenet1_0", "squeezenet1_0-b66bff10.pth", "features.12", "classifier.1",
		func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node { return SqueezeNet(b, x, true, outputs) }),
	"squeezenet1_1": arch("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth", "features.12", "classifier.1",
		func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node { return SqueezeNet(b, x, false, outputs) }),
	"mobilenet_v2": arch("mobilenet_v2", "mobilenet_v2-b0353104.pth", "features.18", "classifier.1", MobileNetV2),
}

// Names lists the supported architectures in a stable order.
func Names() []string {
	return []string{"alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50",
		"resnet101", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2"}
}

func vgg(cfg []int) func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node {
	return func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node { return VGG(b, x, cfg, outputs) }
}

// VGGGAP is the CAM paper's VGG-GAP (Zhou et al. 2016, section 3): VGG's features up to the
// last convolution's ReLU (the last max pool and the fully connected layers removed), a 3x3
// convolution to 1024 channels with ReLU ("gap.conv", "gap.relu"), global average pooling and
// one linear layer ("fc"). Its features keep VGG's parameter names, so models.Adapt takes them
// from a VGG checkpoint and initializes the new head.
func VGGGAP(b *nn.Builder, x *nn.Node, cfg []int, outputs int) *nn.Node {
	x = VGGFeatures(b, x, cfg[:len(cfg)-1])
	x = b.ReLU("gap.relu", b.Conv2D("gap.conv", x, nn.Conv{Out: 1024, Kernel: 3, Padding: 1}))
	return b.Linear("fc", b.GlobalAvgPool("gap", x), outputs)
}

func resnet(bottleneck bool, blocks [4]int) func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node {
	return func(b *nn.Builder, x *nn.Node, outputs int) *nn.Node {
		return ResNet(b, x, bottleneck, blocks, outputs)
	}
}

// Lookup returns the architecture with torchvision's name.
func Lookup(name string) (*Arch, error) {
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q; supported models: %v", name, Names())
	}
	return a, nil
}

// AlexNet is torchvision's AlexNet body and classifier with the given number of outputs.
func AlexNet(b *nn.Builder, x *nn.Node, outputs int) *nn.Node {
	convs := map[int]nn.Conv{0: {Out: 64, Kernel: 11, Stride: 4, Padding: 2}, 3: {Out: 192, Kernel: 5, Padding: 2},
		6: {Out: 384, Kernel: 3, Padding: 1}, 8: {Out: 256, Kernel: 3, Padding: 1}, 10: {Out: 256, Kernel: 3, Padding: 1}}
	for i := 0; i <= 12; i++ {
		key := nn.Path("features", i)
		switch c, ok := convs[i]; {
		case i == 2 || i == 5 || i == 12:
			x = b.MaxPool2D(key, x, nn.Pool{Kernel: 3, Stride: 2})
		case ok:
			x = b.Conv2D(key, x, c)
		default:
			x = b.ReLU(key, x)
		}
	}
	x = b.AdaptiveAvgPool2D("avgpool", x, 6, 6)
	return FullyConnectedHead(b, b.Flatten("", x), [3]int{1, 4, 6}, outputs)
}

// FullyConnectedHead is the classifier of AlexNet and VGG: Linear(4096), ReLU, Dropout,
// Linear(4096), ReLU, Dropout, Linear(outputs), at the given classifier indices (each ReLU right
// after its Linear, each dropout before the next Linear).
func FullyConnectedHead(b *nn.Builder, x *nn.Node, linears [3]int, outputs int) *nn.Node {
	for i, idx := range linears {
		key := nn.Path("classifier", idx)
		if i == 2 {
			return b.Linear(key, x, outputs)
		}
		x = b.Linear(key, x, 4096)
		x = b.ReLU(nn.Path("classifier", idx+1), x)
		x = b.Dropout(nn.Path("classifier", idx+2), x, 0.5)
	}
	return x
}

// VGGConfig is the configuration of VGG-depth (11, 13, 16 or 19; nil for another depth):
// convolution widths, -1 for a max pool.
func VGGConfig(depth int) []int {
	switch depth {
	case 11:
		return []int{64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1}
	case 13:
		return []int{64, 64, -1, 128, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1}
	case 16:
		return []int{64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1}
	case 19:
		return []int{64, 64, -1, 128, 128, -1, 256, 256, 256, 256, -1, 512, 512, 512, 512, -1, 512, 512, 512, 512, -1}
	}
	return nil
}

// VGGFeatures is torchvision's VGG "features" for a configuration (3x3 convolutions with
// padding 1, each followed by a ReLU; 2x2 max pools).
func VGGFeatures(b *nn.Builder, x *nn.Node, cfg []int) *nn.Node {
	i := 0
	for _, v := range cfg {
		if v < 0 {
			x = b.MaxPool2D(nn.Path("features", i), x, nn.Pool{Kernel: 2, Stride: 2})
			i++
			continue
		}
		x = b.Conv2D(nn.Path("features", i), x, nn.Conv{Out: v, Kernel: 3, Padding: 1})
		x = b.ReLU(nn.Path("features", i+1), x)
		i += 2
	}
	return x
}

// vggLayer is the module path of the ReLU before the last max pool (VGG-16: features.29,
// relu5_3), the paper's layer to explain.
func vggLayer(cfg []int) string {
	last := 0
	for _, v := range cfg {
		if v > 0 {
			last += 2
		} else {
			last++
		}
	}
	return nn.Path("features", last-2)
}

// VGG is torchvision's VGG for a configuration, with the given number of outputs.
func VGG(b *nn.Builder, x *nn.Node, cfg []int, outputs int) *nn.Node {
	x = VGGFeatures(b, x, cfg)
	x = b.AdaptiveAvgPool2D("avgpool", x, 7, 7)
	return FullyConnectedHead(b, b.Flatten("", x), [3]int{0, 3, 6}, outputs)
}

// ResNetBody is torchvision's ResNet v1.5 (stride on the 3x3 convolution of bottlenecks) up to
// and including layer4.
func ResNetBody(b *nn.Builder, x *nn.Node, bottleneck bool, blocks [4]int) *nn.Node {
	x = b.Conv2D("conv1", x, nn.Conv{Out: 64, Kernel: 7, Stride: 2, Padding: 3, NoBias: true})
	x = b.BatchNorm("bn1", x)
	x = b.ReLU("relu", x)
	x = b.MaxPool2D("maxpool", x, nn.Pool{Kernel: 3, Stride: 2, Padding: 1})
	expansion := 1
	if bottleneck {
		expansion = 4
	}
	inplanes := 64
	for li, planes := range []int{64, 128, 256, 512} {
		layer := fmt.Sprint("layer", li+1)
		for bi := range blocks[li] {
			stride := 1
			if bi == 0 && li > 0 {
				stride = 2
			}
			p := nn.Path(layer, bi)
			identity, out := x, x
			convs := [][3]int{{planes, 3, stride}, {planes, 3, 1}} // width, kernel, stride
			if bottleneck {
				convs = [][3]int{{planes, 1, 1}, {planes, 3, stride}, {planes * 4, 1, 1}}
			}
			for ci, c := range convs {
				out = b.Conv2D(nn.Path(p, fmt.Sprint("conv", ci+1)), out,
					nn.Conv{Out: c[0], Kernel: c[1], Stride: c[2], Padding: c[1] / 2, NoBias: true})
				out = b.BatchNorm(nn.Path(p, fmt.Sprint("bn", ci+1)), out)
				if ci < len(convs)-1 {
					out = b.ReLU("", out)
				}
			}
			if stride != 1 || inplanes != planes*expansion {
				identity = b.Conv2D(nn.Path(p, "downsample.0"), x, nn.Conv{Out: planes * expansion, Kernel: 1, Stride: stride, NoBias: true})
				identity = b.BatchNorm(nn.Path(p, "downsample.1"), identity)
			}
			x = b.ReLU(p, b.Add("", out, identity))
			inplanes = planes * expansion
		}
		x = b.Tap(layer, x)
	}
	return x
}

// ResNet is torchvision's ResNet with the given number of outputs: the body, global average
// pooling and one linear layer "fc" (so CAM applies).
func ResNet(b *nn.Builder, x *nn.Node, bottleneck bool, blocks [4]int, outputs int) *nn.Node {
	x = ResNetBody(b, x, bottleneck, blocks)
	x = b.AdaptiveAvgPool2D("avgpool", x, 1, 1)
	return b.Linear("fc", b.Flatten("", x), outputs)
}

// SqueezeNet is torchvision's SqueezeNet 1.0 (v10) or 1.1 with the given number of outputs. The
// classifier is a 1x1 convolution to class maps, a ReLU and global average pooling, so CAM
// applies with the convolution's weights.
func SqueezeNet(b *nn.Builder, x *nn.Node, v10 bool, outputs int) *nn.Node {
	type fire struct{ squeeze, expand int }
	var plan []any // "conv7"/"conv3"/"relu"/"pool" or a fire module
	if v10 {
		plan = []any{"conv7", "relu", "pool", fire{16, 64}, fire{16, 64}, fire{32, 128}, "pool",
			fire{32, 128}, fire{48, 192}, fire{48, 192}, fire{64, 256}, "pool", fire{64, 256}}
	} else {
		plan = []any{"conv3", "relu", "pool", fire{16, 64}, fire{16, 64}, "pool", fire{32, 128}, fire{32, 128},
			"pool", fire{48, 192}, fire{48, 192}, fire{64, 256}, fire{64, 256}}
	}
	for i, step := range plan {
		key := nn.Path("features", i)
		switch s := step.(type) {
		case string:
			switch s {
			case "conv7":
				x = b.Conv2D(key, x, nn.Conv{Out: 96, Kernel: 7, Stride: 2})
			case "conv3":
				x = b.Conv2D(key, x, nn.Conv{Out: 64, Kernel: 3, Stride: 2})
			case "relu":
				x = b.ReLU(key, x)
			case "pool":
				x = b.MaxPool2D(key, x, nn.Pool{Kernel: 3, Stride: 2, Ceil: true})
			}
		case fire:
			sq := b.Conv2D(key+".squeeze", x, nn.Conv{Out: s.squeeze, Kernel: 1})
			sq = b.ReLU(key+".squeeze_activation", sq)
			e1 := b.Conv2D(key+".expand1x1", sq, nn.Conv{Out: s.expand, Kernel: 1})
			e1 = b.ReLU(key+".expand1x1_activation", e1)
			e3 := b.Conv2D(key+".expand3x3", sq, nn.Conv{Out: s.expand, Kernel: 3, Padding: 1})
			e3 = b.ReLU(key+".expand3x3_activation", e3)
			x = b.Concat(key, e1, e3)
		}
	}
	x = b.Dropout("classifier.0", x, 0.5)
	x = b.Conv2D("classifier.1", x, nn.Conv{Out: outputs, Kernel: 1})
	x = b.ReLU("classifier.2", x)
	x = b.AdaptiveAvgPool2D("classifier.3", x, 1, 1)
	return b.Flatten("", x)
}

// MobileNetV2 is torchvision's MobileNetV2 (width 1.0) with the given number of outputs. ReLU6
// everywhere.
func MobileNetV2(b *nn.Builder, x *nn.Node, outputs int) *nn.Node {
	convBNReLU := func(key string, x *nn.Node, out, k, stride, groups int) *nn.Node {
		x = b.Conv2D(key+".0", x, nn.Conv{Out: out, Kernel: k, Stride: stride, Padding: (k - 1) / 2, Groups: groups, NoBias: true})
		x = b.BatchNorm(key+".1", x)
		return b.ReLU6(key+".2", x)
	}
	x = b.Tap("features.0", convBNReLU("features.0", x, 32, 3, 2, 1))
	in, idx := 32, 1
	for _, s := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, c, reps, stride := s[0], s[1], s[2], s[3]
		for r := range reps {
			st := stride
			if r > 0 {
				st = 1
			}
			key := nn.Path("features", idx)
			hidden := int(math.Round(float64(in * t)))
			y, li := x, 0
			if t != 1 {
				y = convBNReLU(nn.Path(key, "conv", li), y, hidden, 1, 1, 1)
				li++
			}
			y = convBNReLU(nn.Path(key, "conv", li), y, hidden, 3, st, hidden)
			y = b.Conv2D(nn.Path(key, "conv", li+1), y, nn.Conv{Out: c, Kernel: 1, NoBias: true})
			y = b.BatchNorm(nn.Path(key, "conv", li+2), y)
			if st == 1 && in == c {
				y = b.Add("", x, y)
			}
			x = b.Tap(key, y)
			in = c
			idx++
		}
	}
	x = b.Tap("features.18", convBNReLU("features.18", x, 1280, 1, 1, 1))
	x = b.AdaptiveAvgPool2D("avgpool", x, 1, 1)
	x = b.Dropout("classifier.0", b.Flatten("", x), 0.2)
	return b.Linear("classifier.1", x, outputs)
}

// CheckCAM says whether CAM applies to the architecture: nil, or an nn.ErrNoCAM error explaining
// why not.
func (a *Arch) CheckCAM() error {
	spec, err := a.Spec()
	if err != nil {
		return err
	}
	return (&nn.Description{Name: a.Name, CAM: spec.CAM, NoCAM: spec.NoCAM}).CheckCAM()
}
