package data

import (
	"math"
	"testing"
)

// TestGenerateDisks: deterministic from the seed; the target is the red pixels' share in percent;
// red and blue never overlap; Share splits a map's mass.
func TestGenerateDisks(t *testing.T) {
	a, err := GenerateDisks(20, 32, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateDisks(20, 32, 7)
	for i := range a.Inputs {
		if a.Inputs[i] != b.Inputs[i] {
			t.Fatal("not deterministic")
		}
	}
	for i := range 20 {
		red := 0
		for p := range a.Red[i] {
			if a.Red[i][p] {
				red++
				if a.Blue[i][p] {
					t.Fatalf("image %d pixel %d is red and blue", i, p)
				}
				if r := a.Inputs[i*3*32*32+p]; r < 0.7 {
					t.Fatalf("image %d red pixel %d has red %.2f", i, p, r)
				}
			}
		}
		if want := float32(100 * float64(red) / 1024); math.Abs(float64(a.Targets[i]-want)) > 1e-4 || red == 0 {
			t.Errorf("image %d: target %.3f, %d red pixels", i, a.Targets[i], red)
		}
	}
	m := make([]float32, 1024)
	for p := range m {
		if a.Red[0][p] {
			m[p] = 2
		} else {
			m[p] = 0
		}
	}
	if r, bl, err := a.Share(0, m); err != nil || r != 1 || bl != 0 {
		t.Errorf("Share of a red-only map: %v %v %v", r, bl, err)
	}
	if r, bl, err := a.Share(0, make([]float32, 1024)); err != nil || r != 0 || bl != 0 {
		t.Errorf("Share of an all-zero map: %v %v %v", r, bl, err)
	}
	if _, _, err := a.Share(0, make([]float32, 10)); err == nil {
		t.Error("a map of the wrong size was accepted")
	}
	if _, err := GenerateDisks(0, 32, 1); err == nil {
		t.Error("zero images were accepted")
	}
}
