package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/gradcam-go/gradcam/heatmap"
)

// FilterMosaic draws the first k filters of a first-layer convolution kernel in PyTorch's layout,
// [out, 3, kh, kw] (as RGB) or [out, 1, kh, kw] (gray), each scaled to its own range and enlarged
// to cell x cell pixels without smoothing, cols per row with a 2-pixel white gutter: one picture
// in which a 3x3 or 7x7 filter can be read (lone 12-pixel tiles could not).
func FilterMosaic(kernel []float32, shape []int, k, cols, cell int) (*image.RGBA, error) {
	if len(shape) != 4 || (shape[1] != 1 && shape[1] != 3) {
		return nil, fmt.Errorf("filter mosaic: a kernel of shape %v is not [out, 1 or 3, kh, kw]: only a first layer's filters are pictures", shape)
	}
	out, ch, kh, kw := shape[0], shape[1], shape[2], shape[3]
	if len(kernel) != out*ch*kh*kw {
		return nil, fmt.Errorf("filter mosaic: %d values for a kernel of shape %v", len(kernel), shape)
	}
	if k < 1 || cols < 1 || cell < max(kh, kw) {
		return nil, fmt.Errorf("filter mosaic: %d filters, %d columns, cells of %d pixels: want k, cols >= 1 and cells of at least %d pixels", k, cols, cell, max(kh, kw))
	}
	k = min(k, out)
	cols = min(cols, k)
	rows := (k + cols - 1) / cols
	const gutter = 2
	img := image.NewRGBA(image.Rect(0, 0, cols*(cell+gutter)+gutter, rows*(cell+gutter)+gutter))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	size := ch * kh * kw
	for f := range k {
		norm := heatmap.Normalize(kernel[f*size : (f+1)*size])
		x0, y0 := gutter+(f%cols)*(cell+gutter), gutter+(f/cols)*(cell+gutter)
		for y := range cell {
			for x := range cell {
				ky, kx := y*kh/cell, x*kw/cell
				var rgb [3]uint8
				for c := range 3 {
					rgb[c] = uint8(255 * norm[(c%ch)*kh*kw+ky*kw+kx])
				}
				img.SetRGBA(x0+x, y0+y, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
			}
		}
	}
	return img, nil
}
