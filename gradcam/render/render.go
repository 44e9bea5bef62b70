// Package render turns explanation maps into pictures: colormaps with OpenCV's tables (so
// overlays look like pytorch-grad-cam's), heatmap overlays, gradient images, bounding boxes and
// figure grids with captions. It is pure image code, with no notebook or model dependency.
package render

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"

	"github.com/gradcam-go/gradcam/heatmap"
)

// Colormap maps [0, 1] to colours; its value is its name.
type Colormap string

// The colormaps. Jet, Turbo, Viridis and Inferno are OpenCV's COLORMAP_* tables.
const (
	Jet     Colormap = "jet"
	Turbo   Colormap = "turbo"
	Viridis Colormap = "viridis"
	Inferno Colormap = "inferno"
	Gray    Colormap = "gray"
	// BWR is matplotlib's bwr: blue, white at the middle, red; for signed values (relevance).
	BWR Colormap = "bwr"
)

// tables are the colormaps' tables; Gray has none.
var tables = map[Colormap]*[256][3]uint8{Jet: &jetTable, Turbo: &turboTable, Viridis: &viridisTable, Inferno: &infernoTable,
	BWR: bwrTable()}

// bwrTable is matplotlib's bwr: linear from blue (0, 0, 1) through white to red (1, 0, 0).
func bwrTable() *[256][3]uint8 {
	var t [256][3]uint8
	for i := range t {
		v := float64(i) / 255
		r, g, b := min(1, 2*v), 1-math.Abs(2*v-1), min(1, 2-2*v)
		t[i] = [3]uint8{uint8(255*r + 0.5), uint8(255*g + 0.5), uint8(255*b + 0.5)}
	}
	return &t
}

// Colormaps lists the colormaps.
func Colormaps() []Colormap { return []Colormap{Jet, Turbo, Viridis, Inferno, Gray, BWR} }

// ColormapByName finds a colormap.
func ColormapByName(name string) (Colormap, error) {
	var names []string
	for _, c := range Colormaps() {
		if string(c) == strings.ToLower(name) {
			return c, nil
		}
		names = append(names, string(c))
	}
	return "", fmt.Errorf("unknown colormap %q; colormaps: %s", name, strings.Join(names, ", "))
}

// Index returns the colour of entry i (0..255), as OpenCV's applyColorMap does for a uint8
// value. An unknown colormap is gray.
func (c Colormap) Index(i uint8) color.RGBA {
	t := tables[c]
	if t == nil {
		return color.RGBA{i, i, i, 255}
	}
	e := t[i]
	return color.RGBA{e[0], e[1], e[2], 255}
}

// At returns the colour of v in [0, 1] (clamped; NaN is 0), quantized like
// np.uint8(255 * v) in pytorch-grad-cam.
func (c Colormap) At(v float32) color.RGBA { return c.Index(quantize(v)) }

// quantize is np.uint8(255 * v) for v in [0, 1]: truncation, clamped.
func quantize(v float32) uint8 {
	x := 255 * v
	if !(x > 0) {
		return 0
	}
	if x >= 255 {
		return 255
	}
	return uint8(x)
}

// checkMap validates a [h, w] map.
func checkMap(m []float32, w, h int) error {
	if w <= 0 || h <= 0 || len(m) != w*h {
		return fmt.Errorf("map of %d values is not %dx%d", len(m), w, h)
	}
	return nil
}

// Heatmap colours a [h, w] map of values in [0, 1] (row-major).
func Heatmap(m []float32, w, h int, cm Colormap) (*image.RGBA, error) {
	if err := checkMap(m, w, h); err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range m {
		out.SetRGBA(i%w, i/w, cm.At(v))
	}
	return out, nil
}

// Overlay blends the coloured map over the image like pytorch-grad-cam's show_cam_on_image:
// (1 - imageWeight) * colour + imageWeight * image, divided by its maximum, as 8-bit RGB. The
// map must have the image's size.
func Overlay(img image.Image, m []float32, cm Colormap, imageWeight float64) (*image.RGBA, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if err := checkMap(m, w, h); err != nil {
		return nil, fmt.Errorf("overlay on a %dx%d image: %w", w, h, err)
	}
	if imageWeight < 0 || imageWeight > 1 {
		return nil, fmt.Errorf("image weight %g is not in [0, 1]", imageWeight)
	}
	mix := make([]float32, w*h*3)
	var peak float32
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			c := cm.At(m[y*w+x])
			heat := [3]float32{float32(c.R) / 255, float32(c.G) / 255, float32(c.B) / 255}
			pix := [3]float32{float32(r>>8) / 255, float32(g>>8) / 255, float32(bl>>8) / 255}
			for ch := range 3 {
				v := float32(1-imageWeight)*heat[ch] + float32(imageWeight)*pix[ch]
				mix[(y*w+x)*3+ch] = v
				peak = max(peak, v)
			}
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		for ch := range 3 {
			v := mix[i*3+ch]
			if peak > 0 {
				v /= peak
			}
			out.Pix[i*4+ch] = quantize(v)
		}
		out.Pix[i*4+3] = 255
	}
	return out, nil
}

// GradientImage renders a [3, h, w] input gradient (guided backprop, deconvnet, Guided
// Grad-CAM) like pytorch-grad-cam's deprocess_image: centred on its mean, scaled to 0.1 standard
// deviations around 0.5, clipped to [0, 1].
func GradientImage(g []float32, w, h int) (*image.RGBA, error) {
	if w <= 0 || h <= 0 || len(g) != 3*w*h {
		return nil, fmt.Errorf("gradient of %d values is not 3x%dx%d", len(g), h, w)
	}
	var mean float64
	for _, v := range g {
		mean += float64(v)
	}
	mean /= float64(len(g))
	var variance float64
	for _, v := range g {
		d := float64(v) - mean
		variance += d * d
	}
	std := math.Sqrt(variance / float64(len(g)))
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for c := range 3 {
		for i := range w * h {
			// float32 arithmetic like NumPy on a float32 array.
			v := (g[c*w*h+i] - float32(mean)) / (float32(std) + 1e-5)
			v = v*0.1 + 0.5
			out.Pix[i*4+c] = quantize(min(max(v, 0), 1))
		}
	}
	for i := range w * h {
		out.Pix[i*4+3] = 255
	}
	return out, nil
}

// Relevance renders a [C, h, w] attribution (LRP's relevance, DeepLift's, SHAP values) as Zennit
// and the LRP papers show it: summed over channels, scaled by its largest magnitude, in BWR (red
// for evidence for the class, blue against, white for none).
func Relevance(r []float32, c, w, h int) (*image.RGBA, error) {
	if c <= 0 || w <= 0 || h <= 0 || len(r) != c*w*h {
		return nil, fmt.Errorf("relevance of %d values is not %dx%dx%d", len(r), c, h, w)
	}
	sum := make([]float64, w*h)
	for ch := range c {
		for i := range sum {
			sum[i] += float64(r[ch*w*h+i])
		}
	}
	scale := 0.0
	for _, v := range sum {
		scale = math.Max(scale, math.Abs(v))
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, v := range sum {
		x := 0.5
		if scale > 0 {
			x = 0.5 + 0.5*v/scale
		}
		col := BWR.At(float32(x))
		out.Pix[i*4], out.Pix[i*4+1], out.Pix[i*4+2], out.Pix[i*4+3] = col.R, col.G, col.B, 255
	}
	return out, nil
}

// ThresholdBox is the Grad-CAM paper's localization box: the bounding box of the largest
// segment of the map at or above frac of its maximum (the paper uses 0.15). The paper does not
// say which connectivity; this uses 8-connectivity (diagonal neighbours join a segment). Among
// segments of equal size the first in row-major order wins. It returns an empty rectangle for a
// map with no positive value. (metrics.LocalizationBox scores it against ground truth.)
func ThresholdBox(m []float32, w, h int, frac float32) (image.Rectangle, error) {
	if err := checkMap(m, w, h); err != nil {
		return image.Rectangle{}, err
	}
	var peak float32
	for _, v := range m {
		peak = max(peak, v)
	}
	if !(peak > 0) {
		return image.Rectangle{}, nil
	}
	cut := frac * peak
	seen := make([]bool, w*h)
	var best image.Rectangle
	bestSize := 0
	stack := []int{}
	for start, v := range m {
		if seen[start] || !(v >= cut) {
			continue
		}
		seen[start] = true
		stack = append(stack[:0], start)
		size := 0
		box := image.Rect(start%w, start/w, start%w+1, start/w+1)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			x, y := p%w, p/w
			box = box.Union(image.Rect(x, y, x+1, y+1))
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					if q := ny*w + nx; !seen[q] && m[q] >= cut {
						seen[q] = true
						stack = append(stack, q)
					}
				}
			}
		}
		if size > bestSize {
			best, bestSize = box, size
		}
	}
	return best, nil
}

// DrawBox draws a rectangle outline of the given thickness on img.
func DrawBox(img *image.RGBA, r image.Rectangle, c color.RGBA, thickness int) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return
	}
	for t := range thickness {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, min(r.Min.Y+t, r.Max.Y-1), c)
			img.SetRGBA(x, max(r.Max.Y-1-t, r.Min.Y), c)
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			img.SetRGBA(min(r.Min.X+t, r.Max.X-1), y, c)
			img.SetRGBA(max(r.Max.X-1-t, r.Min.X), y, c)
		}
	}
}

// Picture draws an explanation map for people: a [3, H, W] gradient image as pytorch-grad-cam's
// deprocess_image ([1, H, W], of a gray input, in gray); an [H, W] heatmap normalized and
// blended over img (H x W) with the colormap, img weighing imageWeight (pytorch-grad-cam's
// show_cam_on_image; 0 means its default, 0.5).
func Picture(values []float32, shape []int, img image.Image, cm Colormap, imageWeight float64) (*image.RGBA, error) {
	switch {
	case len(shape) == 3 && shape[0] == 3:
		return GradientImage(values, shape[2], shape[1])
	case len(shape) == 3 && shape[0] == 1:
		return GradientImage(slices.Concat(values, values, values), shape[2], shape[1])
	case len(shape) == 2:
		if imageWeight == 0 {
			imageWeight = 0.5
		}
		return Overlay(img, heatmap.Normalize(values), cm, imageWeight)
	}
	return nil, fmt.Errorf("a map of shape %v is neither an [H, W] heatmap nor a [3, H, W] gradient image", shape)
}

// PixelImage draws pixels in [0, 1] laid out C x H x W (C = 1: gray; C = 3: RGB), clipping
// values outside the range: a dataset's example or an image found by gradient ascent.
func PixelImage(pixels []float32, c, h, w int) (*image.RGBA, error) {
	if (c != 1 && c != 3) || h <= 0 || w <= 0 || len(pixels) != c*h*w {
		return nil, fmt.Errorf("%d values are not a 1- or 3-channel image of %dx%dx%d", len(pixels), c, h, w)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			for ch := range 3 {
				img.Pix[img.PixOffset(x, y)+ch] = uint8(255*min(max(pixels[(ch%c)*h*w+y*w+x], 0), 1) + 0.5)
			}
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	return img, nil
}

// Zoom enlarges an image k times, each pixel a k x k block (small inputs, patches, filters).
func Zoom(img image.Image, k int) *image.RGBA {
	b := img.Bounds()
	k = max(k, 1)
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := range b.Dy() * k {
		for x := range b.Dx() * k {
			out.Set(x, y, img.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	return out
}
