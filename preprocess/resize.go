package preprocess

import (
	"image"

	"github.com/gradcam-go/gradcam/heatmap"
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

// pilCoeffs is PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter: the
// antialiased LinearWeights, each output's span of inputs (bounds: first, count) and its weights
// in PIL's fixed point.
func pilCoeffs(inSize, outSize int) (bounds []int, kk [][]int32) {
	weights := heatmap.LinearWeights(outSize, inSize, true)
	bounds = make([]int, 2*outSize)
	kk = make([][]int32, outSize)
	for xx, row := range weights {
		first, last := 0, -1
		for x, k := range row {
			if k != 0 {
				if last < 0 {
					first = x
				}
				last = x
			}
		}
		kk[xx] = make([]int32, last-first+1)
		for x := range kk[xx] {
			k := row[first+x]
			if k < 0 {
				kk[xx][x] = int32(-0.5 + k*(1<<precisionBits))
			} else {
				kk[xx][x] = int32(0.5 + k*(1<<precisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = first, last-first+1
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
