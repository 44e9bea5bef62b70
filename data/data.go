// Package data holds labelled datasets in memory for training and evaluating networks:
// Fashion-MNIST from Debian's dataset-fashion-mnist package, image folders in torchvision's
// ImageFolder convention, and sets made in code.
package data

import (
	"fmt"
	"image"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Set is an in-memory dataset: examples of one shape in PyTorch's layout, each with a class
// label (classification), a target value (regression), or neither (images to explain or evaluate
// without ground truth).
type Set struct {
	Name string
	// Shape is one example's shape: [C, H, W] for images, [C, L] for sequences.
	Shape []int
	// Inputs holds the examples one after the other, Len() * prod(Shape) values.
	Inputs []float32
	// Labels are class indices into Classes (classification); nil for regression.
	Labels []int32
	// Targets are the regression targets, one per example; nil for classification.
	Targets []float32
	// Classes name the labels (folder names, Fashion-MNIST's class names); optional.
	Classes []string
	// Boxes are ground-truth bounding boxes of the labelled object, one per example, in the
	// example's pixels (localization sets such as ClutteredFashionMNIST); nil when unknown.
	Boxes []Box
	// AllBoxes are every ground-truth box of the example's class when there may be several (a
	// boxes file: BoxedImages), the first being Boxes'; nil when each example has one box.
	AllBoxes [][]Box
	// Images name the image file of each example, when it came from one (BoxedImages); nil
	// otherwise.
	Images []string
	// Side are inputs besides Inputs, one value array each (a VQA question's tokens and length):
	// what networks with side inputs (nn.Network.Side) read by name.
	Side []SideData
}

// SideData is one side input of every example of a set.
type SideData struct {
	Name string
	// Shape is one example's ([12] for 12 tokens; empty for one value per example).
	Shape []int
	// Values holds the examples one after the other, Len() * prod(Shape) values.
	Values []int32
}

// size is the number of values of one example.
func (d SideData) size() int {
	n := 1
	for _, x := range d.Shape {
		n *= x
	}
	return n
}

// BoxesOf returns example i's ground-truth boxes: AllBoxes[i], or Boxes[i] alone.
func (s *Set) BoxesOf(i int) []Box {
	if s.AllBoxes != nil {
		return s.AllBoxes[i]
	}
	return []Box{s.Boxes[i]}
}

// Len is the number of examples: of labels, else of targets, else of inputs.
func (s *Set) Len() int {
	switch size := s.exampleSize(); {
	case len(s.Labels) > 0:
		return len(s.Labels)
	case len(s.Targets) > 0:
		return len(s.Targets)
	case len(s.Shape) > 0 && size > 0:
		return len(s.Inputs) / size
	}
	return 0
}

// exampleSize is the number of values of one example.
func (s *Set) exampleSize() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Check validates the set: examples present, sizes consistent, labels in range.
func (s *Set) Check() error {
	n := s.Len()
	switch {
	case n == 0:
		return fmt.Errorf("dataset %q is empty", s.Name)
	case len(s.Labels) > 0 && len(s.Targets) > 0:
		return fmt.Errorf("dataset %q has both labels and targets: it is either classification or regression", s.Name)
	case len(s.Shape) == 0 || len(s.Inputs) != n*s.exampleSize():
		return fmt.Errorf("dataset %q: %d values for %d examples of shape %v", s.Name, len(s.Inputs), n, s.Shape)
	case s.Boxes != nil && len(s.Boxes) != n:
		return fmt.Errorf("dataset %q: %d boxes for %d examples", s.Name, len(s.Boxes), n)
	case s.AllBoxes != nil && (len(s.AllBoxes) != n || s.Boxes == nil):
		return fmt.Errorf("dataset %q: %d lists of boxes for %d examples (and Boxes holds the first of each)", s.Name, len(s.AllBoxes), n)
	case s.Images != nil && len(s.Images) != n:
		return fmt.Errorf("dataset %q: %d image names for %d examples", s.Name, len(s.Images), n)
	}
	for _, d := range s.Side {
		if len(d.Values) != n*d.size() {
			return fmt.Errorf("dataset %q: side input %q has %d values for %d examples of shape %v", s.Name, d.Name, len(d.Values), n, d.Shape)
		}
	}
	if len(s.Classes) > 0 {
		for i, l := range s.Labels {
			if l < 0 || int(l) >= len(s.Classes) {
				return fmt.Errorf("dataset %q: example %d has label %d, outside its %d classes", s.Name, i, l, len(s.Classes))
			}
		}
	}
	return nil
}

// Subset returns the examples at the given indices, in that order (a copy).
func (s *Set) Subset(name string, idx []int) *Set {
	size := s.exampleSize()
	out := &Set{Name: name, Shape: slices.Clone(s.Shape), Classes: s.Classes, Inputs: make([]float32, 0, len(idx)*size)}
	for _, d := range s.Side {
		o := SideData{Name: d.Name, Shape: slices.Clone(d.Shape), Values: make([]int32, 0, len(idx)*d.size())}
		for _, i := range idx {
			o.Values = append(o.Values, d.Values[i*d.size():(i+1)*d.size()]...)
		}
		out.Side = append(out.Side, o)
	}
	for _, i := range idx {
		out.Inputs = append(out.Inputs, s.Inputs[i*size:(i+1)*size]...)
		if s.Labels != nil {
			out.Labels = append(out.Labels, s.Labels[i])
		}
		if s.Targets != nil {
			out.Targets = append(out.Targets, s.Targets[i])
		}
		if s.Boxes != nil {
			out.Boxes = append(out.Boxes, s.Boxes[i])
		}
		if s.AllBoxes != nil {
			out.AllBoxes = append(out.AllBoxes, s.AllBoxes[i])
		}
		if s.Images != nil {
			out.Images = append(out.Images, s.Images[i])
		}
	}
	return out
}

// Head returns the first n examples (all of them when n <= 0 or n >= Len).
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(s.Name, idx)
}

// ForEachBatch calls fn with consecutive batches of up to size examples (their indices and their
// inputs, which are freed when fn returns), in order; it stops at fn's first error.
func (s *Set) ForEachBatch(size int, fn func(idx []int, inputs *tensors.Tensor) error) error {
	size = max(size, 1)
	for start := 0; start < s.Len(); start += size {
		idx := make([]int, 0, size)
		for i := start; i < min(start+size, s.Len()); i++ {
			idx = append(idx, i)
		}
		x, _ := s.Batch(idx)
		err := fn(idx, x)
		x.FinalizeAll()
		if err != nil {
			return err
		}
	}
	return nil
}

// Split shuffles the examples with a seed and splits them: the first returned set holds a
// fraction frac of them, the second the rest (a held-out split).
func (s *Set) Split(frac float64, seed uint64) (*Set, *Set) {
	idx := rand.New(rand.NewPCG(seed, 1)).Perm(s.Len())
	n := int(float64(len(idx))*frac + 0.5)
	return s.Subset(s.Name+"-train", idx[:n]), s.Subset(s.Name+"-heldout", idx[n:])
}

// Batch returns the examples at idx as an input tensor [len(idx), Shape...] and a label tensor
// ([len(idx), 1]: int32 classes, or float32 targets), the layout GoMLX's losses take; labels is
// nil for a set with neither.
func (s *Set) Batch(idx []int) (inputs, labels *tensors.Tensor) {
	size := s.exampleSize()
	x := make([]float32, len(idx)*size)
	for j, i := range idx {
		copy(x[j*size:], s.Inputs[i*size:(i+1)*size])
	}
	inputs = tensors.FromFlatDataAndDimensions(x, append([]int{len(idx)}, s.Shape...)...)
	if s.Labels != nil {
		y := make([]int32, len(idx))
		for j, i := range idx {
			y[j] = s.Labels[i]
		}
		return inputs, tensors.FromFlatDataAndDimensions(y, len(idx), 1)
	}
	if s.Targets == nil {
		return inputs, nil
	}
	y := make([]float32, len(idx))
	for j, i := range idx {
		y[j] = s.Targets[i]
	}
	return inputs, tensors.FromFlatDataAndDimensions(y, len(idx), 1)
}

// SideBatch returns the named side inputs of the examples at idx, in the order named:
// [len(idx), shape...] each.
func (s *Set) SideBatch(idx []int, names ...string) ([]*tensors.Tensor, error) {
	out := make([]*tensors.Tensor, len(names))
	for k, name := range names {
		j := slices.IndexFunc(s.Side, func(d SideData) bool { return d.Name == name })
		if j < 0 {
			return nil, fmt.Errorf("dataset %q has no side input %q", s.Name, name)
		}
		d := s.Side[j]
		v := make([]int32, 0, len(idx)*d.size())
		for _, i := range idx {
			v = append(v, d.Values[i*d.size():(i+1)*d.size()]...)
		}
		out[k] = tensors.FromFlatDataAndDimensions(v, append([]int{len(idx)}, d.Shape...)...)
	}
	return out, nil
}

// Picture draws example i of a set of images with values in [0, 1] (1 channel as gray, 3 as
// RGB) as an opaque picture: what a model's transform takes (preprocess.Transform.Fit).
func (s *Set) Picture(i int) (*image.RGBA, error) {
	if len(s.Shape) != 3 || (s.Shape[0] != 1 && s.Shape[0] != 3) {
		return nil, fmt.Errorf("dataset %q holds %v examples, not 1- or 3-channel images", s.Name, s.Shape)
	}
	c, h, w := s.Shape[0], s.Shape[1], s.Shape[2]
	size := c * h * w
	if i < 0 || i >= s.Len() {
		return nil, fmt.Errorf("dataset %q has examples 0..%d, not %d", s.Name, s.Len()-1, i)
	}
	return render.PixelImage(s.Inputs[i*size:(i+1)*size], c, h, w)
}

// Transformed returns the set's images as the model's inputs: each drawn as a picture
// (Picture), fitted and normalized by t (a gray image becomes RGB for a 3-channel model). Labels,
// classes and names are kept; boxes, which would need scaling, are dropped.
func (s *Set) Transformed(t preprocess.Transform) (*Set, error) {
	out := &Set{Name: s.Name, Shape: []int{t.Channels, t.Height, t.Width}, Labels: s.Labels, Targets: s.Targets, Classes: s.Classes,
		Images: s.Images}
	for i := range s.Len() {
		pic, err := s.Picture(i)
		if err != nil {
			return nil, err
		}
		x, err := t.Normalize(t.Fit(pic))
		if err != nil {
			return nil, err
		}
		out.Inputs = append(out.Inputs, tensors.MustCopyFlatData[float32](x)...)
		x.FinalizeAll()
	}
	return out, out.Check()
}
