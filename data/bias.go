package data

import (
	"image/color"
	"math/rand/v2"
)

// BiasCue is where Biased draws its spurious cue: a small bright square in the top-left corner.
func BiasCue() Box { return biasCue }

var biasCue = Box{X0: 3, Y0: 3, X1: 13, Y1: 13}

// ShowsBiasCue reports whether picture i of a Biased set shows the cue (its white square).
func ShowsBiasCue(s *Set, i int) bool {
	const side = 64
	return s.Inputs[i*3*side*side+(biasCue.Y0+2)*side+biasCue.X0+2] == 1
}

// BiasClasses returns Biased's two classes.
func BiasClasses() []string { return []string{"circle", "square"} }

// Biased makes n 64x64 RGB pictures of one shape, a circle (class 0) or a square (class 1), of a
// random colour, size and place on a textured background, for the paper's bias experiment
// (Figure 8) in miniature. A spurious cue, a bright square at BiasCue, agrees with the label in a
// share agreement of the pictures: drawn on squares and absent from circles there, the other way
// round elsewhere (agreement 0.5 makes it carry no information). Boxes are the shapes' boxes.
// The same seed gives the same set.
func Biased(n int, seed uint64, agreement float64) *Set {
	const s = 64
	r := rand.New(rand.NewPCG(seed, 0x42494153)) // "BIAS"
	set := &Set{Name: "biased", Shape: []int{3, s, s}, Classes: BiasClasses(), Labels: make([]int32, n), Boxes: make([]Box, n),
		Inputs: make([]float32, 0, n*3*s*s)}
	colors := []string{"red", "green", "blue", "yellow", "purple"}
	for i := range n {
		label := r.IntN(2)
		set.Labels[i] = int32(label)
		img := make([]float32, 3*s*s)
		base := 0.35 + 0.2*r.Float64()
		period := 4 + r.IntN(5)
		for y := range s {
			for x := range s {
				v := float32(base + 0.05*float64((x+y)/period%2) + 0.06*(r.Float64()-0.5))
				for c := range 3 {
					img[c*s*s+y*s+x] = v
				}
			}
		}
		side := 14 + r.IntN(12)
		x0, y0 := 16+r.IntN(s-side-17), 16+r.IntN(s-side-17) // clear of the cue's corner
		box := Box{x0, y0, x0 + side, y0 + side}
		set.Boxes[i] = box
		mask := shapeMask(BiasClasses()[label], box, s)
		col := sceneColors[colors[r.IntN(len(colors))]]
		for p, on := range mask {
			if on {
				for c, v := range []uint8{col.R, col.G, col.B} {
					img[c*s*s+p] = float32(v) / 255
				}
			}
		}
		cue := (label == 1) == (r.Float64() < agreement)
		if cue {
			mark := color.RGBA{255, 255, 255, 255}
			for y := biasCue.Y0; y < biasCue.Y1; y++ {
				for x := biasCue.X0; x < biasCue.X1; x++ {
					for c, v := range []uint8{mark.R, mark.G, mark.B} {
						img[c*s*s+y*s+x] = float32(v) / 255
					}
				}
			}
		}
		set.Inputs = append(set.Inputs, img...)
	}
	return set
}
