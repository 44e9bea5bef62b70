// Package visualize shows what a network's units respond to, as a CNN-visualization lecture
// does: the dataset patches that excite a channel most, each cropped to the unit's receptive
// field (TopPatches).
package visualize

import (
	"fmt"
	"image"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
)

// Patch is one image's strongest response of a channel: where in the layer, how strong, and the
// input region that position sees.
type Patch struct {
	Image      int     // index of the example in the set
	Row, Col   int     // position in the layer's map
	Activation float32 // the channel's value there
	// Field is the receptive field of the position, unclipped (it may reach into the padding);
	// Region is Field clipped to the image, the patch to show.
	Field, Region image.Rectangle
}

// TopPatches runs the model over set (in batches of batchSize; 0 means 64) and returns, best
// first, the k images whose strongest response of channel at layer is largest, each with the
// position of that response and its receptive field (one patch per image, as in Zeiler and
// Fergus's figures). Ties keep the earlier image first.
func TopPatches(m *models.Model, set *data.Set, layer string, channel, k, batchSize int) ([]Patch, error) {
	if set == nil || set.Len() == 0 {
		return nil, fmt.Errorf("top patches: the dataset is empty: give a set with images")
	}
	if err := set.Check(); err != nil {
		return nil, fmt.Errorf("top patches: %w", err)
	}
	if k < 1 {
		return nil, fmt.Errorf("top patches: k must be at least 1, not %d", k)
	}
	field, err := m.Spec.ReceptiveField(layer)
	if err != nil {
		return nil, fmt.Errorf("top patches of %s: %w", m.Name, err)
	}
	if len(set.Shape) != 3 {
		return nil, fmt.Errorf("top patches: %q holds examples of shape %v, not images [C, H, W]", set.Name, set.Shape)
	}
	h, w := set.Shape[1], set.Shape[2]
	if batchSize < 1 {
		batchSize = 64
	}
	var best []Patch
	err = set.ForEachBatch(batchSize, func(idx []int, x *tensors.Tensor) error {
		acts, err := m.Activations(x, layer)
		if err != nil {
			return fmt.Errorf("top patches: %w", err)
		}
		a := acts[layer]
		if len(a.Shape) != 4 {
			return fmt.Errorf("top patches: layer %s of %s is not an image map (shape %v)", layer, m.Name, a.Shape)
		}
		c, lh, lw := a.Shape[1], a.Shape[2], a.Shape[3]
		if channel < 0 || channel >= c {
			return fmt.Errorf("top patches: channel %d is out of range: %s has channels 0..%d", channel, layer, c-1)
		}
		for j, i := range idx {
			plane := a.Data[(j*c+channel)*lh*lw : (j*c+channel+1)*lh*lw]
			at := 0
			for p, v := range plane {
				if v > plane[at] {
					at = p
				}
			}
			row, col := at/lw, at%lw
			f := field.Region(row, col)
			best = append(best, Patch{Image: i, Row: row, Col: col, Activation: plane[at], Field: f,
				Region: f.Intersect(image.Rect(0, 0, w, h))})
		}
		// Keep the k best so far (a stable sort keeps earlier images first among ties).
		slices.SortStableFunc(best, func(p, q Patch) int {
			switch {
			case p.Activation > q.Activation:
				return -1
			case p.Activation < q.Activation:
				return 1
			}
			return 0
		})
		best = best[:min(k, len(best))]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return best, nil
}
