package gradcam

import (
	"fmt"
	"math"

	"github.com/gradcam-go/gradcam/heatmap"
	"gonum.org/v1/gonum/mat"
)

// principalProjection projects each of the n rows of x (n x c, row-major) on the first principal
// component of the rows (centred by column means, as pytorch-grad-cam's get_2d_projection), with
// the sign that makes the largest magnitude positive. A matrix without variance projects to zeros.
func principalProjection(x []float32, n, c int) ([]float32, error) {
	m := mat.NewDense(n, c, nil)
	for j := range c {
		mean := 0.0
		for i := range n {
			mean += float64(x[i*c+j])
		}
		mean /= float64(n)
		for i := range n {
			v := float64(x[i*c+j]) - mean
			if math.IsNaN(v) {
				v = 0
			}
			m.Set(i, j, v)
		}
	}
	out := make([]float32, n)
	if mat.Norm(m, 2) == 0 {
		return out, nil
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return nil, fmt.Errorf("the SVD of the %dx%d activation matrix did not converge", n, c)
	}
	var v mat.Dense
	svd.VTo(&v)
	var p mat.VecDense
	p.MulVec(m, v.ColView(0))
	lo, hi := 0.0, 0.0
	for i := range n {
		lo, hi = min(lo, p.AtVec(i)), max(hi, p.AtVec(i))
	}
	sign := 1.0
	if -lo > hi {
		sign = -1
	}
	for i := range n {
		out[i] = float32(sign * p.AtVec(i))
	}
	return out, nil
}

// upsample resizes a map bilinearly with half-pixel centres (edge values repeated) from its
// spatial shape to size: the resize of pytorch-grad-cam's scale_cam_image.
func upsample(m []float32, spatial, size []int) []float32 {
	h, w, oh, ow := 1, spatial[0], 1, size[0]
	if len(spatial) == 2 {
		h, w, oh, ow = spatial[0], spatial[1], size[0], size[1]
	}
	return heatmap.Resize(m, h, w, oh, ow)
}

func shapeSize(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}
