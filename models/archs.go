package models

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// Arch describes one torchvision architecture: how to build it, where its official weights
// are, and what explanations need to know about it.
type Arch struct {
	// Name is torchvision's name ("resnet50").
	Name string
	// DefaultLayer is the paper's choice of layer to explain: the output of the last
	// convolutional block ("layer4" for ResNets, "features.29" = relu5_3 for VGG-16).
	DefaultLayer string
	// CAM describes the classifier head when it is global average pooling followed by a linear
	// map, which is what CAM (Zhou et al. 2016) needs; nil when CAM does not apply.
	CAM *CAMHead
	// URL is the official torchvision checkpoint; its file name carries a SHA-256 prefix.
	URL string

	build func(n *net, x *Node) *Node
}

// CAMHead locates the class weights CAM multiplies with the feature maps.
type CAMHead struct {
	// Layer is the tap whose channels the class weights combine (the input of the GAP).
	Layer string
	// Weight is the parameter holding the class weights, [classes, channels] (or [classes,
	// channels, 1, 1] for a 1x1 convolution).
	Weight string
	// Bias is the class bias parameter.
	Bias string
	// ReLUAfter says a ReLU follows the class maps before pooling (SqueezeNet). Then CAM's class
	// map is ReLU(w·A + b), whose average is exactly the logit.
	ReLUAfter bool
}

const base = "https://download.pytorch.org/models/"

var archs = map[string]*Arch{
	"alexnet": {Name: "alexnet", DefaultLayer: "features.11", URL: base + "alexnet-owt-7be5be79.pth", build: alexnet},
	"vgg11":   vggArch("vgg11", "vgg11-8a719046.pth", []int{64, -1, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1}),
	"vgg13":   vggArch("vgg13", "vgg13-19584684.pth", []int{64, 64, -1, 128, 128, -1, 256, 256, -1, 512, 512, -1, 512, 512, -1}),
	"vgg16": vggArch("vgg16", "vgg16-397923af.pth",
		[]int{64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1}),
	"vgg19": vggArch("vgg19", "vgg19-dcbb9e9d.pth",
		[]int{64, 64, -1, 128, 128, -1, 256, 256, 256, 256, -1, 512, 512, 512, 512, -1, 512, 512, 512, 512, -1}),
	"resnet18":      resnetArch("resnet18", "resnet18-f37072fd.pth", false, [4]int{2, 2, 2, 2}),
	"resnet34":      resnetArch("resnet34", "resnet34-b627a593.pth", false, [4]int{3, 4, 6, 3}),
	"resnet50":      resnetArch("resnet50", "resnet50-0676ba61.pth", true, [4]int{3, 4, 6, 3}),
	"resnet101":     resnetArch("resnet101", "resnet101-63fe2227.pth", true, [4]int{3, 4, 23, 3}),
	"squeezenet1_0": squeezeArch("squeezenet1_0", "squeezenet1_0-b66bff10.pth", true),
	"squeezenet1_1": squeezeArch("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth", false),
	"mobilenet_v2": {Name: "mobilenet_v2", DefaultLayer: "features.18", URL: base + "mobilenet_v2-b0353104.pth",
		CAM:   &CAMHead{Layer: "features.18", Weight: "classifier.1.weight", Bias: "classifier.1.bias"},
		build: mobilenetV2},
}

// Names lists the supported architectures in a stable order.
func Names() []string {
	return []string{"alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18", "resnet34", "resnet50",
		"resnet101", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2"}
}

// LookupArch returns the architecture with torchvision's name.
func LookupArch(name string) (*Arch, error) {
	a, ok := archs[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q; supported models: %v", name, Names())
	}
	return a, nil
}

func alexnet(n *net, x *Node) *Node {
	type step struct{ out, k, stride, pad int }
	convs := map[int]step{0: {64, 11, 4, 2}, 3: {192, 5, 1, 2}, 6: {384, 3, 1, 1}, 8: {256, 3, 1, 1}, 10: {256, 3, 1, 1}}
	for i := 0; i <= 12; i++ {
		key := join("features", i)
		switch {
		case i == 2 || i == 5 || i == 12:
			x = n.maxPool(x, 3, 2, 0, false)
		case convs[i].out > 0:
			s := convs[i]
			x = n.conv2d(key, x, s.out, s.k, s.stride, s.pad, 1, true)
		default:
			x = n.relu(x, 0)
		}
		n.tap(key, x)
	}
	x = n.tap("avgpool", adaptiveAvgPool(x, 6, 6))
	return n.fcHead(flattenNCHW(x), [3]int{1, 4, 6})
}

// fcHead is the fully connected classifier of AlexNet and VGG: Linear(4096), ReLU, Linear(4096),
// ReLU, Linear(1000) at the given classifier indices (each ReLU right after its Linear; the
// dropouts between are identities in inference).
func (n *net) fcHead(x *Node, linears [3]int) *Node {
	for i, idx := range linears {
		key := join("classifier", idx)
		if i == 2 {
			return n.tap(key, n.linear(key, x, NumClasses))
		}
		x = n.tap(key, n.linear(key, x, 4096))
		x = n.tap(join("classifier", idx+1), n.relu(x, 0))
	}
	return x
}

// vggArch: cfg lists conv widths, -1 for a max pool. The default layer is the ReLU before the
// last max pool (VGG-16: features.29, relu5_3).
func vggArch(name, file string, cfg []int) *Arch {
	last := 0
	for _, v := range cfg {
		if v > 0 {
			last += 2
		} else {
			last++
		}
	}
	return &Arch{Name: name, DefaultLayer: join("features", last-2), URL: base + file,
		build: func(n *net, x *Node) *Node {
			i := 0
			for _, v := range cfg {
				if v < 0 {
					x = n.tap(join("features", i), n.maxPool(x, 2, 2, 0, false))
					i++
					continue
				}
				x = n.tap(join("features", i), n.conv2d(join("features", i), x, v, 3, 1, 1, 1, true))
				x = n.tap(join("features", i+1), n.relu(x, 0))
				i += 2
			}
			x = n.tap("avgpool", adaptiveAvgPool(x, 7, 7))
			return n.fcHead(flattenNCHW(x), [3]int{0, 3, 6})
		}}
}

// resnetArch: torchvision ResNet v1.5 (stride on the 3x3 convolution of bottlenecks).
func resnetArch(name, file string, bottleneck bool, blocks [4]int) *Arch {
	return &Arch{Name: name, DefaultLayer: "layer4", URL: base + file,
		CAM: &CAMHead{Layer: "layer4", Weight: "fc.weight", Bias: "fc.bias"},
		build: func(n *net, x *Node) *Node {
			x = n.tap("conv1", n.conv2d("conv1", x, 64, 7, 2, 3, 1, false))
			x = n.tap("bn1", n.batchNorm("bn1", x))
			x = n.tap("relu", n.relu(x, 0))
			x = n.tap("maxpool", n.maxPool(x, 3, 2, 1, false))
			expansion := 1
			if bottleneck {
				expansion = 4
			}
			inplanes := 64
			for li, planes := range []int{64, 128, 256, 512} {
				layer := join("layer", "") + fmt.Sprint(li+1)
				for bi := range blocks[li] {
					stride := 1
					if bi == 0 && li > 0 {
						stride = 2
					}
					p := join(layer, bi)
					identity := x
					out := x
					convs := [][3]int{{planes, 3, stride}, {planes, 3, 1}} // width, kernel, stride
					if bottleneck {
						convs = [][3]int{{planes, 1, 1}, {planes, 3, stride}, {planes * 4, 1, 1}}
					}
					for ci, c := range convs {
						conv, bn := join(p, fmt.Sprint("conv", ci+1)), join(p, fmt.Sprint("bn", ci+1))
						out = n.tap(conv, n.conv2d(conv, out, c[0], c[1], c[2], c[1]/2, 1, false))
						out = n.tap(bn, n.batchNorm(bn, out))
						if ci < len(convs)-1 {
							out = n.relu(out, 0)
						}
					}
					if stride != 1 || inplanes != planes*expansion {
						identity = n.tap(join(p, "downsample.0"),
							n.conv2d(join(p, "downsample.0"), x, planes*expansion, 1, stride, 0, 1, false))
						identity = n.tap(join(p, "downsample.1"), n.batchNorm(join(p, "downsample.1"), identity))
					}
					x = n.tap(p, n.relu(Add(out, identity), 0))
					inplanes = planes * expansion
				}
				n.tap(layer, x)
			}
			x = n.tap("avgpool", adaptiveAvgPool(x, 1, 1))
			x = Reshape(x, x.Shape().Dimensions[0], -1)
			return n.tap("fc", n.linear("fc", x, 1000))
		}}
}

// squeezeArch: SqueezeNet 1.0 or 1.1. The classifier is a 1x1 convolution to 1000 class maps,
// a ReLU and global average pooling, so CAM applies with the conv's weights.
func squeezeArch(name, file string, v10 bool) *Arch {
	type fire struct{ squeeze, expand int }
	var plan []any // int: conv0 width marker, "pool", fire
	if v10 {
		plan = []any{"conv7", "relu", "pool", fire{16, 64}, fire{16, 64}, fire{32, 128}, "pool",
			fire{32, 128}, fire{48, 192}, fire{48, 192}, fire{64, 256}, "pool", fire{64, 256}}
	} else {
		plan = []any{"conv3", "relu", "pool", fire{16, 64}, fire{16, 64}, "pool", fire{32, 128}, fire{32, 128},
			"pool", fire{48, 192}, fire{48, 192}, fire{64, 256}, fire{64, 256}}
	}
	return &Arch{Name: name, DefaultLayer: "features.12", URL: base + file,
		CAM: &CAMHead{Layer: "features.12", Weight: "classifier.1.weight", Bias: "classifier.1.bias", ReLUAfter: true},
		build: func(n *net, x *Node) *Node {
			for i, step := range plan {
				key := join("features", i)
				switch s := step.(type) {
				case string:
					switch s {
					case "conv7":
						x = n.conv2d(key, x, 96, 7, 2, 0, 1, true)
					case "conv3":
						x = n.conv2d(key, x, 64, 3, 2, 0, 1, true)
					case "relu":
						x = n.relu(x, 0)
					case "pool":
						x = n.maxPool(x, 3, 2, 0, true)
					}
				case fire:
					sq := n.tap(key+".squeeze", n.conv2d(key+".squeeze", x, s.squeeze, 1, 1, 0, 1, true))
					sq = n.tap(key+".squeeze_activation", n.relu(sq, 0))
					e1 := n.tap(key+".expand1x1", n.conv2d(key+".expand1x1", sq, s.expand, 1, 1, 0, 1, true))
					e1 = n.tap(key+".expand1x1_activation", n.relu(e1, 0))
					e3 := n.tap(key+".expand3x3", n.conv2d(key+".expand3x3", sq, s.expand, 3, 1, 1, 1, true))
					e3 = n.tap(key+".expand3x3_activation", n.relu(e3, 0))
					x = Concatenate([]*Node{e1, e3}, 3)
				}
				n.tap(key, x)
			}
			x = n.tap("classifier.1", n.conv2d("classifier.1", x, 1000, 1, 1, 0, 1, true))
			x = n.tap("classifier.2", n.relu(x, 0))
			x = n.tap("classifier.3", adaptiveAvgPool(x, 1, 1))
			return Reshape(x, x.Shape().Dimensions[0], -1)
		}}
}

// mobilenetV2: torchvision MobileNetV2 (width 1.0). ReLU6 everywhere.
func mobilenetV2(n *net, x *Node) *Node {
	convBNReLU := func(key string, x *Node, out, k, stride, groups int) *Node {
		x = n.tap(key+".0", n.conv2d(key+".0", x, out, k, stride, (k-1)/2, groups, false))
		x = n.tap(key+".1", n.batchNorm(key+".1", x))
		return n.tap(key+".2", n.relu(x, 6))
	}
	x = n.tap("features.0", convBNReLU("features.0", x, 32, 3, 2, 1))
	in, idx := 32, 1
	for _, s := range [][4]int{{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}} {
		t, c, reps, stride := s[0], s[1], s[2], s[3]
		for r := range reps {
			st := stride
			if r > 0 {
				st = 1
			}
			key := join("features", idx)
			hidden := int(math.Round(float64(in * t)))
			y, li := x, 0
			if t != 1 {
				y = convBNReLU(join(key, "conv", li), y, hidden, 1, 1, 1)
				li++
			}
			y = convBNReLU(join(key, "conv", li), y, hidden, 3, st, hidden)
			y = n.tap(join(key, "conv", li+1), n.conv2d(join(key, "conv", li+1), y, c, 1, 1, 0, 1, false))
			y = n.tap(join(key, "conv", li+2), n.batchNorm(join(key, "conv", li+2), y))
			if st == 1 && in == c {
				y = Add(x, y)
			}
			x = n.tap(key, y)
			in = c
			idx++
		}
	}
	x = n.tap("features.18", convBNReLU("features.18", x, 1280, 1, 1, 1))
	x = n.tap("avgpool", adaptiveAvgPool(x, 1, 1))
	x = Reshape(x, x.Shape().Dimensions[0], -1)
	return n.tap("classifier.1", n.linear("classifier.1", x, 1000))
}
