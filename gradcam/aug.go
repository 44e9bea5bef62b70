package gradcam

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// augmentation is one of pytorch-grad-cam's aug_smooth transforms (ttach's HorizontalFlip x
// Multiply(0.9, 1, 1.1)); the identity is the un-augmented explanation.
type augmentation struct {
	flip   bool
	factor float32
}

var augmentations = []augmentation{{false, 0.9}, {false, 1.1}, {true, 0.9}, {true, 1}, {true, 1.1}}

// augSmooth replaces the CAM maps of result (the un-augmented explanation) by their mean over
// the six augmentations, each map flipped back; every class is the one result explains.
func (e *Explainer) augSmooth(images *tensors.Tensor, req Request, result Results) error {
	var methods []Method
	for _, m := range req.Methods {
		if m.spec().Scaled {
			methods = append(methods, m)
		}
	}
	if slices.Contains(req.Methods, GuidedGradCAM) && !slices.Contains(methods, req.GuidedCAM) {
		methods = append(methods, req.GuidedCAM)
	}
	if len(methods) == 0 {
		return nil
	}
	dims := images.Shape().Dimensions
	b, w := dims[0], dims[3]
	pixels := toFloat32(images)
	batch := make([]float32, 0, len(augmentations)*len(pixels))
	for _, a := range augmentations {
		for p := range pixels {
			v := pixels[p]
			if a.flip {
				v = pixels[p-p%w+w-1-p%w]
			}
			batch = append(batch, v*a.factor)
		}
	}
	augmented := fromFloat32(batch, e.Model.DType(), append([]int{len(augmentations) * b}, dims[1:]...)...)
	defer augmented.FinalizeAll()
	k := len(result) / b
	for j := range k {
		sub := req
		sub.Methods, sub.Classes, sub.ImageClasses = methods, nil, make([]int, len(augmentations)*b)
		sub.AugSmooth = false
		for t := range augmentations {
			for i := range b {
				sub.ImageClasses[t*b+i] = result[i*k+j].Class
			}
		}
		res, err := e.explain(augmented, sub)
		if err != nil {
			return err
		}
		for i := range b {
			ex := result[i*k+j]
			for _, m := range methods {
				mp := ex.Maps[m]
				sum := make([]float32, len(mp.Values))
				copy(sum, mp.Values)
				for t, a := range augmentations {
					v := res[t*b+i].Maps[m].Values
					for p := range sum {
						if a.flip {
							sum[p] += v[p-p%w+w-1-p%w]
						} else {
							sum[p] += v[p]
						}
					}
				}
				for p := range sum {
					sum[p] /= float32(len(augmentations) + 1)
				}
				mp.Values, mp.AllZero = sum, allZero(sum, false)
			}
		}
	}
	return nil
}
