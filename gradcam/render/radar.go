package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
)

// RadarChart draws series as closed polygons over axes spread around a circle (a spider plot),
// each series holding one value per axis in [0, 1] (0 the centre, 1 the rim), with rings at
// quarters, the axis names, a title and a legend, w x h pixels on white: the methods' scores per
// metric family of package metrics (FamilyScores).
func RadarChart(title string, axes []string, series []Series, w, h int) (*image.RGBA, error) {
	if len(axes) < 3 {
		return nil, fmt.Errorf("radar chart %q: %d axes, need 3 or more (a bar chart shows fewer)", title, len(axes))
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("radar chart %q: no series", title)
	}
	if w < 300 || h < 200 {
		return nil, fmt.Errorf("radar chart %q: %dx%d pixels is too small (at least 300x200)", title, w, h)
	}
	for _, s := range series {
		if len(s.Y) != len(axes) {
			return nil, fmt.Errorf("radar chart %q: series %q has %d values for %d axes", title, s.Name, len(s.Y), len(axes))
		}
		for _, v := range s.Y {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("radar chart %q: series %q holds %g, outside [0, 1]", title, s.Name, v)
			}
		}
	}
	capFace, titFace, err := faces()
	if err != nil {
		return nil, fmt.Errorf("loading fonts: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	drawText(img, titFace, fitText(titFace, title, w-8), 8, 20)
	legend := 0
	for _, s := range series {
		legend = max(legend, fontWidth(capFace, s.Name)+24)
	}
	label := 0
	for _, a := range axes {
		label = max(label, fontWidth(capFace, a))
	}
	cx, cy := float64(w-legend-16)/2, float64(h+30)/2
	r := math.Min(cx-float64(label)-12, cy-30-12)
	if r < 20 {
		return nil, fmt.Errorf("radar chart %q: %dx%d pixels leave no room for the chart beside its labels", title, w, h)
	}
	at := func(axis int, v float64) (float64, float64) {
		angle := -math.Pi/2 + 2*math.Pi*float64(axis)/float64(len(axes))
		return cx + v*r*math.Cos(angle), cy + v*r*math.Sin(angle)
	}
	grid := color.RGBA{200, 200, 200, 255}
	for _, ring := range []float64{0.25, 0.5, 0.75, 1} {
		for i := range axes {
			ax, ay := at(i, ring)
			bx, by := at((i+1)%len(axes), ring)
			line(img, ax, ay, bx, by, grid)
		}
	}
	for i, a := range axes {
		x, y := at(i, 1)
		line(img, cx, cy, x, y, grid)
		lx, ly := at(i, 1.08)
		tw := fontWidth(capFace, a)
		switch {
		case lx < cx-1:
			lx -= float64(tw)
		case lx <= cx+1:
			lx -= float64(tw) / 2
		}
		if ly > cy {
			ly += 10
		}
		drawText(img, capFace, a, int(lx), int(ly))
	}
	for k, s := range series {
		c := s.Color
		if c.A == 0 {
			c = seriesColors[k%len(seriesColors)]
		}
		for i := range axes {
			ax, ay := at(i, s.Y[i])
			bx, by := at((i+1)%len(axes), s.Y[(i+1)%len(axes)])
			line(img, ax, ay, bx, by, c)
		}
		ly := 30 + 12 + 16*k
		for dy := -4; dy <= 4; dy++ {
			for dx := 0; dx < 9; dx++ {
				img.SetRGBA(w-legend-6+dx, ly-4+dy, c)
			}
		}
		drawText(img, capFace, s.Name, w-legend+8, ly+1)
	}
	return img, nil
}
