package nn

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/gradcam-go/gradcam/internal/catch"
)

// Network is a network definition: what it takes, what it is called, and how to build it.
//
//	net := &nn.Network{Name: "fashion-gap", Input: []int{1, 28, 28}, Labels: labels,
//		Build: func(b *nn.Builder, x *nn.Node) *nn.Node {
//			x = b.Conv2D("conv1", x, nn.Conv{Out: 32, Kernel: 3, Padding: 1})
//			x = b.ReLU("relu1", x)
//			x = b.GlobalAvgPool("gap", x)
//			return b.Linear("fc", x, len(labels))
//		}}
type Network struct {
	// Name identifies the network in messages and figures.
	Name string
	// Input is one example's shape in PyTorch's layout: [C, H, W] for images, [C, L] for
	// sequences. Images of other sizes are accepted where the network allows (pooling before
	// the head); the parameters are declared at this size.
	Input []int
	// Labels name the outputs (class names); optional. When given there must be one per output.
	Labels []string
	// DefaultLayer is the module path explanations use when none is asked; empty means the CAM
	// layer if CAM applies, else the last recorded spatial activation (with more than one
	// position, when there is one).
	DefaultLayer string
	// Mean and Std normalize image pixels (RGB / 255, or gray / 255) channel by channel; nil
	// means no normalization beyond / 255.
	Mean, Std []float32
	// Side are the inputs besides x the network takes (a question's tokens, its length), which
	// Build reads with Builder.Side. Explanations hold them fixed (models.Model.Given) and explain
	// x.
	Side []SideInput
	// Build builds the network on x (channels-last: [B, H, W, C] or [B, L, C]) and returns its
	// output, [B, outputs].
	Build func(b *Builder, x *graph.Node) *graph.Node
}

// SideInput is an input of a network besides the explained one.
type SideInput struct {
	Name string
	// Shape is one example's ([12] for 12 tokens; empty for one value per example).
	Shape []int
	DType dtypes.DType
}

// LayerInfo describes a recorded activation at the network's input size.
type LayerInfo struct {
	Name  string // module path
	Shape []int  // PyTorch's layout (NCHW, NCL or [batch, features]) at batch 1
}

// Spatial reports whether the activation has spatial axes (what the CAM family explains).
func (l LayerInfo) Spatial() bool { return len(l.Shape) >= 3 }

// CAMHead locates the class weights CAM multiplies with the feature maps.
type CAMHead struct {
	// Layer is the activation whose channels the class weights combine (the input of the GAP),
	// and Aliases every module path recorded for that same activation ("layer4", "layer4.1").
	Layer   string
	Aliases []string
	// Weight is the parameter holding the class weights, [classes, channels] (or [classes,
	// channels, 1, 1] for a 1x1 convolution); Bias the class biases.
	Weight, Bias string
	// ReLUAfter says a ReLU follows the class maps before pooling (SqueezeNet). Then CAM's class
	// map is ReLU(w·A + b), whose average is exactly the logit.
	ReLUAfter bool
}

// Spec is what building a network once at its input size tells about it.
type Spec struct {
	Params  []ParamSpec
	Layers  []LayerInfo
	Outputs int
	// CAM is the network's CAM head, nil when CAM does not apply; NoCAM then says why.
	CAM   *CAMHead
	NoCAM string
	// DefaultLayer is Network.DefaultLayer or the default described there.
	DefaultLayer string

	fields map[string]ReceptiveField // of the spatial layers
}

var (
	specMu    sync.Mutex
	specCache = map[*Network]*Spec{}
)

// Spec builds the network on a throwaway graph (never compiled) at batch 1 to learn its
// parameters, activations, output size and head. The result is cached per *Network.
func (n *Network) Spec() (*Spec, error) {
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specCache[n]; ok {
		return s, nil
	}
	if err := n.check(); err != nil {
		return nil, err
	}
	s := &Spec{}
	be, err := simplego.New("")
	if err != nil {
		return nil, err
	}
	defer be.Finalize()
	err = catch.Panic(func() error {
		g := graph.NewGraph(be, "spec-"+n.Name)
		defer g.Finalize()
		seen := map[string]int{}
		side := map[string]*graph.Node{}
		for _, in := range n.Side {
			side[in.Name] = graph.Parameter(g, in.Name, shapes.Make(in.DType, append([]int{1}, in.Shape...)...))
		}
		b := NewBuilder(Config{Side: side, Param: func(p ParamSpec) *graph.Node {
			if i, ok := seen[p.Key]; ok {
				if !slices.Equal(s.Params[i].Shape, p.Shape) {
					panic(fmt.Sprintf("parameter %s declared twice with shapes %v and %v (two blocks share a module path?)",
						p.Key, s.Params[i].Shape, p.Shape))
				}
				return graph.Parameter(g, "", shapes.Make(dtypes.Float32, InternalShape(p.Shape, p.Layout, Im2col)...))
			}
			seen[p.Key] = len(s.Params)
			s.Params = append(s.Params, p)
			return graph.Parameter(g, p.Key, shapes.Make(dtypes.Float32, InternalShape(p.Shape, p.Layout, Im2col)...))
		}})
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, append([]int{1}, n.Input...)...))
		in := ChannelsLast(x)
		out := n.Build(b, in)
		if out == nil || out.Rank() != 2 {
			shape := "nothing"
			if out != nil {
				shape = out.Shape().String()
			}
			return fmt.Errorf("Build must return the outputs as [batch, outputs], returned %s", shape)
		}
		s.Outputs = out.Shape().Dimensions[1]
		for _, name := range b.fw.order {
			d := ChannelsFirst(b.fw.taps[name]).Shape().Dimensions
			s.Layers = append(s.Layers, LayerInfo{Name: name, Shape: slices.Clone(d)})
		}
		s.CAM, s.NoCAM = b.cam(out)
		s.fields = b.receptiveFields(in, s.Layers)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", n.Name, err)
	}
	if len(n.Labels) > 0 && len(n.Labels) != s.Outputs {
		return nil, fmt.Errorf("%s has %d outputs but %d labels: give one label per output", n.Name, s.Outputs, len(n.Labels))
	}
	s.DefaultLayer = n.DefaultLayer
	if s.CAM != nil && slices.Contains(s.CAM.Aliases, n.DefaultLayer) {
		s.CAM.Layer = n.DefaultLayer
	}
	if s.DefaultLayer == "" {
		if s.CAM != nil {
			s.DefaultLayer = s.CAM.Layer
		} else {
			// The last spatial activation, preferring one with more than one position (a
			// globally pooled [B, C, 1, 1] explains nothing spatially).
			positions := 0
			for _, l := range s.Layers {
				if n := shapeSize(l.Shape[2:]); l.Spatial() && (n > 1 || positions <= 1) {
					s.DefaultLayer, positions = l.Name, n
				}
			}
		}
	}
	if s.DefaultLayer != "" && !slices.ContainsFunc(s.Layers, func(l LayerInfo) bool { return l.Name == s.DefaultLayer && l.Spatial() }) {
		return nil, fmt.Errorf("%s: default layer %q is not a recorded spatial activation; layers: %s",
			n.Name, s.DefaultLayer, strings.Join(s.ExplainableLayers(), ", "))
	}
	specCache[n] = s
	return s, nil
}

// check validates the definition itself.
func (n *Network) check() error {
	if n.Build == nil {
		return fmt.Errorf("network %q has no Build function", n.Name)
	}
	if len(n.Input) < 2 || len(n.Input) > 3 || slices.ContainsFunc(n.Input, func(d int) bool { return d < 1 }) {
		return fmt.Errorf("network %q: Input must be [C, H, W] (images) or [C, L] (sequences) with positive sizes, got %v",
			n.Name, n.Input)
	}
	c := n.Input[0]
	if (n.Mean != nil || n.Std != nil) && (len(n.Mean) != c || len(n.Std) != c) {
		return fmt.Errorf("network %q: Mean and Std need one value per input channel (%d), got %d and %d",
			n.Name, c, len(n.Mean), len(n.Std))
	}
	return nil
}

// ExplainableLayers lists the spatial activations (the layers the CAM family explains) in
// forward order.
func (s *Spec) ExplainableLayers() []string {
	var out []string
	for _, l := range s.Layers {
		if l.Spatial() {
			out = append(out, l.Name)
		}
	}
	return out
}

func shapeSize(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}
