// Package gradcam explains CNN classifications: Grad-CAM, counterfactual Grad-CAM, CAM, vanilla
// gradient saliency, guided backpropagation, the deconvnet, Guided Grad-CAM and occlusion maps,
// computed as GoMLX graph gradients to the intermediate activations of the models in package
// models.
//
// Every gradient method is a small function of the activations A of the explained layer, the
// gradient dy/dA of a target y, and the gradient dy/dx of y with respect to the image x under a
// ReLU rule (models.Rule):
//
//	Grad-CAM        ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of dy/dA_k
//	counterfactual  the same with -dy/dA (regions whose removal would raise y)
//	CAM             sum_k w_k^c A_k with the classifier's weights (GAP + linear models)
//	saliency        max over channels of |dy/dx|
//	guided backprop dy/dx under the Guided rule; deconvnet: under the Deconvnet rule
//	Guided Grad-CAM guided backprop times the Grad-CAM map at input size
//
// One Explain call runs the network forward once for all its images, classes and methods.
package gradcam

import (
	"fmt"
	"slices"
	"strings"
)

// Method names an explanation method.
type Method string

// The methods. Their string values are what the command line takes.
const (
	GradCAM        Method = "gradcam"
	Counterfactual Method = "counterfactual"
	CAM            Method = "cam"
	Saliency       Method = "saliency"
	GuidedBackprop Method = "guided-backprop"
	Deconvnet      Method = "deconvnet"
	GuidedGradCAM  Method = "guided-gradcam"
	Occlusion      Method = "occlusion"
)

// AllMethods lists every method in a stable order.
var AllMethods = []Method{GradCAM, Counterfactual, CAM, Saliency, GuidedBackprop, Deconvnet, GuidedGradCAM, Occlusion}

// IsGradientImage reports whether the method's result is an image-sized gradient with three
// channels (guided backprop, deconvnet, Guided Grad-CAM) rather than a heatmap.
func (m Method) IsGradientImage() bool {
	return m == GuidedBackprop || m == Deconvnet || m == GuidedGradCAM
}

// usesLayer reports whether the method depends on the explained layer.
func (m Method) usesLayer() bool {
	return m == GradCAM || m == Counterfactual || m == CAM || m == GuidedGradCAM
}

// ParseMethods parses a comma-separated list of method names.
func ParseMethods(list string) ([]Method, error) {
	var out []Method
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		m := Method(strings.ToLower(s))
		if !slices.Contains(AllMethods, m) {
			return nil, fmt.Errorf("unknown method %q; methods: %s", s, methodList())
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no method given; methods: %s", methodList())
	}
	return out, nil
}

func methodList() string {
	s := make([]string, len(AllMethods))
	for i, m := range AllMethods {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}
