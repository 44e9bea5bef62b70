package preprocess

import (
	"image"
	"math"
)

// resizeBilinear resizes an RGB image exactly as PIL's Image.resize(size, Image.BILINEAR) does
// (which is also torchvision's Resize on PIL images, antialias on): a triangle filter widened by
// the scale factor when shrinking, applied horizontally then vertically, with PIL's 22-bit
// fixed-point weights and rounding to 8 bits after each pass. Matching it byte for byte keeps
// the predictions on non-224 images equal to PyTorch's.
func resizeBilinear(src *image.RGBA, w, h int) *image.RGBA {
	sb := src.Bounds()
	cur := src
	if sb.Dx() != w {
		cur = resamplePass(cur, w, true)
	}
	if sb.Dy() != h {
		cur = resamplePass(cur, h, false)
	}
	if cur == src {
		out := image.NewRGBA(image.Rect(0, 0, w, h))
		copy(out.Pix, src.Pix)
		return out
	}
	return cur
}

const precisionBits = 32 - 8 - 2

// pilCoeffs is PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter.
func pilCoeffs(inSize, outSize int) (bounds []int, kk [][]int32) {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := 1.0 * filterScale
	bounds = make([]int, 2*outSize)
	kk = make([][]int32, outSize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterScale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		k := make([]float64, xmax)
		var ww float64
		for x := range xmax {
			v := math.Abs((float64(x+xmin) - center + 0.5) * ss)
			if v < 1 {
				k[x] = 1 - v
			} else {
				k[x] = 0
			}
			ww += k[x]
		}
		kk[xx] = make([]int32, xmax)
		for x := range xmax {
			if ww != 0 {
				k[x] /= ww
			}
			if k[x] < 0 {
				kk[xx][x] = int32(-0.5 + k[x]*(1<<precisionBits))
			} else {
				kk[xx][x] = int32(0.5 + k[x]*(1<<precisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk
}

func clip8(v int64) uint8 {
	v >>= precisionBits
	if v >= 255 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v)
}

// resamplePass resizes one axis (horizontal or vertical) to size.
func resamplePass(src *image.RGBA, size int, horizontal bool) *image.RGBA {
	sb := src.Bounds()
	inSize := sb.Dy()
	w, h := sb.Dx(), size
	if horizontal {
		inSize = sb.Dx()
		w, h = size, sb.Dy()
	}
	bounds, kk := pilCoeffs(inSize, size)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			o := out.PixOffset(x, y)
			pos := x
			if !horizontal {
				pos = y
			}
			xmin, n := bounds[2*pos], bounds[2*pos+1]
			for c := range 3 {
				acc := int64(1) << (precisionBits - 1)
				for i := range n {
					var so int
					if horizontal {
						so = src.PixOffset(sb.Min.X+xmin+i, sb.Min.Y+y)
					} else {
						so = src.PixOffset(sb.Min.X+x, sb.Min.Y+xmin+i)
					}
					acc += int64(src.Pix[so+c]) * int64(kk[pos][i])
				}
				out.Pix[o+c] = clip8(acc)
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}
