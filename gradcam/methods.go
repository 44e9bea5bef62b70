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
// and the CAM family of pytorch-grad-cam, from the same activations and gradients (G = dy/dA):
//
//	HiResCAM            ReLU(sum_k G_k A_k) (no pooling of the gradients)
//	Grad-CAM elementwise ReLU(sum_k ReLU(G_k A_k))
//	Grad-CAM++          weights sum_s ReLU(G) a, a = G^2 / (2 G^2 + (sum_s A) G^3 + 1e-6), 0 where G = 0
//	XGrad-CAM           weights sum_s(G A) / (sum_s A + 1e-7)
//	LayerCAM            ReLU(sum_k ReLU(G_k) A_k)
//	FEM                 weights mean_s 1[A > mean_s A + 2 std_s A] (no gradients)
//	Eigen-CAM           the projection of A on its first principal component (no gradients)
//	Eigen-Grad-CAM      the same for G * A
//
// and Captum's attributions of the input: Input x Gradient (x * dy/dx) and Integrated Gradients
// (IntegratedGradientsOptions; its convergence delta in Map.Delta).
//
// The eigen methods' sign is not defined by the SVD (pytorch-grad-cam leaves it to LAPACK); here
// the projection is flipped when its most negative value is larger in magnitude than its most
// positive one (Seg-Eigen-CAM's Eq. 13, which pytorch-grad-cam also implements for that method),
// so the salient side is positive before the ReLU.
//
// Heatmaps are scaled as pytorch-grad-cam scales them: min-max normalized at the layer's
// resolution, upsampled (bilinear, half-pixel centres), and min-max normalized again, so their
// maximum is exactly 1.
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

	HiResCAM           Method = "hirescam"
	GradCAMElementWise Method = "gradcam-elementwise"
	GradCAMPlusPlus    Method = "gradcam++"
	XGradCAM           Method = "xgradcam"
	LayerCAM           Method = "layercam"
	FEM                Method = "fem"
	EigenCAM           Method = "eigencam"
	EigenGradCAM       Method = "eigen-gradcam"

	InputXGradient      Method = "input-x-gradient"
	IntegratedGradients Method = "integrated-gradients"
)

// AllMethods lists every method in a stable order.
var AllMethods = []Method{GradCAM, Counterfactual, CAM, Saliency, GuidedBackprop, Deconvnet, GuidedGradCAM, Occlusion,
	HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM, FEM, EigenCAM, EigenGradCAM,
	InputXGradient, IntegratedGradients}

// layerMaps are the methods whose result is a heatmap computed at the explained layer (a
// low-resolution map, then the upsampled one).
var layerMaps = []Method{GradCAM, Counterfactual, CAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus, XGradCAM, LayerCAM,
	FEM, EigenCAM, EigenGradCAM}

// needsLayerGradient are the methods that use dy/dA at the explained layer.
var needsLayerGradient = []Method{GradCAM, Counterfactual, GuidedGradCAM, HiResCAM, GradCAMElementWise, GradCAMPlusPlus,
	XGradCAM, LayerCAM, EigenGradCAM}

// IsGradientImage reports whether the method's result is an image-sized gradient with three
// channels (guided backprop, deconvnet, Guided Grad-CAM) rather than a heatmap.
func (m Method) IsGradientImage() bool {
	return m == GuidedBackprop || m == Deconvnet || m == GuidedGradCAM || m == InputXGradient || m == IntegratedGradients
}

// usesLayer reports whether the method depends on the explained layer.
func (m Method) usesLayer() bool {
	return m == GuidedGradCAM || slices.Contains(layerMaps, m)
}

// isEigen reports the methods finished on the host (the SVD of each image's activations).
func (m Method) isEigen() bool { return m == EigenCAM || m == EigenGradCAM }

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
