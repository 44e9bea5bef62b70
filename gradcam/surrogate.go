// LIME and KernelSHAP: a linear surrogate of the model over superpixels switched on and off.

package gradcam

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"gonum.org/v1/gonum/mat"
)

// SurrogateOptions configure LIME and KernelSHAP as Captum computes them. The image is cut into
// features (superpixels, grid cells, or a sequence's positions); each sample switches every
// feature on (the input's values) or off (the baseline's), the model scores the result, and a
// weighted linear model of the scores over the on/off vectors gives each feature its coefficient,
// painted over its pixels.
//
// LIME (Ribeiro et al. 2016) draws each feature on with probability 1/2, weighs a sample by
// exp(-d²/(2 KernelWidth²)), d the cosine distance between the input and the sample, and fits a
// Lasso (Alpha). KernelSHAP (Lundberg and Lee 2017) draws the number of features on from the
// Shapley kernel's distribution, adds the all-on and all-off samples with a large weight, and
// fits least squares: the coefficients approximate Shapley values.
type SurrogateOptions struct {
	// Samples is the number of samples; 0 means 200.
	Samples int
	// Superpixels is the number of SLIC superpixels asked for (SLIC may make a few more or
	// fewer); 0 means 50. Grid cuts the image into about as many square cells instead.
	Superpixels int
	Grid        bool
	// Compactness weighs space against colour in SLIC; 0 means 10.
	Compactness float64
	// Segments, when set, are the features themselves: one label per pixel (per position for
	// sequences), [H*W], labels 0..M-1 (to reproduce another library's).
	Segments []int32
	// Given, when set, are the samples themselves, each M on/off values (KernelSHAP's first two
	// are usually all on and all off).
	Given [][]bool
	// KernelWidth is LIME's kernel width on the cosine distance; 0 means 1 (Captum's).
	KernelWidth float64
	// Alpha is LIME's Lasso penalty; 0 means 0.01 (Captum's).
	Alpha float64
	// Baseline is what an off feature shows, one example; nil means zeros (the dataset's mean
	// colour after normalization).
	Baseline []float32
	// Seed makes the samples and the superpixels' start: the same seed gives the same maps.
	Seed uint64
	// BatchSize is the samples per forward; 0 chooses from Memory as occlusion does.
	BatchSize int
	// Memory bounds a batch's activations; 0 means DefaultOcclusionMemory.
	Memory int64
}

func (o SurrogateOptions) withDefaults() SurrogateOptions {
	if o.Samples == 0 {
		o.Samples = 200
		if o.Given != nil {
			o.Samples = len(o.Given)
		}
	}
	if o.Superpixels == 0 {
		o.Superpixels = 50
	}
	if o.Compactness == 0 {
		o.Compactness = 10
	}
	if o.KernelWidth == 0 {
		o.KernelWidth = 1
	}
	if o.Alpha == 0 {
		o.Alpha = 0.01
	}
	return o
}

// check validates the options for inputs of pixels positions (H*W, or L) and size values.
func (o SurrogateOptions) check(pixels, size int) error {
	switch {
	case o.Samples < 1:
		return fmt.Errorf("LIME and KernelSHAP need at least 1 sample, got %d", o.Samples)
	case o.Superpixels < 1 || o.Superpixels > pixels:
		return fmt.Errorf("superpixels must be 1 to %d (the input's pixels), got %d", pixels, o.Superpixels)
	case o.KernelWidth < 0 || o.Alpha < 0 || o.Compactness < 0:
		return fmt.Errorf("kernel width, alpha and compactness must be >= 0, got %g, %g, %g", o.KernelWidth, o.Alpha, o.Compactness)
	case o.Segments != nil && len(o.Segments) != pixels:
		return fmt.Errorf("segments have %d labels for %d pixels", len(o.Segments), pixels)
	case o.Baseline != nil && len(o.Baseline) != size:
		return fmt.Errorf("the surrogates' baseline has %d values for inputs of %d", len(o.Baseline), size)
	case o.Given != nil && len(o.Given) != o.Samples:
		return fmt.Errorf("%d given samples for %d samples", len(o.Given), o.Samples)
	}
	return nil
}

// segments are the features of an image: the given ones, grid cells or SLIC superpixels, and
// their number.
func (o SurrogateOptions) segments(img []float32, ch int, spatial []int) ([]int32, int, error) {
	if o.Segments != nil {
		labels := slices.Clone(o.Segments)
		n := int32(0)
		for _, l := range labels {
			if l < 0 {
				return nil, 0, fmt.Errorf("segment label %d: labels must be >= 0", l)
			}
			n = max(n, l+1)
		}
		return labels, int(n), nil
	}
	if len(spatial) == 1 { // a sequence: cells of positions
		l := spatial[0]
		cell := max(1, l/o.Superpixels)
		labels := make([]int32, l)
		for p := range labels {
			labels[p] = int32(p / cell)
		}
		return labels, int(labels[l-1]) + 1, nil
	}
	if o.Grid {
		labels, n := GridSegments(spatial[0], spatial[1], o.Superpixels)
		return labels, n, nil
	}
	labels, n := SLIC(img, ch, spatial[0], spatial[1], o.Superpixels, o.Compactness)
	return labels, n, nil
}

// GridSegments cuts an h x w image into about n square cells, labelled row by row.
func GridSegments(h, w, n int) ([]int32, int) {
	side := max(1, int(math.Round(math.Sqrt(float64(h*w)/float64(n)))))
	cols := (w + side - 1) / side
	rows := (h + side - 1) / side
	labels := make([]int32, h*w)
	for y := range h {
		for x := range w {
			labels[y*w+x] = int32(y/side*cols + x/side)
		}
	}
	return labels, rows * cols
}

// SLIC segments an image (channels-first, ch x h x w values) into about n superpixels (Achanta et
// al. 2012): k-means over colour and position from a grid of centres, 10 iterations, distance
// d_colour² + (d_space / S)² compactness², S the grid step; then every connected piece of a
// label becomes its own superpixel, pieces under a quarter of the mean size joining a neighbour.
// Colour is the input's channels as the network sees them, rescaled so that their range spans
// 100, as CIELAB's lightness does in scikit-image's SLIC: a compactness means about the same.
func SLIC(img []float32, ch, h, w, n int, compactness float64) ([]int32, int) {
	hw := h * w
	step := math.Sqrt(float64(hw) / float64(n))
	lo, hi := slices.Min(img[:ch*hw]), slices.Max(img[:ch*hw])
	if hi > lo {
		scaled := make([]float32, ch*hw)
		for i, v := range img[:ch*hw] {
			scaled[i] = (v - lo) * 100 / (hi - lo)
		}
		img = scaled
	}
	type centre struct{ c []float64 }
	var centres []centre // [colour..., y, x]
	for y := step / 2; y < float64(h); y += step {
		for x := step / 2; x < float64(w); x += step {
			iy, ix := int(y), int(x)
			c := make([]float64, ch+2)
			for k := range ch {
				c[k] = float64(img[k*hw+iy*w+ix])
			}
			c[ch], c[ch+1] = float64(iy), float64(ix)
			centres = append(centres, centre{c})
		}
	}
	labels := make([]int32, hw)
	dist := make([]float64, hw)
	m2 := compactness * compactness / (step * step)
	s := int(math.Ceil(step))
	for range 10 {
		for p := range dist {
			dist[p] = math.Inf(1)
		}
		for ci, c := range centres {
			cy, cx := int(c.c[ch]), int(c.c[ch+1])
			for y := max(0, cy-2*s); y < min(h, cy+2*s+1); y++ {
				for x := max(0, cx-2*s); x < min(w, cx+2*s+1); x++ {
					p := y*w + x
					d := 0.0
					for k := range ch {
						v := float64(img[k*hw+p]) - c.c[k]
						d += v * v
					}
					dy, dx := float64(y)-c.c[ch], float64(x)-c.c[ch+1]
					d += (dy*dy + dx*dx) * m2
					if d < dist[p] {
						dist[p], labels[p] = d, int32(ci)
					}
				}
			}
		}
		sums := make([][]float64, len(centres))
		counts := make([]int, len(centres))
		for i := range sums {
			sums[i] = make([]float64, ch+2)
		}
		for p, l := range labels {
			for k := range ch {
				sums[l][k] += float64(img[k*hw+p])
			}
			sums[l][ch] += float64(p / w)
			sums[l][ch+1] += float64(p % w)
			counts[l]++
		}
		for i := range centres {
			if counts[i] > 0 {
				for k := range sums[i] {
					centres[i].c[k] = sums[i][k] / float64(counts[i])
				}
			}
		}
	}
	return connectedSegments(labels, h, w, hw/len(centres)/4)
}

// connectedSegments relabels every 4-connected piece of each label as its own segment, in
// raster order; pieces smaller than minSize take the label of the segment before them (above or
// to the left).
func connectedSegments(labels []int32, h, w, minSize int) ([]int32, int) {
	out := make([]int32, len(labels))
	for i := range out {
		out[i] = -1
	}
	next := int32(0)
	var stack, piece []int
	for start := range labels {
		if out[start] >= 0 {
			continue
		}
		piece = piece[:0]
		stack = append(stack[:0], start)
		out[start] = next
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			piece = append(piece, p)
			y, x := p/w, p%w
			for _, q := range [4][2]int{{y - 1, x}, {y + 1, x}, {y, x - 1}, {y, x + 1}} {
				if q[0] < 0 || q[0] >= h || q[1] < 0 || q[1] >= w {
					continue
				}
				qi := q[0]*w + q[1]
				if out[qi] < 0 && labels[qi] == labels[p] {
					out[qi] = next
					stack = append(stack, qi)
				}
			}
		}
		if len(piece) < minSize && next > 0 {
			// Join the segment above or to the left of the piece's first pixel.
			y, x := start/w, start%w
			join := out[max(0, start-1)]
			if x == 0 && y > 0 {
				join = out[start-w]
			}
			for _, p := range piece {
				out[p] = join
			}
			continue
		}
		next++
	}
	return out, int(next)
}

// samples draws the on/off vectors of M features: LIME's Bernoulli(1/2), or KernelSHAP's all on,
// all off, then k features on with p(k) ∝ (M - 1) / (k (M - k)).
func (o SurrogateOptions) samples(method Method, features int, rng *rand.Rand) [][]bool {
	if o.Given != nil {
		return o.Given
	}
	out := make([][]bool, 0, o.Samples)
	if method == KernelShap {
		var cum []float64
		total := 0.0
		for k := 1; k < features; k++ {
			total += float64(features-1) / float64(k*(features-k))
			cum = append(cum, total)
		}
		all := make([]bool, features)
		for i := range all {
			all[i] = true
		}
		out = append(out, all, make([]bool, features))
		for len(out) < o.Samples {
			k := 1
			if features > 1 {
				k = 1 + min(len(cum)-1, sortSearch(cum, rng.Float64()*total))
			}
			on := make([]bool, features)
			for _, i := range rng.Perm(features)[:min(k, features)] {
				on[i] = true
			}
			out = append(out, on)
		}
		return out[:o.Samples]
	}
	for range o.Samples {
		on := make([]bool, features)
		for i := range on {
			on[i] = rng.IntN(2) == 1
		}
		out = append(out, on)
	}
	return out
}

// sortSearch is the first index whose cumulative value exceeds u.
func sortSearch(cum []float64, u float64) int {
	i, _ := slices.BinarySearch(cum, u)
	return i
}

// surrogate fills the LIME or KernelSHAP maps of result, one per image and class.
func (e *Explainer) surrogate(images *tensors.Tensor, target Target, method Method, o SurrogateOptions, k int, result Results) error {
	dims := images.Shape().Dimensions
	b, ch, spatial := dims[0], dims[1], dims[2:]
	pixels := shapeSize(spatial)
	size := ch * pixels
	exec, err := e.scoreExec(target)
	if err != nil {
		return err
	}
	batchSize := o.BatchSize
	if batchSize == 0 {
		h, w := 1, pixels
		if len(spatial) == 2 {
			h, w = spatial[0], spatial[1]
		}
		batchSize = e.perturbedBatch(h, w, o.Memory, 50)
	}
	base := o.Baseline
	if base == nil {
		base = make([]float32, size)
	}
	data := toFloat32(images)
	for i := range b {
		img := data[i*size : (i+1)*size]
		labels, features, err := o.segments(img, ch, spatial)
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x4c696d65)) // "Lime"
		samples := o.samples(method, features, rng)
		for s, on := range samples {
			if len(on) != features {
				return fmt.Errorf("sample %d has %d features; the segments make %d", s, len(on), features)
			}
		}
		classes := make([]int32, k)
		for j := range k {
			classes[j] = int32(result[i*k+j].Class)
		}
		perturb := func(m int, dst []float32) {
			on := samples[m]
			for c := range ch {
				for p, l := range labels {
					v := base[c*pixels+p]
					if on[l] {
						v = img[c*pixels+p]
					}
					dst[c*pixels+p] = v
				}
			}
		}
		scores := make([][]float64, k)
		for j := range scores {
			scores[j] = make([]float64, len(samples))
		}
		weights := make([]float64, len(samples))
		sample := make([]float32, size)
		for m := range samples {
			switch {
			case method == LIME:
				perturb(m, sample)
				weights[m] = math.Exp(-math.Pow(cosineDistance(img, sample), 2) / (2 * o.KernelWidth * o.KernelWidth))
			case allSame(samples[m]):
				weights[m] = 1e6 // Captum's "infinite" weight of the all-on and all-off samples
			default:
				weights[m] = 1
			}
		}
		err = e.scorePerturbed(exec, method.Title(), dims[1:], classes, len(samples), batchSize, perturb, func(m int, s []float32) {
			for j := range k {
				scores[j][m] = float64(s[j])
			}
		})
		if err != nil {
			return err
		}
		for j := range k {
			var coef []float64
			if method == LIME {
				coef = lasso(samples, scores[j], weights, o.Alpha)
			} else {
				coef, err = leastSquares(samples, scores[j], weights)
				if err != nil {
					return fmt.Errorf("%s of image %d: %w", method.Title(), i, err)
				}
			}
			values := make([]float32, pixels)
			for p, l := range labels {
				values[p] = float32(coef[l])
			}
			result[i*k+j].Maps[method] = &Map{Method: method, Values: values, Shape: slices.Clone(spatial), AllZero: allZero(values, false)}
		}
	}
	return nil
}

// allSame reports whether every feature of a sample is on, or every one off.
func allSame(on []bool) bool {
	for _, v := range on[1:] {
		if v != on[0] {
			return false
		}
	}
	return true
}

// cosineDistance is 1 - cos(a, b), as Captum's LIME kernel computes it (1 for a zero vector).
func cosineDistance(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	// PyTorch's CosineSimilarity clamps each norm at 1e-8.
	return 1 - ab/(math.Max(math.Sqrt(aa), 1e-8)*math.Max(math.Sqrt(bb), 1e-8))
}

// centred returns the samples as a matrix and the scores, both centred on their weighted means
// and scaled by the weights' square roots (scikit-learn's preprocessing of a weighted linear fit
// with an intercept).
func centred(samples [][]bool, y, w []float64) (*mat.Dense, []float64) {
	n, m := len(samples), len(samples[0])
	total := 0.0
	for _, v := range w {
		total += v
	}
	xMean := make([]float64, m)
	yMean := 0.0
	for s, on := range samples {
		for f, v := range on {
			if v {
				xMean[f] += w[s] / total
			}
		}
		yMean += w[s] * y[s] / total
	}
	x := mat.NewDense(n, m, nil)
	yc := make([]float64, n)
	for s, on := range samples {
		r := math.Sqrt(w[s])
		for f, v := range on {
			b := 0.0
			if v {
				b = 1
			}
			x.Set(s, f, (b-xMean[f])*r)
		}
		yc[s] = (y[s] - yMean) * r
	}
	return x, yc
}

// leastSquares is weighted least squares with an intercept (scikit-learn's LinearRegression:
// the minimum-norm solution when the samples do not determine every coefficient).
func leastSquares(samples [][]bool, y, w []float64) ([]float64, error) {
	x, yc := centred(samples, y, w)
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDThin) {
		return nil, fmt.Errorf("the least-squares fit did not converge")
	}
	vals := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	_, m := x.Dims()
	coef := make([]float64, m)
	cut := vals[0] * float64(max(x.RawMatrix().Rows, m)) * 2.220446049250313e-16 // LAPACK gelsd's default rcond
	for k, s := range vals {
		if s <= cut {
			continue
		}
		dot := 0.0
		for r := range yc {
			dot += u.At(r, k) * yc[r]
		}
		for f := range m {
			coef[f] += v.At(f, k) * dot / s
		}
	}
	return coef, nil
}

// lasso is scikit-learn's Lasso with sample weights and an intercept: the weights rescaled to sum
// to the number of samples, centred and scaled data, and coordinate descent on
// 1/(2n) |y - X b|² + alpha |b|_1 until no coefficient moves by more than 1e-10.
func lasso(samples [][]bool, y, w []float64, alpha float64) []float64 {
	n := len(samples)
	total := 0.0
	for _, v := range w {
		total += v
	}
	ws := make([]float64, n)
	for i, v := range w {
		ws[i] = v * float64(n) / total
	}
	x, r := centred(samples, y, ws)
	_, m := x.Dims()
	coef := make([]float64, m)
	norms := make([]float64, m)
	for f := range m {
		for s := range n {
			norms[f] += x.At(s, f) * x.At(s, f)
		}
	}
	for iter := 0; iter < 100000; iter++ {
		moved := 0.0
		for f := range m {
			if norms[f] == 0 {
				continue
			}
			old := coef[f]
			rho := 0.0
			for s := range n {
				rho += x.At(s, f) * (r[s] + x.At(s, f)*old)
			}
			next := math.Copysign(math.Max(math.Abs(rho)-alpha*float64(n), 0), rho) / norms[f]
			if next != old {
				for s := range n {
					r[s] -= x.At(s, f) * (next - old)
				}
				coef[f] = next
				moved = math.Max(moved, math.Abs(next-old))
			}
		}
		if moved < 1e-10 {
			break
		}
	}
	return coef
}

// scorePerturbed runs the target's scores of the classes on n perturbed copies of one input
// (dims: its shape), made by fill(m, dst), batchSize copies per forward, and hands each copy's
// scores to use(m, scores): RISE's, LIME's and KernelSHAP's forwards.
func (e *Explainer) scorePerturbed(exec *context.Exec, what string, dims []int, classes []int32, n, batchSize int,
	fill func(m int, dst []float32), use func(m int, scores []float32)) error {
	size, k := shapeSize(dims), len(classes)
	for start := 0; start < n; start += batchSize {
		count := min(batchSize, n-start)
		batch := make([]float32, count*size)
		cls := make([]int32, count*k)
		for m := range count {
			fill(start+m, batch[m*size:(m+1)*size])
			copy(cls[m*k:], classes)
		}
		outs, err := e.run(exec, what+" forward", fromFloat32(batch, e.Model.DType(), append([]int{count}, dims...)...),
			tensors.FromFlatDataAndDimensions(cls, count, k))
		if err != nil {
			return err
		}
		for m := range count {
			use(start+m, outs[0][m*k:(m+1)*k])
		}
	}
	return nil
}

var limeSpec = MethodSpec{
	Name: LIME, Title: "LIME", Family: Sampled,
	Summary: "a Lasso surrogate over superpixels switched on and off, samples weighted by their distance (Ribeiro et al. 2016)",
}

var kernelShapSpec = MethodSpec{
	Name: KernelShap, Title: "KernelSHAP", Family: Sampled,
	Summary: "a least-squares surrogate over superpixels with the Shapley kernel's samples (Lundberg & Lee 2017)",
}
