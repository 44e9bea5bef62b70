package data

import (
	"strings"
	"testing"
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
	t.Setenv("GRADCAM_FASHION_MNIST", t.TempDir())
	_, err := FashionMNIST("train")
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("error %v does not name the package", err)
	}
	if _, err := FashionMNIST("validation"); err == nil || !strings.Contains(err.Error(), "train and test") {
		t.Errorf("unknown split: %v", err)
	}
}
