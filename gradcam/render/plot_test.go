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
		if got := img.RGBAAt(want[0], want[1]); got != SeriesColors[i] {
			t.Errorf("point %d: colour %v at %v, want %v", i, got, want, SeriesColors[i])
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
