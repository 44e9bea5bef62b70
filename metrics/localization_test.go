package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
)

// grid builds a heatmap from rows of digits (value = digit / 9).
func grid(rows ...string) Heatmap {
	hm := Heatmap{H: len(rows), W: len(rows[0])}
	for _, r := range rows {
		for _, c := range r {
			hm.Values = append(hm.Values, float32(c-'0')/9)
		}
	}
	return hm
}

// TestLocalizationBox checks the box of the largest 8-connected segment above 15% of the maximum
// on hand-made maps whose answer is known.
func TestLocalizationBox(t *testing.T) {
	for _, c := range []struct {
		name string
		hm   Heatmap
		want data.Box
	}{
		{"one blob", grid(
			"000000",
			"009900",
			"009900",
			"000000"), data.Box{X0: 2, Y0: 1, X1: 4, Y1: 3}},
		// The bright pixel alone is smaller than the dim segment: size wins, not intensity.
		{"largest, not brightest", grid(
			"900000",
			"000000",
			"002220",
			"002220"), data.Box{X0: 2, Y0: 2, X1: 5, Y1: 4}},
		// 1/9 < 15% of 9/9 is background; 2/9 >= 15% is foreground.
		{"threshold", grid(
			"1111119",
			"1111112",
			"1111112"), data.Box{X0: 6, Y0: 0, X1: 7, Y1: 3}},
		// Diagonal neighbours join one segment (8-connectivity): three pixels beat two.
		{"8-connectivity", grid(
			"90000",
			"09000",
			"00900",
			"00000",
			"00099"), data.Box{X0: 0, Y0: 0, X1: 3, Y1: 3}},
		{"all zero localizes nothing", grid("000", "000"), data.Box{X1: 3, Y1: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := LocalizationBox(c.hm, DefaultLocalizationThreshold)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("box %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestPointingGame checks hits and misses of a synthetic map's maximum against a box, at the
// tolerance's strict boundary.
func TestPointingGame(t *testing.T) {
	const size = 64
	peak := func(y, x int) Heatmap {
		hm := Heatmap{Values: make([]float32, size*size), H: size, W: size}
		for i := range hm.Values {
			hm.Values[i] = 0.1
		}
		hm.Values[y*size+x] = 1
		return hm
	}
	box := data.Box{X0: 20, Y0: 20, X1: 30, Y1: 30} // pixels 20..29
	for _, c := range []struct {
		name string
		hm   Heatmap
		tol  float64
		want bool
	}{
		{"inside", peak(25, 25), 15, true},
		{"14 px left of the box", peak(25, 6), 15, true},
		{"15 px left: not strictly within", peak(25, 5), 15, false},
		{"diagonal 10,10 (14.1 px)", peak(39, 39), 15, true},
		{"diagonal 11,11 (15.6 px)", peak(40, 40), 15, false},
		{"tolerance 0 inside still misses (strict)", peak(25, 25), 0, false},
		{"constant map points nowhere", Heatmap{Values: make([]float32, size*size), H: size, W: size}, 15, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := PointingGame(c.hm, box, c.tol)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("hit = %v, want %v", got, c.want)
			}
		})
	}
}

// TestMetricInputErrors checks that bad input gets a one-line error naming the problem.
func TestMetricInputErrors(t *testing.T) {
	good := grid("0190", "0990", "0000")
	for _, c := range []struct {
		name string
		run  func() error
		want string
	}{
		{"box: map of the wrong shape", func() error {
			_, err := LocalizationBox(Heatmap{Values: make([]float32, 10), H: 3, W: 4}, 0.15)
			return err
		}, "not LowRes"},
		{"box: threshold above 1", func() error { _, err := LocalizationBox(good, 15); return err }, "threshold 15"},
		{"pointing: empty box", func() error { _, err := PointingGame(good, data.Box{X0: 2, X1: 2, Y1: 3}, 15); return err }, "empty"},
		{"pointing: NaN in the map", func() error {
			bad := grid("01", "10")
			bad.Values[1] = float32(nan())
			_, err := PointingGame(bad, data.Box{X1: 1, Y1: 1}, 15)
			return err
		}, "NaN"},
		{"spearman: different sizes", func() error { _, err := Spearman(make([]float32, 3), make([]float32, 4)); return err }, "3 and 4"},
		{"ssim: smaller than the window", func() error { _, err := SSIM(good, good, 1); return err }, "7x7"},
		{"heatmap: a sequence map", func() error {
			_, err := HeatmapOf(&gradcam.Map{Method: gradcam.GradCAM, Values: make([]float32, 5), Shape: []int{5}})
			return err
		}, "not an image map"},
		{"heatmap: no map", func() error { _, err := HeatmapOf(nil); return err }, "requested"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, c.want)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

// TestSpearmanHandComputed checks rank correlations computed by hand, ties included.
func TestSpearmanHandComputed(t *testing.T) {
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2, 3, 4}, []float32{10, 20, 30, 40}, 1},
		{[]float32{1, 2, 3, 4}, []float32{4, 3, 2, 1}, -1},
		// Ranks of b with the tie: 1, 2.5, 2.5, 4 against 1..4: r = 4.5 / sqrt(5 * 4.5) = 0.9487.
		{[]float32{1, 2, 3, 4}, []float32{0, 5, 5, 9}, 4.5 / 4.743416490252569},
		{[]float32{1, 2, 3}, []float32{7, 7, 7}, 0},
	} {
		got, err := Spearman(c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		if d := got - c.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("Spearman(%v, %v) = %.15f, want %.15f", c.a, c.b, got, c.want)
		}
	}
}

// TestPearsonHandComputed checks correlations computed by hand.
func TestPearsonHandComputed(t *testing.T) {
	for _, c := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 2, 3, 4}, []float32{10, 20, 30, 40}, 1},
		{[]float32{1, 2, 3, 4}, []float32{4, 3, 2, 1}, -1},
		// Deviations -1.5 -0.5 0.5 1.5 against -4.75 0.25 0.25 4.25: 13.5 / sqrt(5 * 40.75).
		{[]float32{1, 2, 3, 4}, []float32{0, 5, 5, 9}, 13.5 / math.Sqrt(5*40.75)},
		{[]float32{1, 2, 3}, []float32{7, 7, 7}, 0},
	} {
		got, err := Pearson(c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		if d := got - c.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("Pearson(%v, %v) = %.15f, want %.15f", c.a, c.b, got, c.want)
		}
	}
	if _, err := Pearson(make([]float32, 3), make([]float32, 4)); err == nil || !strings.Contains(err.Error(), "3 and 4") {
		t.Errorf("different sizes: %v", err)
	}
}
