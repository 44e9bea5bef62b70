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
//	Score-CAM           weights softmax_k y(x * M_k), M_k = A_k upsampled (align corners), min-max scaled
//	Ablation-CAM        weights (y - y_k) / |y|, y_k the score with channel k of A ablated
//	FullGrad            |x dy/dx| plus |b dy/dz| of every convolution and batch norm bias b (any layer)
//
// and Captum's attributions of the input: Input x Gradient (x * dy/dx), Integrated Gradients
// (IntegratedGradientsOptions; its convergence delta in Map.Delta) and SmoothGrad, SmoothGrad
// squared and VarGrad over a gradient method (SmoothGradOptions).
//
// Where the reference has a quirk we do not follow, the method's options say so: Ablation-CAM
// divides by |y| where pytorch-grad-cam divides by y (a negative score would flip the map).
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

	ScoreCAM    Method = "scorecam"
	AblationCAM Method = "ablationcam"
	FullGrad    Method = "fullgrad"

	InputXGradient      Method = "input-x-gradient"
	IntegratedGradients Method = "integrated-gradients"
	SmoothGrad          Method = "smoothgrad"

	RISE         Method = "rise"
	GradientShap Method = "gradient-shap"

	LRP                       Method = "lrp"
	LRPEpsilon                Method = "lrp-epsilon"
	LRPGamma                  Method = "lrp-gamma"
	LRPAlpha2Beta1            Method = "lrp-alpha2beta1"
	LRPEpsilonPlus            Method = "lrp-epsilon-plus"
	LRPEpsilonPlusFlat        Method = "lrp-epsilon-plus-flat"
	LRPEpsilonGammaBox        Method = "lrp-epsilon-gamma-box"
	LRPEpsilonAlpha2Beta1     Method = "lrp-epsilon-alpha2beta1"
	LRPEpsilonAlpha2Beta1Flat Method = "lrp-epsilon-alpha2beta1-flat"

	DeepLift     Method = "deeplift"
	DeepLiftShap Method = "deeplift-shap"

	LIME       Method = "lime"
	KernelShap Method = "kernel-shap"

	ExcitationBackprop            Method = "excitation-backprop"
	ContrastiveExcitationBackprop Method = "contrastive-excitation-backprop"
)

// Signed reports whether the method's [C, H, W] result is signed evidence for and against the
// class (LRP's relevance, DeepLift's contributions), best shown with render.Relevance.
func (m Method) Signed() bool { return m.spec().Signed }

// IsGradientImage reports whether the method's result is an image-sized gradient with three
// channels (guided backprop, deconvnet, Guided Grad-CAM, the input attributions) rather than a
// heatmap.
func (m Method) IsGradientImage() bool { return m.spec().GradientImage }

// finishedOnHost reports the layer maps the graph returns as per-channel terms [B, h, w, C] for
// the host to weight and reduce: the eigen methods, the perturbation methods and, with
// EigenSmooth, every method it applies to.
func (m Method) finishedOnHost(eigenSmooth bool) bool {
	s := m.spec()
	return s.Eigen || s.Perturbation || (eigenSmooth && s.EigenSmooth)
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
		if !m.known() {
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

func methodList() string { return joinMethods(Methods()) }

// joinMethods lists method names, comma-separated.
func joinMethods(ms []Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}
