package gradcam

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/gradcam-go/gradcam/gradcam/render"
)

// finishEigen turns the Eigen-CAM and Eigen-Grad-CAM matrices the graph returned (LowRes holds
// the channels-last activations, or gradients times activations, [h, w, C] or [l, C]) into
// their maps: LowRes becomes the projection on the first principal component ([h, w]), Values
// the ReLU'd projection scaled and upsampled to size like every CAM-family map.
func finishEigen(result Results, size []int) error {
	for _, ex := range result {
		for _, method := range []Method{EigenCAM, EigenGradCAM} {
			mp := ex.Maps[method]
			if mp == nil {
				continue
			}
			spatial := mp.LowResShape[:len(mp.LowResShape)-1]
			p, err := principalProjection(mp.LowRes, shapeSize(spatial), mp.LowResShape[len(mp.LowResShape)-1])
			if err != nil {
				return fmt.Errorf("%s of image %d: %w", MethodTitles[method], ex.Image, err)
			}
			mp.LowRes, mp.LowResShape = p, append([]int(nil), spatial...)
			pos := make([]float32, len(p))
			for i, v := range p {
				pos[i] = max(v, 0)
			}
			mp.Values, mp.Shape = scaleUpsample(pos, spatial, size), append([]int(nil), size...)
		}
	}
	return nil
}

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

// scaleUpsample is normalizeUpsample on the host: min-max scaling, bilinear resize with
// half-pixel centres (edge values repeated) from spatial to size, min-max scaling again.
func scaleUpsample(m []float32, spatial, size []int) []float32 {
	h, w, oh, ow := 1, spatial[0], 1, size[0]
	if len(spatial) == 2 {
		h, w, oh, ow = spatial[0], spatial[1], size[0], size[1]
	}
	up := render.Resize(render.Normalize(m), h, w, oh, ow)
	return render.Normalize(up)
}

func shapeSize(d []int) int {
	n := 1
	for _, v := range d {
		n *= v
	}
	return n
}
