package nn

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Description is what explaining a network needs to know of it without building it: its name,
// input, outputs, labels and recorded layers, and its CAM head. Network and Spec give one for an
// nn network (models.Model.Describe); an adapted GoMLX model function gives one from building
// its graph once.
type Description struct {
	Name string
	// Input is one example's shape in PyTorch's layout: [C, H, W] images, [C, L] sequences.
	Input   []int
	Outputs int
	// Labels name the outputs; nil when the network has none.
	Labels []string
	// Layers are the recorded activations at the input size, in forward order.
	Layers []LayerInfo
	// DefaultLayer is the layer explanations use when none is asked.
	DefaultLayer string
	// CAM is the CAM head, nil when CAM does not apply; NoCAM then says why.
	CAM   *CAMHead
	NoCAM string
	// RuleReLUs counts the ReLUs that pass gradients back by an explanation's Rule in a GoMLX
	// model function (built with nn.ReLU); -1 for a Network, whose ReLUs all do.
	RuleReLUs int
	// Biases says Forward.Biases lists the bias of every layer (a Network's do; FullGrad needs
	// them).
	Biases bool
}

// ErrNoCAM is returned when CAM is asked of a network that does not end in global average
// pooling followed by a linear classifier.
var ErrNoCAM = errors.New("CAM does not apply")

// CheckCAM says whether CAM applies to the described network: nil, or an ErrNoCAM error
// explaining why not.
func (d *Description) CheckCAM() error {
	if d.CAM == nil {
		return fmt.Errorf("%w to %s: %s; use gradcam, which generalizes CAM to any architecture (or give the network "+
			"global average pooling + one linear layer and retrain it)", ErrNoCAM, d.Name, d.NoCAM)
	}
	return nil
}

// ExplainableLayers lists the spatial activations (the layers the CAM family explains) in
// forward order.
func (d *Description) ExplainableLayers() []string {
	var out []string
	for _, l := range d.Layers {
		if l.Spatial() {
			out = append(out, l.Name)
		}
	}
	return out
}

// HasLayer reports whether a layer of that module path is recorded.
func (d *Description) HasLayer(name string) bool {
	return slices.ContainsFunc(d.Layers, func(l LayerInfo) bool { return l.Name == name })
}

// Label is the name of output i, or "" when the network has no labels.
func (d *Description) Label(i int) string {
	if i >= 0 && i < len(d.Labels) {
		return d.Labels[i]
	}
	return ""
}

// CheckClass says whether c is one of the outputs.
func (d *Description) CheckClass(c int) error {
	if c < 0 || c >= d.Outputs {
		return fmt.Errorf("class %d is out of range: %s has %d outputs (0..%d)", c, d.Name, d.Outputs, d.Outputs-1)
	}
	return nil
}

// CheckInput validates an input batch in precision dtype: [batch, C, H, W] (any H and W) for
// image networks, [batch, C, L] (any L) for sequence networks.
func (d *Description) CheckInput(inputs *tensors.Tensor, dtype dtypes.DType) error {
	s := inputs.Shape()
	want := fmt.Sprintf("[batch, %d, height, width]", d.Input[0])
	maker := " (preprocess.Preprocess makes one)"
	if len(d.Input) == 2 {
		want, maker = fmt.Sprintf("[batch, %d, length]", d.Input[0]), ""
	}
	if s.DType != dtype || s.Rank() != len(d.Input)+1 || s.Dimensions[0] < 1 || s.Dimensions[1] != d.Input[0] ||
		slices.Contains(s.Dimensions, 0) {
		return fmt.Errorf("%s takes a %s %s tensor%s, got %s", d.Name, strings.ToLower(dtype.String()), want, maker, s)
	}
	return nil
}
