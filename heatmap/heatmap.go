// Package heatmap is the maths of explanation maps on the host: min-max scaling as
// pytorch-grad-cam scales them, and linear resizing, whose interpolation weights are the
// toolkit's one definition of a linear resize (images, maps on the host, maps in graphs).
package heatmap

// Resize resizes an h x w map (row-major) to oh x ow bilinearly with half-pixel centres and
// edge values repeated: PyTorch's F.interpolate(align_corners=False) and OpenCV's INTER_LINEAR
// when enlarging (LinearWeights without antialias). A 1-D map is 1 x w.
func Resize(m []float32, h, w, oh, ow int) []float32 {
	return separable(m, h, w, LinearWeights(oh, h, false), LinearWeights(ow, w, false))
}

// ResizeAlignCorners resizes an h x w map to oh x ow bilinearly with the corner pixels'
// centres aligned: PyTorch's UpsamplingBilinear2d (align_corners=True).
func ResizeAlignCorners(m []float32, h, w, oh, ow int) []float32 {
	return separable(m, h, w, AlignCornersWeights(oh, h), AlignCornersWeights(ow, w))
}

// separable applies the row weights wy [oh][h] and the column weights wx [ow][w] to an h x w
// map: wy · m · wxᵀ.
func separable(m []float32, h, w int, wy, wx [][]float64) []float32 {
	oh, ow := len(wy), len(wx)
	rows := make([]float64, oh*w) // wy · m
	for y, r := range wy {
		for i, k := range r {
			if k == 0 {
				continue
			}
			for x := range w {
				rows[y*w+x] += k * float64(m[i*w+x])
			}
		}
	}
	out := make([]float32, oh*ow)
	for y := range oh {
		for x, c := range wx {
			s := 0.0
			for j, k := range c {
				if k != 0 {
					s += k * rows[y*w+j]
				}
			}
			out[y*ow+x] = float32(s)
		}
	}
	return out
}

// Normalize min-max scales a map to [0, 1] the way pytorch-grad-cam does (x - min, then
// divided by max + 1e-7); a constant map becomes zeros. The input is not modified.
func Normalize(m []float32) []float32 {
	if len(m) == 0 {
		return nil
	}
	out := make([]float32, len(m))
	scaleInto(out, m)
	return out
}

// MeanNormalized is pytorch-grad-cam's aggregation of maps of the same size (one per layer):
// their element-wise mean, min-max scaled as Normalize does. It is Normalize of the mean (the
// same bits) in three passes over one new slice.
func MeanNormalized(maps ...[]float32) []float32 {
	if len(maps) == 0 || len(maps[0]) == 0 {
		return nil
	}
	out := make([]float32, len(maps[0]))
	n := float32(len(maps))
	for i := range out {
		var s float32
		for _, m := range maps {
			s += m[i]
		}
		out[i] = s
	}
	if n != 1 { // s / 1 is s
		for i := range out {
			out[i] /= n
		}
	}
	scaleInto(out, out)
	return out
}

// scaleInto writes m min-max scaled to out (which may be m): x - min, then divided by max + 1e-7.
func scaleInto(out, m []float32) {
	lo := minOf(m)
	for i, v := range m {
		out[i] = v - lo
	}
	den := max(maxOf(out), 0) + 1e-7
	for i := range out {
		out[i] /= den
	}
}

// minOf and maxOf are Go's min and max over x (not empty), in four interleaved chains joined at
// the end: the same value as one chain (min and max take the same values in any order), without
// waiting on each step's result.
func minOf(x []float32) float32 {
	a, b, c, d := x[0], x[0], x[0], x[0]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d = min(a, x[i]), min(b, x[i+1]), min(c, x[i+2]), min(d, x[i+3])
	}
	for ; i < len(x); i++ {
		a = min(a, x[i])
	}
	return min(a, b, c, d)
}

func maxOf(x []float32) float32 {
	a, b, c, d := x[0], x[0], x[0], x[0]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d = max(a, x[i]), max(b, x[i+1]), max(c, x[i+2]), max(d, x[i+3])
	}
	for ; i < len(x); i++ {
		a = max(a, x[i])
	}
	return max(a, b, c, d)
}
