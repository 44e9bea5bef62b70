package heatmap

import "math"

// LinearWeights is the [out][in] matrix of linear interpolation with half-pixel centres: output
// i samples input coordinate (i + 0.5) * in/out - 0.5 with a tent, whose weights inside the input
// are renormalized to sum 1 (at the edges: the nearest input). Without antialias the tent has
// width 1: PyTorch's interpolate(align_corners=False), OpenCV's INTER_LINEAR when enlarging, and
// graph.Interpolate. With antialias the tent is widened by in/out when shrinking: PIL's (and so
// torchvision's) bilinear resize. It is the one linear resize of the toolkit: images
// (preprocess), maps on the host (Resize) and in graphs (gradcam's upsampling).
func LinearWeights(out, in int, antialias bool) [][]float64 {
	scale := float64(in) / float64(out)
	filterScale := 1.0
	if antialias {
		filterScale = max(scale, 1)
	}
	w := make([][]float64, out)
	for i := range w {
		center := (float64(i) + 0.5) * scale
		w[i] = make([]float64, in)
		sum := 0.0
		for j := range in {
			if v := math.Abs((float64(j) - center + 0.5) / filterScale); v < 1 {
				w[i][j] = 1 - v
				sum += w[i][j]
			}
		}
		if sum != 0 {
			for j := range w[i] {
				w[i][j] /= sum
			}
		}
	}
	return w
}

// AlignCornersWeights is the [out][in] matrix of linear interpolation with the corner pixels'
// centres aligned: output i samples input coordinate i * (in-1)/(out-1) (PyTorch's
// UpsamplingBilinear2d, align_corners=True; Score-CAM's masks).
func AlignCornersWeights(out, in int) [][]float64 {
	w := make([][]float64, out)
	for i := range w {
		at := 0.0
		if out > 1 {
			at = float64(i) * float64(in-1) / float64(out-1)
		}
		w[i] = make([]float64, in)
		for j := range in {
			w[i][j] = max(1-math.Abs(float64(j)-at), 0)
		}
	}
	return w
}
