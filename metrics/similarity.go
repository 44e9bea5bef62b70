package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Spearman is the Spearman rank correlation of two maps of the same size (scipy.stats.spearmanr:
// the Pearson correlation of the ranks, tied values sharing their average rank). It is 0 when
// either map is constant (scipy returns NaN there; a constant map carries no ranking).
func Spearman(a, b []float32) (float64, error) {
	if len(a) != len(b) || len(a) < 2 {
		return 0, fmt.Errorf("spearman: maps of %d and %d values (need the same size, at least 2)", len(a), len(b))
	}
	return pearson(ranks(a), ranks(b)), nil
}

// Pearson is the Pearson correlation of two maps of the same size (numpy.corrcoef's). It is 0
// when either map is constant.
func Pearson(a, b []float32) (float64, error) {
	if len(a) != len(b) || len(a) < 2 {
		return 0, fmt.Errorf("pearson: maps of %d and %d values (need the same size, at least 2)", len(a), len(b))
	}
	fa, fb := make([]float64, len(a)), make([]float64, len(b))
	for i := range a {
		fa[i], fb[i] = float64(a[i]), float64(b[i])
	}
	return pearson(fa, fb), nil
}

// ranks are 1-based ranks with ties averaged.
func ranks[T float32 | float64](v []T) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return v[idx[i]] < v[idx[j]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma, mb = ma/n, mb/n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// SSIM is the mean structural similarity of two maps (Wang et al. 2004) as scikit-image's
// structural_similarity computes it with its defaults: a 7x7 uniform window, K1 = 0.01,
// K2 = 0.03, sample covariances, the mean taken over the pixels whose window lies inside the
// image. dataRange is the maps' value range (1 for maps scaled to [0, 1]). Maps smaller than
// 7x7 are refused.
func SSIM(a, b Heatmap, dataRange float64) (float64, error) {
	if a.H != b.H || a.W != b.W || len(a.Values) != a.H*a.W || len(b.Values) != b.H*b.W {
		return 0, fmt.Errorf("ssim: maps of %dx%d and %dx%d (need the same size)", a.H, a.W, b.H, b.W)
	}
	const win = 7
	if a.H < win || a.W < win {
		return 0, fmt.Errorf("ssim: maps of %dx%d are smaller than its %dx%d window", a.H, a.W, win, win)
	}
	return ssim(a, b, dataRange, win, win)
}

// ssim is SSIM with a winH x winW window (scikit-image's on an array of one dimension, as
// Quantus's ssim calls it on flattened maps, is a 1 x 7 window over a 1 x n map).
func ssim(a, b Heatmap, dataRange float64, winH, winW int) (float64, error) {
	if !(dataRange > 0) {
		return 0, fmt.Errorf("ssim: data range %g must be positive", dataRange)
	}
	c1, c2 := math.Pow(0.01*dataRange, 2), math.Pow(0.03*dataRange, 2)
	np := float64(winH * winW)
	norm := np / (np - 1)
	h, w := a.H, a.W
	// Box sums over each window by a summed-area table of x, y, x², y², xy.
	sat := func(f func(i int) float64) []float64 {
		s := make([]float64, (h+1)*(w+1))
		for y := range h {
			for x := range w {
				s[(y+1)*(w+1)+x+1] = f(y*w+x) + s[y*(w+1)+x+1] + s[(y+1)*(w+1)+x] - s[y*(w+1)+x]
			}
		}
		return s
	}
	fa := func(i int) float64 { return float64(a.Values[i]) }
	fb := func(i int) float64 { return float64(b.Values[i]) }
	sx, sy := sat(fa), sat(fb)
	sxx := sat(func(i int) float64 { return fa(i) * fa(i) })
	syy := sat(func(i int) float64 { return fb(i) * fb(i) })
	sxy := sat(func(i int) float64 { return fa(i) * fb(i) })
	box := func(s []float64, y0, x0 int) float64 {
		y1, x1 := y0+winH, x0+winW
		return (s[y1*(w+1)+x1] - s[y0*(w+1)+x1] - s[y1*(w+1)+x0] + s[y0*(w+1)+x0]) / np
	}
	var total float64
	n := 0
	for y0 := 0; y0+winH <= h; y0++ {
		for x0 := 0; x0+winW <= w; x0++ {
			ux, uy := box(sx, y0, x0), box(sy, y0, x0)
			vx := norm * (box(sxx, y0, x0) - ux*ux)
			vy := norm * (box(syy, y0, x0) - uy*uy)
			vxy := norm * (box(sxy, y0, x0) - ux*uy)
			total += (2*ux*uy + c1) * (2*vxy + c2) / ((ux*ux + uy*uy + c1) * (vx + vy + c2))
			n++
		}
	}
	return total / float64(n), nil
}

// percentile is NumPy's np.percentile with its default linear interpolation.
func percentile(v []float32, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(s)-1)
	frac := rank - float64(lo)
	return float64(s[lo]) + frac*(float64(s[hi])-float64(s[lo]))
}
