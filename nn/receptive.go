package nn

import (
	"fmt"
	"image"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ReceptiveField is the region of the input that one position of a spatial layer sees: its
// theoretical receptive field, from the kernels, strides, dilations and paddings between the input
// and the layer (Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks",
// Distill 2019). Position (i, j) of the layer sees input rows Start[0] + i*Jump[0] up to Size[0]
// rows further, and likewise for columns; the field may extend past the image into the padding.
// Sequences ([C, L]) have one row: Size[0] = Jump[0] = 1, Start[0] = 0.
type ReceptiveField struct {
	Size  [2]int // height and width in input pixels
	Jump  [2]int // input pixels between neighbouring positions of the layer (its effective stride)
	Start [2]int // input row and column where position (0, 0)'s field begins (negative: padding)
}

// Region is the input rectangle position (row, col) of the layer sees, unclipped (intersect it
// with the image's bounds to crop).
func (r ReceptiveField) Region(row, col int) image.Rectangle {
	y0, x0 := r.Start[0]+row*r.Jump[0], r.Start[1]+col*r.Jump[1]
	return image.Rect(x0, y0, x0+r.Size[1], y0+r.Size[0])
}

// String is "212x212 px, stride 32, from (-90, -90)".
func (r ReceptiveField) String() string {
	return fmt.Sprintf("%dx%d px, stride %dx%d, from (%d, %d)", r.Size[0], r.Size[1], r.Jump[0], r.Jump[1], r.Start[0], r.Start[1])
}

// then is the field after a window of kernel k, stride s, dilation d and leading padding lo
// per axis applied to positions of field r.
func (r ReceptiveField) then(w fieldWindow) ReceptiveField {
	var out ReceptiveField
	for a := range 2 {
		keff := w.dil[a]*(w.kernel[a]-1) + 1
		out.Size[a] = r.Size[a] + (keff-1)*r.Jump[a]
		out.Jump[a] = r.Jump[a] * w.stride[a]
		out.Start[a] = r.Start[a] - w.lo[a]*r.Jump[a]
	}
	return out
}

// union is the field of a position combining two fields (a residual sum, a concatenation):
// the smallest region holding both. Branches of one sum have the same jump; where they do not,
// the larger is kept.
func (r ReceptiveField) union(o ReceptiveField) ReceptiveField {
	var out ReceptiveField
	for a := range 2 {
		out.Start[a] = min(r.Start[a], o.Start[a])
		out.Size[a] = max(r.Start[a]+r.Size[a], o.Start[a]+o.Size[a]) - out.Start[a]
		out.Jump[a] = max(r.Jump[a], o.Jump[a])
	}
	return out
}

// fieldWindow is a block's spatial geometry (height, width), recorded on its output node.
type fieldWindow struct {
	in                      *graph.Node
	kernel, stride, dil, lo [2]int
}

// window records that y was computed from x by windows of the given geometry (per axis: height,
// width; 1-D blocks record height 1).
func (b *Builder) window(y, x *graph.Node, kernel, stride, dil, lo [2]int) {
	b.windows[y] = fieldWindow{in: x, kernel: kernel, stride: stride, dil: dil, lo: lo}
}

// receptiveFields computes every recorded spatial layer's field by walking the graph from each
// tap back to the input: a recorded window composes its input's field, any other operation that
// depends on the input (activations, batch norm, sums, concatenations, reshapes) sees the union
// of its inputs' fields, and nodes that do not depend on the input (parameters, constants) see
// nothing.
func (b *Builder) receptiveFields(input *graph.Node, layers []LayerInfo) map[string]ReceptiveField {
	memo := map[*graph.Node]*ReceptiveField{}
	var field func(n *graph.Node) *ReceptiveField
	field = func(n *graph.Node) *ReceptiveField {
		if f, ok := memo[n]; ok {
			return f
		}
		var f *ReceptiveField
		if n == input {
			f = &ReceptiveField{Size: [2]int{1, 1}, Jump: [2]int{1, 1}}
		} else if w, ok := b.windows[n]; ok {
			if in := field(w.in); in != nil {
				g := in.then(w)
				f = &g
			}
		} else {
			for _, x := range n.Inputs() {
				if g := field(x); g != nil {
					if f == nil {
						h := *g
						f = &h
					} else {
						h := f.union(*g)
						f = &h
					}
				}
			}
		}
		memo[n] = f
		return f
	}
	out := map[string]ReceptiveField{}
	for _, l := range layers {
		if !l.Spatial() {
			continue
		}
		if f := field(b.fw.taps[l.Name]); f != nil {
			out[l.Name] = *f
		}
	}
	return out
}

// ReceptiveField is the receptive field of a spatial layer's positions (see ReceptiveField).
func (s *Spec) ReceptiveField(layer string) (ReceptiveField, error) {
	if f, ok := s.fields[layer]; ok {
		return f, nil
	}
	return ReceptiveField{}, fmt.Errorf("no receptive field for layer %q: it is not a spatial layer of the network; spatial layers: %s",
		layer, strings.Join(s.ExplainableLayers(), ", "))
}
