package metrics

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
)

// SanityStep is one step of the cascading randomization: the maps of the model with every layer
// from the output down to Layer re-initialized, compared with the trained model's.
type SanityStep struct {
	// Layer is the lowest layer randomized so far ("" for the trained model itself).
	Layer string
	// Spearman and SSIM are the means over the images of the rank correlation and the structural
	// similarity between the trained model's map and this one (both scaled by their maximum
	// absolute value to [0, 1] for SSIM): 1 at the start, near 0 for a method that depends on the
	// weights.
	Spearman, SSIM float64
	// Maps are this step's maps, one per image.
	Maps []Heatmap
}

// CascadingRandomization is Adebayo et al.'s model-parameter randomization test (2018), cascading
// from the top: the layers with parameters are re-initialized one at a time from the output
// down (seeded), each step keeping the earlier ones random, and every
// method's maps of each step are compared with the trained model's. The images are explained for
// the trained model's top-1 classes throughout (req.Classes and ImageClasses are set here). A
// method that explains the model changes its maps as the weights go; one that does not (guided
// backprop, in their paper) keeps them. The result has one step per layer plus the first, the
// trained model, per method.
//
// The model is a *models.Model, whose layers are initialized again as the network initializes
// them (models.Model.Randomized), or a GoMLX function (gradcam.FromFunc), whose context scopes are
// drawn again with their trained values' mean and spread.
func CascadingRandomization(m gradcam.Model, images *tensors.Tensor, req gradcam.Request, seed uint64) (map[gradcam.Method][]SanityStep, error) {
	if len(req.Methods) == 0 {
		return nil, fmt.Errorf("sanity check: no method")
	}
	r, ok := m.(randomizable)
	if !ok {
		return nil, fmt.Errorf("sanity check: %s cannot re-initialize its layers (a models.Model or a gradcam.FromFunc model can)", m.Describe().Name)
	}
	layers := r.ParamLayers()
	if len(layers) == 0 {
		return nil, fmt.Errorf("sanity check: %s has no layers with parameters", m.Describe().Name)
	}
	req.Classes = nil
	req.ImageClasses = nil
	base, err := gradcam.New(m).Explain(images, req)
	if err != nil {
		return nil, fmt.Errorf("sanity check: %w", err)
	}
	n := images.Shape().Dimensions[0]
	req.ImageClasses = make([]int, n)
	for i := range n {
		req.ImageClasses[i] = base.At(i, 0).Class
	}
	maps := func(res gradcam.Results, method gradcam.Method) ([]Heatmap, error) {
		out := make([]Heatmap, n)
		for i := range n {
			hm, err := HeatmapOf(res.At(i, 0).Maps[method])
			if err != nil {
				return nil, err
			}
			out[i] = hm
		}
		return out, nil
	}
	steps := map[gradcam.Method][]SanityStep{}
	original := map[gradcam.Method][]Heatmap{}
	for _, method := range req.Methods {
		hms, err := maps(base, method)
		if err != nil {
			return nil, fmt.Errorf("sanity check: %w", err)
		}
		original[method] = hms
		steps[method] = []SanityStep{{Spearman: 1, SSIM: 1, Maps: hms}}
	}
	for k := len(layers) - 1; k >= 0; k-- {
		rm, err := randomized(m, layers[k:], seed)
		if err != nil {
			return nil, fmt.Errorf("sanity check: %w", err)
		}
		res, err := gradcam.New(rm).Explain(images, req)
		if err != nil {
			return nil, fmt.Errorf("sanity check, %s randomized: %w", layers[k], err)
		}
		for _, method := range req.Methods {
			hms, err := maps(res, method)
			if err != nil {
				return nil, fmt.Errorf("sanity check: %w", err)
			}
			st := SanityStep{Layer: layers[k], Maps: hms}
			for i, hm := range hms {
				rho, err := Spearman(original[method][i].Values, hm.Values)
				if err != nil {
					return nil, err
				}
				s, err := SSIM(scaled(original[method][i]), scaled(hm), 1)
				if err != nil {
					return nil, fmt.Errorf("sanity check: %w", err)
				}
				st.Spearman += rho / float64(n)
				st.SSIM += s / float64(n)
			}
			steps[method] = append(steps[method], st)
		}
	}
	return steps, nil
}

// scaled divides a map by its maximum absolute value (an all-zero map stays zero).
func scaled(hm Heatmap) Heatmap {
	top := float32(0)
	for _, v := range hm.Values {
		top = max(top, v, -v)
	}
	out := Heatmap{Values: slices.Clone(hm.Values), H: hm.H, W: hm.W}
	if top > 0 {
		for i := range out.Values {
			out.Values[i] /= top
		}
	}
	return out
}

// randomizable models list the layers that own parameters (models.Model, gradcam.FromFunc's).
type randomizable interface{ ParamLayers() []string }

// randomized is m with the parameters of layers initialized again from seed.
func randomized(m gradcam.Model, layers []string, seed uint64) (gradcam.Model, error) {
	switch r := m.(type) {
	case *models.Model:
		rm, err := r.Randomized(layers, seed)
		if err != nil {
			return nil, err
		}
		return rm, nil
	case interface {
		Randomized([]string, uint64) (gradcam.Model, error)
	}:
		return r.Randomized(layers, seed)
	}
	return nil, fmt.Errorf("%s cannot re-initialize its layers", m.Describe().Name)
}
