package gradcam

import . "github.com/gomlx/gomlx/pkg/core/graph"

// excitationBackpropSpec is excitation backprop (Zhang et al. 2016): the class's marginal winning
// probability at the layer, summed over channels.
var excitationBackpropSpec = MethodSpec{
	Name: ExcitationBackprop, Title: "Excitation Backprop", Family: LayerMap,
	Summary:       "the class's winning probability passed down positive weights, summed over channels at the layer (Zhang et al. 2016)",
	InputGradient: true, Scaled: true, Excitation: true,
	Terms: func(in TermInputs) *Node { return in.Excitation },
}

// contrastiveExcitationBackpropSpec is contrastive excitation backprop (Zhang et al. 2016): the
// class's winning probability at the layer minus its dual's, the class unit with its weights
// negated. The rule being linear in what it passes down, the difference at the layer is the
// difference propagated from any layer above it.
var contrastiveExcitationBackpropSpec = MethodSpec{
	Name: ContrastiveExcitationBackprop, Title: "Contrastive Excitation Backprop", Family: LayerMap,
	Summary:       "excitation backprop of the class minus that of its dual (negated weights): what distinguishes it (Zhang et al. 2016)",
	InputGradient: true, Scaled: true, Excitation: true,
	Terms: func(in TermInputs) *Node { return Sub(in.Excitation, in.Dual) },
}
