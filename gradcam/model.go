package gradcam

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/nn"
)

// Model is what an Explainer needs of a network: a description of it, and its forward pass built
// into GoMLX graphs with its layers recorded by name and its ReLUs passing gradients back by the
// rule an explanation chooses (nn.Forward).
//
// *models.Model implements it (the zoo, nn networks, checkpoints and ONNX imports), and so does
// FromFunc's adapter of a plain GoMLX model function.
type Model interface {
	// Describe tells the network's name, input, outputs, labels, layers and CAM head.
	Describe() *nn.Description
	// Backend is the backend the model computes on.
	Backend() backends.Backend
	// Context holds the model's variables; explanation graphs are built on it.
	Context() *context.Context
	// DType is the precision the model computes in.
	DType() dtypes.DType
	// ForwardWith builds the forward pass on inputs (PyTorch's layout: NCHW images, NCL
	// sequences) with cfg's options: Plain (no rule-aware ReLUs), RulesFrom, Replace.
	ForwardWith(ctx *context.Context, inputs *graph.Node, cfg nn.Config) *nn.Forward
	// CAMWeights returns, in the graph being built, the class weights [classes, channels] and
	// biases [classes] of the CAM head, or an error wrapping nn.ErrNoCAM.
	CAMWeights(ctx *context.Context, g *graph.Graph) (w, b *graph.Node, err error)
}
