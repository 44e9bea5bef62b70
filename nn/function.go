package nn

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// builderParam is the graph parameter under which BuildFunction leaves its Builder for Tap and
// ReLU to find while a model function builds an explanation graph.
const builderParam = "gradcam.nn.builder"

// builderIn is the Builder building g for an explanation, nil otherwise.
func builderIn(ctx *context.Context, g *graph.Graph) *Builder {
	return context.GetGraphParamOr[*Builder](ctx, g, builderParam, nil)
}

// BuildFunction builds a plain GoMLX model function into a Forward. fn runs on input (PyTorch's
// layout, NCHW / NCL) turned to channels-last unless channelsFirst; the activations it marks with
// Tap are recorded under their names, and the ReLUs it builds with ReLU pass gradients back by the
// explanation's Rule. cfg's Plain, RulesFrom and Replace apply as for a Network; its Param is
// unused (fn reads its own variables from ctx).
func BuildFunction(ctx *context.Context, input *graph.Node, cfg Config, channelsFirst bool,
	fn func(ctx *context.Context, x *graph.Node) *graph.Node) *Forward {
	b := NewBuilder(cfg)
	b.channelsFirst = channelsFirst
	g := input.Graph()
	ctx.SetGraphParam(g, builderParam, b)
	defer ctx.SetGraphParam(g, builderParam, nil)
	x := input
	if !channelsFirst {
		x = ChannelsLast(input)
	}
	out := fn(ctx, x)
	b.fw.ruleReLUs = b.relus
	return b.Finish(input, out)
}

// Tap marks x as the activation named name in a GoMLX model function (see BuildFunction): the
// layers explanations can use. Outside an explanation graph (training, inference) it returns x
// and costs nothing.
func Tap(ctx *context.Context, name string, x *graph.Node) *graph.Node {
	b := builderIn(ctx, x.Graph())
	if b == nil {
		return x
	}
	if b.channelsFirst && x.Rank() >= 3 {
		// Record the channels-last view the explanation takes gradients to, and go on from it,
		// so that the gradient reaches the recorded node.
		return ChannelsFirst(b.Tap(name, ChannelsLast(x)))
	}
	return b.Tap(name, x)
}

// ReLU is max(x, 0) in a GoMLX model function. In an explanation graph (see BuildFunction) it
// passes gradients back by the explanation's Rule, as Builder.ReLU does: guided backpropagation,
// the deconvnet and Guided Grad-CAM need the function's ReLUs built with it.
func ReLU(ctx *context.Context, x *graph.Node) *graph.Node {
	b := builderIn(ctx, x.Graph())
	if b == nil {
		return graph.Max(x, graph.ScalarZero(x.Graph(), x.DType()))
	}
	b.relus++
	return b.relu(x, 0)
}
