package data

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestFashionMNIST reads Debian's files: 10,000 test images of 28x28 in [0, 1], 1,000 of each
// class, and the first test item is an ankle boot (as in every Fashion-MNIST reader).
func TestFashionMNIST(t *testing.T) {
	s, err := FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 10000 || len(s.Inputs) != 10000*28*28 {
		t.Fatalf("%d examples, %d values", s.Len(), len(s.Inputs))
	}
	counts := make([]int, 10)
	for _, l := range s.Labels {
		counts[l]++
	}
	for c, n := range counts {
		if n != 1000 {
			t.Errorf("class %d has %d examples", c, n)
		}
	}
	var lo, hi float32 = 1, 0
	for _, v := range s.Inputs[:28*28] {
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo != 0 || hi != 1 || s.Classes[s.Labels[0]] != "Ankle boot" {
		t.Errorf("first item: values %g..%g, class %s", lo, hi, s.Classes[s.Labels[0]])
	}
	a, b := s.Head(100).Split(0.8, 1)
	if a.Len() != 80 || b.Len() != 20 {
		t.Errorf("split %d + %d", a.Len(), b.Len())
	}
}

// TestFashionMNISTMissing names the Debian package when the files are not there.
func TestFashionMNISTMissing(t *testing.T) {
	_, err := FashionMNISTIn(t.TempDir(), "train")
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("error %v does not name the package", err)
	}
	if _, err := FashionMNIST("validation"); err == nil || !strings.Contains(err.Error(), "train and test") {
		t.Errorf("unknown split: %v", err)
	}
}

// TestClutteredFashionMNIST: the set is deterministic from its seed, each item's box frames
// exactly its pixels (the canvas equals the item there, clutter aside, and the box is tight), and
// different seeds place items differently.
func TestClutteredFashionMNIST(t *testing.T) {
	items, err := FashionMNIST("test")
	if err != nil {
		t.Fatal(err)
	}
	items = items.Head(200)
	a, err := Clutter(items, 100, ClutterOptions{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Clutter(items, 100, ClutterOptions{Seed: 7})
	c, _ := Clutter(items, 100, ClutterOptions{Seed: 8})
	if a.Len() != 100 || !slices.Equal(a.Shape, []int{1, 64, 64}) || !slices.Equal(a.Inputs, b.Inputs) || !slices.Equal(a.Boxes, b.Boxes) {
		t.Fatalf("not deterministic, or wrong shape %v", a.Shape)
	}
	if slices.Equal(a.Boxes, c.Boxes) {
		t.Error("seeds 7 and 8 placed every item at the same position")
	}
	for i, box := range a.Boxes {
		if box.X0 < 0 || box.Y0 < 0 || box.X1 > 64 || box.Y1 > 64 || box.Area() == 0 || box.X1-box.X0 > 28 || box.Y1-box.Y0 > 28 {
			t.Fatalf("item %d: box %+v", i, box)
		}
		if a.Labels[i] != items.Labels[i] {
			t.Fatalf("item %d: label %d, want %d", i, a.Labels[i], items.Labels[i])
		}
		// Tight: each edge row and column of the box holds a pixel at least as bright as the
		// item's there (the canvas is the max of item and clutter).
		canvas := a.Inputs[i*64*64 : (i+1)*64*64]
		edge := func(y0, y1, x0, x1 int) bool {
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					if canvas[y*64+x] > 0 {
						return true
					}
				}
			}
			return false
		}
		if !edge(box.Y0, box.Y0+1, box.X0, box.X1) || !edge(box.Y1-1, box.Y1, box.X0, box.X1) ||
			!edge(box.Y0, box.Y1, box.X0, box.X0+1) || !edge(box.Y0, box.Y1, box.X1-1, box.X1) {
			t.Fatalf("item %d: box %+v has an empty edge", i, box)
		}
	}
	if _, err := Clutter(items, 10, ClutterOptions{Canvas: 20}); err == nil || !strings.Contains(err.Error(), "at least 28") {
		t.Errorf("canvas 20: %v", err)
	}
	if _, err := Clutter(&Set{Name: "empty", Shape: []int{1, 28, 28}}, 10, ClutterOptions{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty set: %v", err)
	}
}

// TestBoxIoU checks the intersection over union on hand-computed cases.
func TestBoxIoU(t *testing.T) {
	for _, tc := range []struct {
		a, b Box
		want float64
	}{
		{Box{0, 0, 10, 10}, Box{0, 0, 10, 10}, 1},
		{Box{0, 0, 10, 10}, Box{5, 0, 15, 10}, 50.0 / 150},
		{Box{0, 0, 10, 10}, Box{10, 10, 20, 20}, 0},
		{Box{0, 0, 4, 4}, Box{1, 1, 3, 3}, 4.0 / 16},
		{Box{}, Box{}, 0},
	} {
		if got := tc.a.IoU(tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestSetLen checks that a set counts its labels, its targets, or (with neither: images to
// explain or evaluate) its inputs.
func TestSetLen(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  Set
		want int
	}{
		{"labels", Set{Shape: []int{1, 2, 2}, Inputs: make([]float32, 12), Labels: []int32{0, 1, 2}}, 3},
		{"targets", Set{Shape: []int{1, 2, 2}, Inputs: make([]float32, 8), Targets: []float32{0.5, 1}}, 2},
		{"inputs only", Set{Shape: []int{3, 2, 2}, Inputs: make([]float32, 5*12)}, 5},
		{"no shape", Set{Inputs: make([]float32, 4)}, 0},
		{"empty", Set{Shape: []int{3, 2, 2}}, 0},
	} {
		if got := tc.set.Len(); got != tc.want {
			t.Errorf("%s: Len %d, want %d", tc.name, got, tc.want)
		}
	}
	unlabelled := Set{Name: "pictures", Shape: []int{3, 2, 2}, Inputs: make([]float32, 5*12)}
	if err := unlabelled.Check(); err != nil {
		t.Errorf("an unlabelled set of 5 images: %v", err)
	}
	if h := unlabelled.Head(2); h.Len() != 2 || len(h.Inputs) != 2*12 {
		t.Errorf("Head(2) of an unlabelled set: %d examples, %d values", h.Len(), len(h.Inputs))
	}
	if x, y := unlabelled.Batch([]int{4, 0}); y != nil || x.Shape().Dimensions[0] != 2 {
		t.Errorf("Batch of an unlabelled set: inputs %s, labels %v (want 2 inputs, no labels)", x.Shape(), y)
	}
}

// TestForEachBatch checks the batches' indices and inputs, and that an error stops the loop.
func TestForEachBatch(t *testing.T) {
	s := &Set{Name: "five", Shape: []int{1, 1, 2}, Inputs: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	var got [][]int
	var firsts []float32
	err := s.ForEachBatch(2, func(idx []int, x *tensors.Tensor) error {
		got = append(got, idx)
		firsts = append(firsts, tensors.MustCopyFlatData[float32](x)[0])
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[[0 1] [2 3] [4]]" || fmt.Sprint(firsts) != "[0 4 8]" {
		t.Errorf("batches %v with first values %v, error %v", got, firsts, err)
	}
	calls := 0
	stop := errors.New("stop")
	if err := s.ForEachBatch(2, func([]int, *tensors.Tensor) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("error %v after %d calls, want the first error after 1", err, calls)
	}
}
