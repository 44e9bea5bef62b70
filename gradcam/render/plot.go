package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
)

// Series is one line of a LinePlot: values at evenly spaced x from 0 to 1.
type Series struct {
	Name  string
	Y     []float64
	Color color.RGBA
}

// seriesColors are distinct line colours (Matplotlib's tab10), for series in order.
var seriesColors = []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}

// LinePlot draws series as lines over x in [0, 1] and y from 0 to the largest value (at least
// 1e-9), with a title, the axis labels, tick values at the ends and a legend, w x h pixels on
// white: the deletion and insertion curves of package metrics.
func LinePlot(title, xLabel, yLabel string, series []Series, w, h int) (*image.RGBA, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("line plot %q: no series", title)
	}
	if w < 200 || h < 150 {
		return nil, fmt.Errorf("line plot %q: %dx%d pixels is too small (at least 200x150)", title, w, h)
	}
	top := 1e-9
	for _, s := range series {
		if len(s.Y) < 2 {
			return nil, fmt.Errorf("line plot %q: series %q has %d values, need 2 or more", title, s.Name, len(s.Y))
		}
		for _, v := range s.Y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line plot %q: series %q holds %g", title, s.Name, v)
			}
			top = math.Max(top, v)
		}
	}
	capFace, titFace, err := faces()
	if err != nil {
		return nil, fmt.Errorf("loading fonts: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, upper, lower := yAxisMargin(capFace, yLabel, w), 16, 30, 40
	x0, x1, y0, y1 := left, w-right, upper, h-lower // plot area
	drawText(img, titFace, fitText(titFace, title, w-8), 8, 20)
	gray := color.RGBA{90, 90, 90, 255}
	DrawBox(img, image.Rect(x0, y0, x1+1, y1+1), gray, 1)
	drawText(img, capFace, "0", x0-3, y1+15)
	drawText(img, capFace, "1", x1-3, y1+15)
	drawText(img, capFace, xLabel, (x0+x1)/2-len(xLabel)*3, y1+30)
	drawText(img, capFace, "0", x0-12, y1+4)
	drawText(img, capFace, fmt.Sprintf("%.2g", top), 4, y0+8)
	drawText(img, capFace, fitText(capFace, yLabel, left-8), 4, (y0+y1)/2)
	px := func(i, n int) float64 { return float64(x0) + float64(i)/float64(n-1)*float64(x1-x0) }
	py := func(v float64) float64 { return float64(y1) - v/top*float64(y1-y0) }
	for k, s := range series {
		c := s.Color
		if c.A == 0 {
			c = seriesColors[k%len(seriesColors)]
		}
		for i := 1; i < len(s.Y); i++ {
			line(img, px(i-1, len(s.Y)), py(s.Y[i-1]), px(i, len(s.Y)), py(s.Y[i]), c)
		}
		// Legend, top right.
		ly := y0 + 16 + 16*k
		for x := x1 - 130; x < x1-110; x++ {
			for t := -1; t <= 1; t++ {
				img.SetRGBA(x, ly-4+t, c)
			}
		}
		drawText(img, capFace, fitText(capFace, s.Name, 104), x1-104, ly)
	}
	return img, nil
}

// yAxisMargin is the left margin of a w-pixel-wide plot: room for the y label written out
// ("probability" was cut to "proba…" in 56 pixels), at least 56 pixels and at most a third of w.
func yAxisMargin(face font.Face, yLabel string, w int) int {
	return min(max(56, fontWidth(face, yLabel)+12), w/3)
}

// line draws a 2-pixel-wide segment.
func line(img *image.RGBA, ax, ay, bx, by float64, c color.RGBA) {
	n := int(math.Max(math.Abs(bx-ax), math.Abs(by-ay))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x, y := int(math.Round(ax+t*(bx-ax))), int(math.Round(ay+t*(by-ay)))
		img.SetRGBA(x, y, c)
		img.SetRGBA(x, y+1, c)
	}
}

// ScatterPlot draws points (xs[i], ys[i]) as small discs, each coloured by its group (seriesColors
// in order; groups index names, which the legend lists), scaled to fill w x h pixels on white:
// a 2-D map of embeddings (t-SNE, PCA) coloured by class.
func ScatterPlot(title string, xs, ys []float64, groups []int, names []string, w, h int) (*image.RGBA, error) {
	if len(xs) == 0 || len(xs) != len(ys) || len(groups) != len(xs) {
		return nil, fmt.Errorf("scatter plot %q: %d x, %d y and %d groups: give one of each per point", title, len(xs), len(ys), len(groups))
	}
	if w < 200 || h < 150 {
		return nil, fmt.Errorf("scatter plot %q: %dx%d pixels is too small (at least 200x150)", title, w, h)
	}
	for i, g := range groups {
		if g < 0 || g >= len(names) {
			return nil, fmt.Errorf("scatter plot %q: point %d is in group %d, but there are %d group names", title, i, g, len(names))
		}
		if math.IsNaN(xs[i]) || math.IsInf(xs[i], 0) || math.IsNaN(ys[i]) || math.IsInf(ys[i], 0) {
			return nil, fmt.Errorf("scatter plot %q: point %d is (%g, %g)", title, i, xs[i], ys[i])
		}
	}
	capFace, titFace, err := faces()
	if err != nil {
		return nil, fmt.Errorf("loading fonts: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	legend := 0
	for _, n := range names {
		legend = max(legend, fontWidth(capFace, n)+24)
	}
	x0, x1, y0, y1 := 10, w-legend-16, 30, h-10
	drawText(img, titFace, fitText(titFace, title, w-8), 8, 20)
	DrawBox(img, image.Rect(x0, y0, x1+1, y1+1), color.RGBA{90, 90, 90, 255}, 1)
	minX, maxX, minY, maxY := xs[0], xs[0], ys[0], ys[0]
	for i := range xs {
		minX, maxX = math.Min(minX, xs[i]), math.Max(maxX, xs[i])
		minY, maxY = math.Min(minY, ys[i]), math.Max(maxY, ys[i])
	}
	span := func(lo, hi float64) float64 { return math.Max(hi-lo, 1e-12) }
	for i := range xs {
		c := seriesColors[groups[i]%len(seriesColors)]
		cx := float64(x0+4) + (xs[i]-minX)/span(minX, maxX)*float64(x1-x0-8)
		cy := float64(y1-4) - (ys[i]-minY)/span(minY, maxY)*float64(y1-y0-8)
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				if dx*dx+dy*dy <= 5 {
					img.SetRGBA(int(cx)+dx, int(cy)+dy, c)
				}
			}
		}
	}
	for k, n := range names {
		c := seriesColors[k%len(seriesColors)]
		ly := y0 + 12 + 16*k
		for dy := -4; dy <= 4; dy++ {
			for dx := 0; dx < 9; dx++ {
				img.SetRGBA(x1+10+dx, ly-4+dy, c)
			}
		}
		drawText(img, capFace, n, x1+24, ly+1)
	}
	return img, nil
}
