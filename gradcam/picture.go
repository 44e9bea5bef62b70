package gradcam

import (
	"fmt"
	"image"

	"github.com/gradcam-go/gradcam/gradcam/render"
)

// MethodTitles are the methods' names as figures caption them.
var MethodTitles = map[Method]string{
	GradCAM: "Grad-CAM", Counterfactual: "Counterfactual", CAM: "CAM", Saliency: "Saliency",
	GuidedBackprop: "Guided Backprop", Deconvnet: "Deconvnet", GuidedGradCAM: "Guided Grad-CAM", Occlusion: "Occlusion",
}

// Picture renders a map for people: heatmaps (the CAM family, saliency, occlusion) normalized
// and blended over the image they explain with the colormap (pytorch-grad-cam's
// show_cam_on_image, image weight 0.5); gradient images as pytorch-grad-cam's deprocess_image.
func (m *Map) Picture(img *image.RGBA, cm render.Colormap) (*image.RGBA, error) {
	if m == nil {
		return nil, fmt.Errorf("no map")
	}
	if m.Method.IsGradientImage() {
		return render.GradientImage(m.Values, m.Shape[2], m.Shape[1])
	}
	return render.Overlay(img, render.Normalize(m.Values), cm, 0.5)
}
