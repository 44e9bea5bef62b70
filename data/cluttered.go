package data

import (
	"fmt"
	"image"
	"math/rand/v2"
)

// Box is an axis-aligned box in pixels: columns X0..X1-1 and rows Y0..Y1-1 (ends exclusive, as
// image.Rectangle).
type Box struct{ X0, Y0, X1, Y1 int }

// Rect is the box as an image.Rectangle.
func (b Box) Rect() image.Rectangle { return image.Rect(b.X0, b.Y0, b.X1, b.Y1) }

// Area is the number of pixels in the box (0 for an empty box).
func (b Box) Area() int {
	if b.X1 <= b.X0 || b.Y1 <= b.Y0 {
		return 0
	}
	return (b.X1 - b.X0) * (b.Y1 - b.Y0)
}

// IoU is the intersection over union of two boxes (0 when both are empty).
func (b Box) IoU(o Box) float64 {
	in := Box{max(b.X0, o.X0), max(b.Y0, o.Y0), min(b.X1, o.X1), min(b.Y1, o.Y1)}.Area()
	union := b.Area() + o.Area() - in
	if union == 0 {
		return 0
	}
	return float64(in) / float64(union)
}

// ClutterOptions shape a cluttered Fashion-MNIST set. The zero value gives the defaults.
type ClutterOptions struct {
	Canvas int // side of the square canvas, pixels; default 64 (an item is 28x28)
	Pieces int // clutter pieces per canvas; default 6
	Piece  int // side of a clutter piece, pixels; default 10
	// Seed makes the set: the same seed, split and options give the same set on every machine.
	Seed uint64
}

func (o *ClutterOptions) defaults() error {
	if o.Canvas == 0 {
		o.Canvas = 64
	}
	if o.Pieces == 0 {
		o.Pieces = 6
	}
	if o.Piece == 0 {
		o.Piece = 10
	}
	if o.Canvas < 28 || o.Pieces < 0 || o.Piece < 1 || o.Piece > 28 {
		return fmt.Errorf("cluttered Fashion-MNIST needs a canvas of at least 28 pixels, pieces >= 0 and a piece side of 1..28 "+
			"(got canvas %d, %d pieces of %d)", o.Canvas, o.Pieces, o.Piece)
	}
	return nil
}

// ClutteredFashionMNIST makes a localization set from a Fashion-MNIST split: each of the split's
// first n items (all of them when n <= 0) is placed at a random position on a black canvas,
// over clutter (square pieces cut from other items of the split, at random positions),
// composited by the pixel-wise maximum. Labels are the items' classes; Boxes the items' exact
// bounding boxes on the canvas (their nonzero pixels). Deterministic from the options' seed.
func ClutteredFashionMNIST(split string, n int, o ClutterOptions) (*Set, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	items, err := FashionMNIST(split)
	if err != nil {
		return nil, err
	}
	return Clutter(items, n, o)
}

// Clutter makes a cluttered localization set from a set of 1x28x28 items (see
// ClutteredFashionMNIST).
func Clutter(items *Set, n int, o ClutterOptions) (*Set, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := items.Check(); err != nil {
		return nil, err
	}
	if len(items.Shape) != 3 || items.Shape[0] != 1 || items.Shape[1] != 28 || items.Shape[2] != 28 || items.Labels == nil {
		return nil, fmt.Errorf("clutter needs labelled 1x28x28 items, %q has examples of shape %v", items.Name, items.Shape)
	}
	if n <= 0 || n > items.Len() {
		n = items.Len()
	}
	const side = 28
	c := o.Canvas
	r := rand.New(rand.NewPCG(o.Seed, 0x636c7574)) // "clut"
	out := &Set{Name: fmt.Sprintf("cluttered-%s-%d", items.Name, c), Shape: []int{1, c, c}, Classes: items.Classes,
		Inputs: make([]float32, n*c*c), Labels: make([]int32, n), Boxes: make([]Box, n)}
	for i := range n {
		canvas := out.Inputs[i*c*c : (i+1)*c*c]
		for range o.Pieces {
			src := items.Inputs[r.IntN(items.Len())*side*side:]
			sy, sx := r.IntN(side-o.Piece+1), r.IntN(side-o.Piece+1)
			dy, dx := r.IntN(c-o.Piece+1), r.IntN(c-o.Piece+1)
			for y := range o.Piece {
				for x := range o.Piece {
					p := &canvas[(dy+y)*c+dx+x]
					*p = max(*p, src[(sy+y)*side+sx+x])
				}
			}
		}
		item := items.Inputs[i*side*side : (i+1)*side*side]
		oy, ox := r.IntN(c-side+1), r.IntN(c-side+1)
		box := Box{X0: side, Y0: side}
		for y := range side {
			for x := range side {
				v := item[y*side+x]
				if v <= 0 {
					continue
				}
				p := &canvas[(oy+y)*c+ox+x]
				*p = max(*p, v)
				box = Box{min(box.X0, x), min(box.Y0, y), max(box.X1, x+1), max(box.Y1, y+1)}
			}
		}
		if box.Area() == 0 { // a blank item: its whole frame
			box = Box{0, 0, side, side}
		}
		out.Boxes[i] = Box{box.X0 + ox, box.Y0 + oy, box.X1 + ox, box.Y1 + oy}
		out.Labels[i] = items.Labels[i]
	}
	return out, out.Check()
}
