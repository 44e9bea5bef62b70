// Package nn is the network-building API: the blocks torchvision CNNs are made of (convolutions,
// batch norm, ReLU/ReLU6 with explanation rules, pooling, linear layers, dropout), written as GoMLX
// graph code with torchvision's parameter names, so the same network definition is trained in
// GoMLX, loaded from PyTorch checkpoints and explained.
//
// A network is a Network: its input shape, optional labels, and a Build function that calls the
// Builder's blocks. Every block output is recorded under its module path ("layer4.1.conv2"), the
// names explanations refer to. Inside Build, activations are channels-last (NHWC for images, NLC
// for sequences); at the API (inputs, Forward.Tap, checkpoints) they are PyTorch's NCHW / NCL.
package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Rule says how ReLU-family activations (ReLU, ReLU6) pass gradients backwards. It is what
// distinguishes plain gradients from guided backpropagation and the deconvnet.
//
// With x the activation's input, v the gradient arriving at its output and u the upper clip
// (6 for ReLU6, none for ReLU):
//
//	Backprop:  v * [0 < x < u]            (the true gradient, 0 at the kinks as in PyTorch)
//	Guided:    v * [0 < x < u] * [v > 0]  (Springenberg et al.)
//	Deconvnet: v * [v > 0]                (Zeiler & Fergus)
//	Rescale:   v * Δy / Δx                (DeepLift, Shrikumar et al. 2017)
//
// Rescale is DeepLift's rule, as Captum computes it: the batch holds the inputs and then, in the
// same order, their references (baselines); Δx and Δy are an input's activation minus its
// reference's, before and after the activation, and both halves of the batch take the same
// multiplier (the gradient where |Δx| < 1e-10). Max pooling passes its gradient: the DeepLIFT
// authors' default (their MaxPoolDeepLiftMode.gradient), and what Captum's DeepLift computes in
// effect, its max-pooling rule being overwritten by the rule of the ReLU before the pooling.
type Rule int

const (
	// Backprop is the true gradient.
	Backprop Rule = iota
	// Guided is guided backpropagation.
	Guided
	// Deconvnet is the deconvnet's backward ReLU.
	Deconvnet
	// Rescale is DeepLift's rescale rule, on a batch of inputs followed by their references.
	Rescale
)

// String returns the rule's name.
func (r Rule) String() string {
	switch r {
	case Backprop:
		return "backprop"
	case Guided:
		return "guided"
	case Deconvnet:
		return "deconvnet"
	case Rescale:
		return "rescale"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// Forward is the symbolic result of running a model on a batch of images inside a graph: the
// logits and every named intermediate activation ("tap"), plus a way to take gradients under a
// chosen ReLU rule.
//
// One Forward serves every method of an explanation: Grad-CAM takes Gradient(y, Backprop,
// tap), guided backprop takes Gradient(y, Guided, input), both on the same forward nodes, so
// the network is evaluated once.
type Forward struct {
	// Input is the batch the forward was built on, in PyTorch's layout (NCHW images, NCL
	// sequences).
	Input *graph.Node
	// Output is the network's output, [batch, outputs]: class scores (logits) for a classifier,
	// the predicted values for a regression head.
	Output *graph.Node

	taps   map[string]*graph.Node // channels-last for spatial activations, [batch, features] otherwise.
	order  []string
	biases []Bias
	rule   *Rule     // read by the ReLU custom gradients while graph.Gradient builds the backward graph.
	lrp    *lrpState // the layers' hooks (Config.LayerRules), nil without
	// ruleReLUs counts the ReLUs built with nn.ReLU in a GoMLX model function (BuildFunction);
	// -1 for a Network, whose ReLUs all follow the rules.
	ruleReLUs int
}

// RuleReLUs counts the ReLUs of a GoMLX model function built with ReLU, which follow the
// explanation's Rule; it is -1 for a Network, whose ReLUs all do.
func (f *Forward) RuleReLUs() int { return f.ruleReLUs }

// Tap returns the activation recorded under this module path ("layer4", "features.29").
// Spatial activations are channels-first, as in PyTorch (NCHW, NCL): the result is a transposed
// copy, so take gradients with respect to TapChannelsLast's node, which the output depends on (a
// gradient to Tap's copy is zero).
func (f *Forward) Tap(name string) (*graph.Node, error) {
	x, err := f.TapChannelsLast(name)
	if err != nil {
		return nil, err
	}
	return ChannelsFirst(x), nil
}

// ChannelsFirst turns a channels-last activation (NHWC, NLC) into PyTorch's layout (NCHW, NCL);
// [batch, features] is returned as it is.
func ChannelsFirst(x *graph.Node) *graph.Node {
	switch x.Rank() {
	case 4:
		return graph.TransposeAllAxes(x, 0, 3, 1, 2)
	case 3:
		return graph.TransposeAllAxes(x, 0, 2, 1)
	}
	return x
}

// ChannelsLast is the inverse of ChannelsFirst.
func ChannelsLast(x *graph.Node) *graph.Node {
	switch x.Rank() {
	case 4:
		return graph.TransposeAllAxes(x, 0, 2, 3, 1)
	case 3:
		return graph.TransposeAllAxes(x, 0, 2, 1)
	}
	return x
}

// TapChannelsLast is Tap without the layout change: spatial activations are returned
// channels-last (NHWC, NLC), the layout the graph computes in. Gradients taken to it are
// channels-last too.
func (f *Forward) TapChannelsLast(name string) (*graph.Node, error) {
	x, ok := f.taps[name]
	if !ok {
		return nil, fmt.Errorf("unknown layer %q; valid layers: %s", name, strings.Join(f.order, ", "))
	}
	return x, nil
}

// Bias is the per-channel bias a spatial layer adds to its output: a convolution's bias, or batch
// norm's effective shift beta - mean * gamma / sqrt(var + eps) in inference.
type Bias struct {
	Layer string      // the module path whose output (a tap) carries the bias
	Value *graph.Node // [C]
}

// Biases lists the biases of the convolutions (with a bias) and batch norms on spatial
// activations, in forward order (FullGrad's bias-gradient terms). Batch norm in training, whose
// shift depends on the batch, records none.
func (f *Forward) Biases() []Bias { return slices.Clone(f.biases) }

// TapNames lists the recorded module paths in forward order.
func (f *Forward) TapNames() []string { return slices.Clone(f.order) }

// Gradient returns the gradients of the scalar y with respect to each node in wrt, with every
// ReLU-family activation passing gradients back by rule. Gradients reach only as deep as the
// deepest node in wrt: a gradient to "layer4" never touches the layers before it.
func (f *Forward) Gradient(y *graph.Node, rule Rule, wrt ...*graph.Node) []*graph.Node {
	saved := *f.rule
	*f.rule = rule
	defer func() { *f.rule = saved }()
	return graph.Gradient(y, wrt...)
}
