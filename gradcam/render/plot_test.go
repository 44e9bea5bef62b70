package render

import (
	"math"
	"strings"
	"testing"
)

// TestScatterPlot checks that each point is drawn in its group's colour where it should be (the
// extremes at the plot area's corners) and the errors.
func TestScatterPlot(t *testing.T) {
	xs, ys := []float64{0, 10, 5}, []float64{0, 4, 2}
	img, err := ScatterPlot("map", xs, ys, []int{0, 1, 2}, []string{"a", "b", "c"}, 300, 200)
	if err != nil {
		t.Fatal(err)
	}
	legend := 0
	capFace, _, err := faces()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		legend = max(legend, fontWidth(capFace, n)+24)
	}
	x0, x1, y0, y1 := 10, 300-legend-16, 30, 200-10
	for i, want := range [][2]int{{x0 + 4, y1 - 4}, {x1 - 4, y0 + 4}, {(x0 + x1) / 2, (y0 + y1) / 2}} {
		if got := img.RGBAAt(want[0], want[1]); got != seriesColors[i] {
			t.Errorf("point %d: colour %v at %v, want %v", i, got, want, seriesColors[i])
		}
	}
	for _, tc := range []struct {
		name   string
		xs, ys []float64
		groups []int
		want   string
	}{
		{"lengths", []float64{1, 2}, []float64{1}, []int{0, 0}, "one of each per point"},
		{"group", []float64{1}, []float64{1}, []int{3}, "group 3"},
		{"NaN", []float64{math.NaN()}, []float64{1}, []int{0}, "point 0 is (NaN, 1)"},
		{"empty", nil, nil, nil, "one of each per point"},
	} {
		if _, err := ScatterPlot("x", tc.xs, tc.ys, tc.groups, []string{"a"}, 300, 200); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := ScatterPlot("x", xs, ys, []int{0, 0, 0}, []string{"a"}, 100, 100); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("small: %v", err)
	}
}

// TestLinePlotFitsItsYLabel: the y label is written out, not cut ("probability" showed as
// "proba…" in notebook 09), within a third of the plot's width.
func TestLinePlotFitsItsYLabel(t *testing.T) {
	face, _, err := faces()
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"probability", "score", "fraction of the target class's probability"} {
		left := yAxisMargin(face, label, 420)
		if fitText(face, label, left-8) != label && left < 420/3 {
			t.Errorf("y label %q cut to %q in a %d-pixel margin", label, fitText(face, label, left-8), left)
		}
		if left < 56 || left > 420/3 {
			t.Errorf("margin %d for %q outside [56, 140]", left, label)
		}
	}
	if got := fitText(face, "probability", yAxisMargin(face, "probability", 420)-8); got != "probability" {
		t.Errorf("probability drawn as %q", got)
	}
}

// TestFilterMosaic: filters are laid out in a grid of cells, each its own range (a filter's
// largest value white, smallest black), and bad shapes are one-line errors.
func TestFilterMosaic(t *testing.T) {
	kernel := make([]float32, 5*3*3*3)
	for i := range kernel {
		kernel[i] = float32(i % 7)
	}
	img, err := FilterMosaic(kernel, []int{5, 3, 3, 3}, 5, 4, 30)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 4*32+2 || b.Dy() != 2*32+2 {
		t.Errorf("mosaic of 5 filters in 4 columns: %v", b)
	}
	if c := img.RGBAAt(1, 1); c.R != 255 || c.G != 255 || c.B != 255 {
		t.Errorf("gutter %v, want white", c)
	}
	if c := img.RGBAAt(2, 2); c.R != 0 { // filter 0's first red value is its minimum, 0
		t.Errorf("filter 0's first pixel %v, want red 0", c)
	}
	for _, tc := range []struct {
		shape []int
		want  string
	}{{[]int{5, 4, 3, 3}, "not [out, 1 or 3, kh, kw]"}, {[]int{5, 3, 3}, "not [out"}, {[]int{4, 3, 3, 3}, "values for a kernel"}} {
		if _, err := FilterMosaic(kernel, tc.shape, 4, 4, 30); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shape %v: %v", tc.shape, err)
		}
	}
}

// TestWithColorbar: the scale sits right of the picture, its top the colormap's 1 and its bottom
// its 0, the picture unchanged.
func TestWithColorbar(t *testing.T) {
	pic, err := Heatmap([]float32{0, 0.5, 1, 0.25}, 2, 2, Jet)
	if err != nil {
		t.Fatal(err)
	}
	big := Zoom(pic, 60)
	out, err := WithColorbar(big, Jet, "0", "max")
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds().Dy() != 120 || out.Bounds().Dx() <= 120+20 {
		t.Fatalf("size %v", out.Bounds())
	}
	if out.RGBAAt(10, 10) != big.RGBAAt(10, 10) {
		t.Error("the picture changed")
	}
	if top, bottom := out.RGBAAt(120+6+5, 8), out.RGBAAt(120+6+5, 120-9); top != Jet.At(1) || bottom != Jet.At(0) {
		t.Errorf("bar top %v bottom %v, want the colormap's 1 %v and 0 %v", top, bottom, Jet.At(1), Jet.At(0))
	}
}

// TestRadarChart: a series at 1 on every axis draws the rim; bad input is a one-line error.
func TestRadarChart(t *testing.T) {
	axes := []string{"faithfulness", "robustness", "localisation", "complexity"}
	img, err := RadarChart("families", axes, []Series{{Name: "full", Y: []float64{1, 1, 1, 1}}, {Name: "none", Y: []float64{0, 0, 0, 0}}}, 500, 360)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 500 || img.Bounds().Dy() != 360 {
		t.Fatalf("%v, want 500x360", img.Bounds())
	}
	drawn := 0 // the rim of "full": hundreds of pixels in its colour (its legend swatch is 81)
	for y := range 360 {
		for x := range 500 {
			if img.RGBAAt(x, y) == seriesColors[0] {
				drawn++
			}
		}
	}
	if drawn < 500 {
		t.Errorf("the first series has %d pixels: its polygon is not drawn", drawn)
	}
	for _, tc := range []struct {
		name   string
		axes   []string
		series []Series
		want   string
	}{
		{"two axes", axes[:2], []Series{{Name: "a", Y: []float64{1, 1}}}, "2 axes"},
		{"no series", axes, nil, "no series"},
		{"values", axes, []Series{{Name: "a", Y: []float64{1}}}, "1 values for 4 axes"},
		{"range", axes, []Series{{Name: "a", Y: []float64{1, 2, 0, 0}}}, "outside [0, 1]"},
		{"NaN", axes, []Series{{Name: "a", Y: []float64{1, math.NaN(), 0, 0}}}, "NaN"},
	} {
		_, err := RadarChart("x", tc.axes, tc.series, 500, 360)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line saying %q", tc.name, err, tc.want)
		}
	}
}
