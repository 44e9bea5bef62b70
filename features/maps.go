package features

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PCA projects the points on their first dims principal components (the directions of largest
// variance of the centred points), found by subspace iteration: each component's sign is chosen
// so that the point farthest along it lies on the positive side.
func PCA(p *Points, dims int) (*Points, error) {
	if err := p.check("PCA"); err != nil {
		return nil, err
	}
	if dims < 1 || dims > min(p.Dim, p.N) {
		return nil, fmt.Errorf("PCA: %d components of %d points of %d coordinates: want 1..%d", dims, p.N, p.Dim, min(p.Dim, p.N))
	}
	n, d := p.N, p.Dim
	x := make([]float64, n*d) // centred
	for j := range d {
		var mean float64
		for i := range n {
			mean += float64(p.Data[i*d+j])
		}
		mean /= float64(n)
		for i := range n {
			x[i*d+j] = float64(p.Data[i*d+j]) - mean
		}
	}
	// Subspace iteration on the covariance X^T X, applied as X^T (X v): dims orthonormal
	// vectors, multiplied and re-orthonormalized until they stop moving.
	r := rand.New(rand.NewPCG(1, 2))
	v := make([][]float64, dims)
	for c := range v {
		v[c] = make([]float64, d)
		for j := range v[c] {
			v[c][j] = r.NormFloat64()
		}
	}
	orthonormalize(v)
	xv := make([]float64, n)
	for iter := 0; iter < 1000; iter++ {
		moved := 0.0
		for c := range v {
			for i := range n {
				var s float64
				for j := range d {
					s += x[i*d+j] * v[c][j]
				}
				xv[i] = s
			}
			w := make([]float64, d)
			for i := range n {
				for j := range d {
					w[j] += x[i*d+j] * xv[i]
				}
			}
			v[c] = w
		}
		old := make([][]float64, dims)
		for c := range v {
			old[c] = append([]float64(nil), v[c]...)
		}
		orthonormalize(v)
		for c := range v {
			var dot, norm float64
			for j := range d {
				dot += v[c][j] * old[c][j]
				norm += old[c][j] * old[c][j]
			}
			if norm > 0 {
				moved = math.Max(moved, 1-math.Abs(dot)/math.Sqrt(norm))
			}
		}
		if moved < 1e-12 {
			break
		}
	}
	out := &Points{N: n, Dim: dims, Data: make([]float32, n*dims)}
	for c := range v {
		proj := make([]float64, n)
		far := 0
		for i := range n {
			for j := range d {
				proj[i] += x[i*d+j] * v[c][j]
			}
			if math.Abs(proj[i]) > math.Abs(proj[far]) {
				far = i
			}
		}
		sign := 1.0
		if proj[far] < 0 {
			sign = -1
		}
		for i := range n {
			out.Data[i*dims+c] = float32(sign * proj[i])
		}
	}
	return out, nil
}

// orthonormalize makes the vectors orthonormal in order (Gram-Schmidt, twice for accuracy).
func orthonormalize(v [][]float64) {
	for range 2 {
		for c := range v {
			for b := range c {
				var dot float64
				for j := range v[c] {
					dot += v[c][j] * v[b][j]
				}
				for j := range v[c] {
					v[c][j] -= dot * v[b][j]
				}
			}
			var norm float64
			for _, x := range v[c] {
				norm += x * x
			}
			norm = math.Sqrt(norm)
			if norm == 0 {
				continue
			}
			for j := range v[c] {
				v[c][j] /= norm
			}
		}
	}
}

// TSNEOptions configure TSNE; zero values take the defaults of van der Maaten and Hinton (2008)
// as scikit-learn sets them.
type TSNEOptions struct {
	Dims       int     // of the map; 0 means 2
	Perplexity float64 // effective number of neighbours; 0 means 30 (must be below the number of points)
	Iterations int     // 0 means 1000
	// LearningRate of the gradient descent; 0 means scikit-learn's "auto", max(n / 12 / 4, 50).
	LearningRate float64
	// Exaggeration multiplies the affinities for the first 250 iterations; 0 means 12.
	Exaggeration float64
	// Seed of the initial map's noise. The map starts from the first principal components scaled
	// to a standard deviation of 1e-4 (scikit-learn's init="pca"), plus noise when Seed is not 0.
	Seed uint64
}

// TSNE maps the points to a few dimensions with exact t-SNE (every pair of points; for a few
// thousand points): Gaussian affinities of the given perplexity in the original space, a
// Student-t kernel in the map, gradient descent with momentum (0.5, then 0.8 after the
// exaggeration) and per-coordinate gains. Deterministic for a seed.
func TSNE(p *Points, o TSNEOptions) (*Points, error) {
	if err := p.check("t-SNE"); err != nil {
		return nil, err
	}
	n := p.N
	if o.Dims == 0 {
		o.Dims = 2
	}
	if o.Perplexity == 0 {
		o.Perplexity = 30
	}
	if o.Iterations == 0 {
		o.Iterations = 1000
	}
	if o.LearningRate == 0 {
		o.LearningRate = math.Max(float64(n)/12/4, 50)
	}
	if o.Exaggeration == 0 {
		o.Exaggeration = 12
	}
	switch {
	case n < 4:
		return nil, fmt.Errorf("t-SNE: %d points: give at least 4", n)
	case o.Perplexity < 1 || o.Perplexity >= float64(n-1):
		return nil, fmt.Errorf("t-SNE: perplexity %g must be at least 1 and below the number of points minus one (%d)", o.Perplexity, n-1)
	case o.Dims < 1 || o.Dims > min(p.Dim, n), o.Iterations < 0, o.LearningRate < 0, o.Exaggeration < 1:
		return nil, fmt.Errorf("t-SNE: bad options %+v", o)
	}
	P := affinities(distances(p), n, o.Perplexity)

	init, err := PCA(p, o.Dims)
	if err != nil {
		return nil, err
	}
	dims := o.Dims
	y := make([]float64, n*dims)
	var sq float64
	for i, v := range init.Data {
		y[i] = float64(v)
	}
	for i := range n {
		sq += y[i*dims] * y[i*dims]
	}
	scale := 1e-4 / math.Max(math.Sqrt(sq/float64(n)), 1e-30)
	r := rand.New(rand.NewPCG(o.Seed, 0x74736e65))
	for i := range y {
		y[i] *= scale
		if o.Seed != 0 {
			y[i] += 1e-5 * r.NormFloat64()
		}
	}

	const exaggerated = 250
	update := make([]float64, n*dims)
	gains := make([]float64, n*dims)
	for i := range gains {
		gains[i] = 1
	}
	num := make([]float64, n*n)
	grad := make([]float64, n*dims)
	for iter := range o.Iterations {
		exag, momentum := 1.0, 0.8
		if iter < exaggerated {
			exag, momentum = o.Exaggeration, 0.5
		}
		var sum float64
		for i := range n {
			for j := i + 1; j < n; j++ {
				var d2 float64
				for k := range dims {
					v := y[i*dims+k] - y[j*dims+k]
					d2 += v * v
				}
				q := 1 / (1 + d2)
				num[i*n+j], num[j*n+i] = q, q
				sum += 2 * q
			}
		}
		clear(grad)
		for i := range n {
			for j := range n {
				if i == j {
					continue
				}
				q := num[i*n+j]
				f := 4 * (exag*P[i*n+j] - math.Max(q/sum, 1e-12)) * q
				for k := range dims {
					grad[i*dims+k] += f * (y[i*dims+k] - y[j*dims+k])
				}
			}
		}
		for i := range y {
			if (grad[i] > 0) != (update[i] > 0) {
				gains[i] += 0.2
			} else {
				gains[i] *= 0.8
			}
			gains[i] = math.Max(gains[i], 0.01)
			update[i] = momentum*update[i] - o.LearningRate*gains[i]*grad[i]
			y[i] += update[i]
		}
		for k := range dims {
			var mean float64
			for i := range n {
				mean += y[i*dims+k]
			}
			mean /= float64(n)
			for i := range n {
				y[i*dims+k] -= mean
			}
		}
	}
	out := &Points{N: n, Dim: dims, Data: make([]float32, n*dims)}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("t-SNE diverged (a coordinate is %g): lower the learning rate", v)
		}
		out.Data[i] = float32(v)
	}
	return out, nil
}

// affinities are t-SNE's symmetric joint probabilities P (n x n) from squared distances: for
// each point, a Gaussian whose width a binary search sets so that the conditional distribution's
// perplexity is the target, then (P + P^T) / 2n.
func affinities(d []float64, n int, perplexity float64) []float64 {
	cond := make([]float64, n*n)
	target := math.Log(perplexity)
	row := make([]float64, n)
	for i := range n {
		beta, lo, hi := 1.0, math.Inf(-1), math.Inf(1)
		for range 100 {
			// Entropy H = log(sum) + beta * sum(d p) / sum, with the row's smallest distance
			// subtracted first to keep the exponentials in range.
			minD := math.Inf(1)
			for j := range n {
				if j != i {
					minD = math.Min(minD, d[i*n+j])
				}
			}
			var sum, dsum float64
			for j := range n {
				row[j] = 0
				if j != i {
					row[j] = math.Exp(-beta * (d[i*n+j] - minD))
					sum += row[j]
					dsum += (d[i*n+j] - minD) * row[j]
				}
			}
			h := math.Log(sum) + beta*dsum/sum
			if math.Abs(h-target) < 1e-5 {
				break
			}
			if h > target { // too flat: narrow the Gaussian
				lo = beta
				if math.IsInf(hi, 1) {
					beta *= 2
				} else {
					beta = (beta + hi) / 2
				}
			} else {
				hi = beta
				if math.IsInf(lo, -1) {
					beta /= 2
				} else {
					beta = (beta + lo) / 2
				}
			}
		}
		var sum float64
		for j := range n {
			sum += row[j]
		}
		for j := range n {
			cond[i*n+j] = row[j] / sum
		}
	}
	P := make([]float64, n*n)
	for i := range n {
		for j := range n {
			P[i*n+j] = math.Max((cond[i*n+j]+cond[j*n+i])/(2*float64(n)), 1e-12)
		}
	}
	return P
}
