// Checking a request against the model, and filling in its defaults.

package gradcam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gradcam-go/gradcam/nn"
)

// validate checks a request against the model and fills defaults.
func (e *Explainer) validate(images *tensors.Tensor, req *Request) error {
	req.targetGiven = req.Target.Fn != nil
	if !req.targetGiven {
		req.Target = Logit()
	}
	if req.Target.Name == "" {
		return fmt.Errorf("the request's Target has no Name: name it (compiled graphs are cached by that name, so two " +
			"unnamed targets would share one)")
	}
	if err := e.desc.CheckInput(images, e.Model.DType()); err != nil {
		return err
	}
	if len(req.Methods) == 0 {
		return fmt.Errorf("no method given; methods: %s", methodList())
	}
	for _, m := range req.Methods {
		if !m.known() {
			return fmt.Errorf("unknown method %q; methods: %s", m, methodList())
		}
	}
	if !e.desc.Biases && slices.Contains(req.Methods, FullGrad) {
		return fmt.Errorf("FullGrad sums the gradients of every layer's bias, and %s does not record its biases "+
			"(a GoMLX function): use another method, or define the network with package nn", e.desc.Name)
	}
	if !e.desc.Biases {
		for _, m := range req.Methods {
			if m.spec().Relevance || m.spec().Excitation {
				return fmt.Errorf("%s: LRP's rules apply to layers built with package nn, and %s is a GoMLX function whose "+
					"layers are not known: use a gradient method, or define the network with nn.Builder", m, e.desc.Name)
			}
		}
	}
	if e.desc.RuleReLUs == 0 {
		for _, m := range req.Methods {
			if m == GuidedBackprop || m == Deconvnet || m == GuidedGradCAM || m == DeepLift || m == DeepLiftShap {
				return fmt.Errorf("%s changes how ReLUs pass gradients back, and %s builds none with nn.ReLU: "+
					"write its activations as nn.ReLU(ctx, x) instead of activations.Relu", m.Title(), e.desc.Name)
			}
		}
	}
	if len(req.ImageClasses) > 0 {
		if len(req.Classes) > 0 {
			return fmt.Errorf("give Classes (the same for every image) or ImageClasses (one per image), not both")
		}
		if b := images.Shape().Dimensions[0]; len(req.ImageClasses) != b {
			return fmt.Errorf("ImageClasses has %d classes for %d images: give one per image", len(req.ImageClasses), b)
		}
	} else if len(req.Classes) == 0 {
		req.Classes = []int{-1}
	}
	for _, c := range append(slices.Clone(req.Classes), req.ImageClasses...) {
		if c < -1 || c >= e.desc.Outputs {
			return fmt.Errorf("class %d out of range: %s has %d outputs, 0..%d (-1 for the top prediction)",
				c, e.desc.Name, e.desc.Outputs, e.desc.Outputs-1)
		}
	}
	if len(req.Layers) == 0 {
		req.Layers = []string{e.desc.DefaultLayer}
	}
	layers := e.desc.ExplainableLayers()
	for i, l := range req.Layers {
		if !slices.Contains(layers, l) {
			return fmt.Errorf("unknown layer %q for %s; explainable layers: %s", l, e.desc.Name, strings.Join(layers, ", "))
		}
		if slices.Contains(req.Layers[:i], l) {
			return fmt.Errorf("layer %q is listed twice", l)
		}
	}
	if slices.Contains(req.Methods, CAM) {
		if err := e.desc.CheckCAM(); err != nil {
			return err
		}
		for _, l := range req.Layers {
			if !slices.Contains(e.desc.CAM.Aliases, l) {
				return fmt.Errorf("%w at layer %s of %s: CAM's class weights combine the channels of %s, the input of the "+
					"global average pooling; use gradcam for other layers", nn.ErrNoCAM, l, e.desc.Name, e.desc.CAM.Layer)
			}
		}
	}
	if slices.Contains(req.Methods, GuidedGradCAM) {
		if req.GuidedCAM == "" {
			req.GuidedCAM = GradCAM
		}
		if !req.GuidedCAM.spec().Scaled {
			return fmt.Errorf("Guided Grad-CAM multiplies guided backprop with a CAM map; %q is not one (use one of: %s)",
				req.GuidedCAM, joinMethods(methodsWith(func(s MethodSpec) bool { return s.Scaled })))
		}
	}
	if slices.Contains(req.Methods, IntegratedGradients) {
		req.IntegratedGradients = req.IntegratedGradients.withDefaults()
		if err := req.IntegratedGradients.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, SmoothGrad) {
		req.SmoothGrad = req.SmoothGrad.withDefaults()
		if err := req.SmoothGrad.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
		if req.SmoothGrad.Method == IntegratedGradients {
			req.IntegratedGradients = req.IntegratedGradients.withDefaults()
			if err := req.IntegratedGradients.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
				return err
			}
		}
	}
	req.Perturbation = req.Perturbation.withDefaults() // also for Guided Grad-CAM over Score-CAM or Ablation-CAM
	if err := req.Perturbation.check(); err != nil {
		return err
	}
	if slices.Contains(req.Methods, Occlusion) {
		if images.Rank() != 4 {
			return fmt.Errorf("occlusion slides a square patch over images; %s takes sequences", e.desc.Name)
		}
		d := images.Shape().Dimensions
		req.Occlusion = req.Occlusion.withDefaults(d[2], d[3])
		if err := req.Occlusion.check(d[2], d[3]); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, GradientShap) {
		req.GradientShap = req.GradientShap.withDefaults()
		if err := req.GradientShap.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(req.Methods, func(m Method) bool { return m.spec().Relevance }) {
		req.LRP = req.LRP.withDefaults()
		if req.LRP.Low == nil && req.LRP.High == nil && slices.Contains(req.Methods, LRPEpsilonGammaBox) {
			req.LRP.Low, req.LRP.High = batchBounds(images)
		}
		if err := req.LRP.check(req.Methods, images.Shape().Dimensions[1]); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, DeepLift) || slices.Contains(req.Methods, DeepLiftShap) {
		req.DeepLift = req.DeepLift.withDefaults()
		if err := req.DeepLift.check(shapeSize(images.Shape().Dimensions[1:])); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, LIME) || slices.Contains(req.Methods, KernelShap) {
		req.Surrogate = req.Surrogate.withDefaults()
		d := images.Shape().Dimensions
		if err := req.Surrogate.check(shapeSize(d[2:]), shapeSize(d[1:])); err != nil {
			return err
		}
	}
	if slices.Contains(req.Methods, RISE) {
		if images.Rank() != 4 {
			return fmt.Errorf("RISE masks images; %s takes sequences", e.desc.Name)
		}
		d := images.Shape().Dimensions
		req.RISE = req.RISE.withDefaults()
		if err := req.RISE.check(d[2], d[3]); err != nil {
			return err
		}
	}
	if req.Counterfactual {
		for _, m := range req.Methods {
			if !m.spec().Counterfactual {
				return fmt.Errorf("Counterfactual negates the gradients of %s; %s cannot be asked with it",
					joinMethods(methodsWith(func(s MethodSpec) bool { return s.Counterfactual })), m)
			}
		}
	}
	if req.AugSmooth && images.Rank() != 4 {
		return fmt.Errorf("AugSmooth flips images horizontally; %s takes sequences", e.desc.Name)
	}
	return nil
}
