package gradcam

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/heatmap"
)

// RISEOptions configure RISE (Petsiuk et al. 2018): N random masks, each a grid of Cell x Cell
// cells kept with probability P, upsampled bilinearly to (Cell+1) cells of the image's size
// divided by Cell and cropped at a random shift of up to one cell; the image is multiplied by
// each mask (0 is the dataset's mean colour after normalization) and the map is the sum of the
// masks weighted by the class's score under each, divided by N P. The masks are drawn from Seed:
// the same options give the same masks. The zero value is the paper's setting for ImageNet
// (N 4000, 8 x 8 cells, P 0.5).
type RISEOptions struct {
	// Masks is N, the number of masks; 0 means 4000 (the paper's VGG-16 setting; it used 8000
	// for ResNet-50).
	Masks int
	// Cell is the grid's side in cells; 0 means 8.
	Cell int
	// P is the probability that a cell is kept, in (0, 1]; 0 means 0.5.
	P float64
	// Seed draws the masks.
	Seed uint64
	// BatchSize is the number of masked images per forward execution; 0 sizes it by Memory.
	BatchSize int
	// Memory bounds the activation memory of one forward pass when BatchSize is 0, in bytes (0:
	// DefaultOcclusionMemory), as for occlusion.
	Memory int64
	// Given are the masks themselves, [Masks, H, W] row-major at the images' size, used instead
	// of drawing them: masks saved by RISE's own code, or one's own.
	Given []float32
}

// withDefaults fills what o leaves at 0.
func (o RISEOptions) withDefaults() RISEOptions {
	if o.Masks == 0 {
		o.Masks = 4000
	}
	if o.Cell == 0 {
		o.Cell = 8
	}
	if o.P == 0 {
		o.P = 0.5
	}
	return o
}

// check validates the options for h x w images.
func (o RISEOptions) check(h, w int) error {
	switch {
	case o.Masks < 1:
		return fmt.Errorf("RISE needs at least 1 mask, got %d", o.Masks)
	case o.P <= 0 || o.P > 1 || math.IsNaN(o.P):
		return fmt.Errorf("RISE's keep probability must be in (0, 1], got %g", o.P)
	case o.Cell < 1 || o.Cell > min(h, w):
		return fmt.Errorf("RISE's grid must have 1 to %d cells a side (the image's shorter side), got %d", min(h, w), o.Cell)
	case o.BatchSize < 0 || o.Memory < 0:
		return fmt.Errorf("RISE's batch size and memory must be >= 0 (0: sized by memory), got %d and %d", o.BatchSize, o.Memory)
	case o.Given != nil && len(o.Given) != o.Masks*h*w:
		return fmt.Errorf("RISE was given %d mask values, but %d masks of %dx%d need %d", len(o.Given), o.Masks, h, w, o.Masks*h*w)
	}
	return nil
}

// RISEMasks draws the masks of o (with its defaults) for h x w images, [Masks, H, W] row-major,
// as RISE's generate_masks does: a random grid of Cell x Cell cells, each kept with probability
// P, upsampled bilinearly to (Cell+1) cells of ceil(h/Cell) x ceil(w/Cell) pixels, and cropped to
// h x w at a random shift within the first cell. (RISE's scikit-image resize reflects at the
// grid's border where this one holds the edge value: the outermost half cell differs.)
func RISEMasks(o RISEOptions, h, w int) ([]float32, error) {
	o = o.withDefaults()
	if err := o.check(h, w); err != nil {
		return nil, err
	}
	if o.Given != nil {
		return o.Given, nil
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x5249534521)) // "RISE!"
	cellH, cellW := (h+o.Cell-1)/o.Cell, (w+o.Cell-1)/o.Cell
	upH, upW := (o.Cell+1)*cellH, (o.Cell+1)*cellW
	wy, wx := heatmap.LinearWeights(upH, o.Cell, false), heatmap.LinearWeights(upW, o.Cell, false)
	masks := make([]float32, o.Masks*h*w)
	grid := make([]float64, o.Cell*o.Cell)
	rows := make([]float64, upH*o.Cell) // the grid upsampled along y
	for i := range o.Masks {
		for c := range grid {
			grid[c] = 0
			if r.Float64() < o.P {
				grid[c] = 1
			}
		}
		dy, dx := r.IntN(cellH), r.IntN(cellW)
		for y := range upH {
			for cx := range o.Cell {
				s := 0.0
				for cy, wt := range wy[y] {
					s += wt * grid[cy*o.Cell+cx]
				}
				rows[y*o.Cell+cx] = s
			}
		}
		m := masks[i*h*w : (i+1)*h*w]
		for y := range h {
			for x := range w {
				s := 0.0
				for cx, wt := range wx[x+dx] {
					s += wt * rows[(y+dy)*o.Cell+cx]
				}
				m[y*w+x] = float32(s)
			}
		}
	}
	return masks, nil
}

// rise fills the RISE maps of result (k classes per image, already resolved).
func (e *Explainer) rise(images *tensors.Tensor, target Target, o RISEOptions, k int, result Results) error {
	d := images.Shape().Dimensions
	b, ch, height, width := d[0], d[1], d[2], d[3]
	hw := height * width
	masks, err := RISEMasks(o, height, width)
	if err != nil {
		return err
	}
	exec, err := e.scoreExec(target)
	if err != nil {
		return err
	}
	batchSize := o.BatchSize
	if batchSize == 0 {
		batchSize = e.perturbedBatch(height, width, o.Memory, 100) // RISE's own batch: 100
	}
	pixels := toFloat32(images)
	for i := range b {
		img := pixels[i*ch*hw : (i+1)*ch*hw]
		classes := make([]int32, k)
		for j := range k {
			classes[j] = int32(result[i*k+j].Class)
		}
		sal := make([][]float64, k)
		for j := range sal {
			sal[j] = make([]float64, hw)
		}
		err := e.scorePerturbed(exec, "RISE", d[1:], classes, o.Masks, batchSize, func(m int, dst []float32) {
			mask := masks[m*hw : (m+1)*hw]
			for c := range ch {
				for p, v := range img[c*hw : (c+1)*hw] {
					dst[c*hw+p] = v * mask[p]
				}
			}
		}, func(m int, scores []float32) {
			mask := masks[m*hw : (m+1)*hw]
			for j, s := range scores {
				for p, v := range mask {
					sal[j][p] += float64(s) * float64(v)
				}
			}
		})
		if err != nil {
			return err
		}
		for j := range k {
			values := make([]float32, hw)
			for p, v := range sal[j] {
				values[p] = float32(v / (float64(o.Masks) * o.P))
			}
			result[i*k+j].Maps[RISE] = &Map{Method: RISE, Values: values, Shape: []int{height, width}, AllZero: allZero(values, false)}
		}
	}
	return nil
}
