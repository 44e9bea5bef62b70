// Package features looks at a network's feature space, as a CNN-visualization lecture does: the
// embeddings of a dataset at a layer (Embeddings), nearest neighbours in feature space against
// pixel space (Neighbours), and 2-D maps of the embeddings by PCA and exact t-SNE.
package features

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/models"
)

// Points are n points of dim coordinates each, one after the other.
type Points struct {
	N, Dim int
	Data   []float32
}

// At is point i's coordinates.
func (p *Points) At(i int) []float32 { return p.Data[i*p.Dim : (i+1)*p.Dim] }

// check validates the layout.
func (p *Points) check(what string) error {
	if p == nil || p.N < 1 || p.Dim < 1 || len(p.Data) != p.N*p.Dim {
		n, d, l := 0, 0, 0
		if p != nil {
			n, d, l = p.N, p.Dim, len(p.Data)
		}
		return fmt.Errorf("%s: %d points of %d coordinates cannot hold %d values: give at least one point", what, n, d, l)
	}
	for _, v := range p.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%s: the points hold %g: every coordinate must be finite", what, v)
		}
	}
	return nil
}

// Pixels are a dataset's examples as points (pixel space).
func Pixels(set *data.Set) (*Points, error) {
	if set == nil || set.Len() == 0 {
		return nil, fmt.Errorf("pixels: the dataset is empty")
	}
	if err := set.Check(); err != nil {
		return nil, fmt.Errorf("pixels: %w", err)
	}
	return &Points{N: set.Len(), Dim: len(set.Inputs) / set.Len(), Data: slices.Clone(set.Inputs)}, nil
}

// Embeddings runs the model over set in batches of batchSize (0: 256) and returns each
// example's activation at layer, flattened (the penultimate layer's features: "gap" of a GAP
// network, the last hidden layer of a fully connected head).
func Embeddings(m *models.Model, set *data.Set, layer string, batchSize int) (*Points, error) {
	if set == nil || set.Len() == 0 {
		return nil, fmt.Errorf("embeddings: the dataset is empty")
	}
	if err := set.Check(); err != nil {
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	if batchSize < 1 {
		batchSize = 256
	}
	out := &Points{N: set.Len()}
	err := set.ForEachBatch(batchSize, func(idx []int, x *tensors.Tensor) error {
		acts, err := m.Activations(x, layer)
		if err != nil {
			return fmt.Errorf("embeddings of %s: %w", set.Name, err)
		}
		a := acts[layer]
		out.Dim = len(a.Data) / len(idx)
		out.Data = append(out.Data, a.Data...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Neighbours returns the k points nearest to point i (Euclidean distance), nearest first, i
// itself excluded; ties keep the lower index first.
func Neighbours(p *Points, i, k int) ([]int, error) {
	if err := p.check("neighbours"); err != nil {
		return nil, err
	}
	if i < 0 || i >= p.N {
		return nil, fmt.Errorf("neighbours: point %d is out of range: there are points 0..%d", i, p.N-1)
	}
	if k < 1 || k >= p.N {
		return nil, fmt.Errorf("neighbours: k = %d: want 1..%d (the other points)", k, p.N-1)
	}
	d := make([]float64, p.N)
	for j := range p.N {
		d[j] = sqDist(p.At(i), p.At(j))
	}
	idx := make([]int, 0, p.N-1)
	for j := range p.N {
		if j != i {
			idx = append(idx, j)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case d[a] < d[b]:
			return -1
		case d[a] > d[b]:
			return 1
		}
		return 0
	})
	return idx[:k], nil
}

func sqDist(a, b []float32) float64 {
	var s float64
	for i := range a {
		v := float64(a[i]) - float64(b[i])
		s += v * v
	}
	return s
}

// distances are the squared Euclidean distances between every pair of points, n x n.
func distances(p *Points) []float64 {
	d := make([]float64, p.N*p.N)
	for i := range p.N {
		for j := i + 1; j < p.N; j++ {
			v := sqDist(p.At(i), p.At(j))
			d[i*p.N+j], d[j*p.N+i] = v, v
		}
	}
	return d
}

// Trustworthiness is how well an embedding keeps each point's k nearest neighbours
// (Venna and Kaski 2001; scikit-learn's sklearn.manifold.trustworthiness): 1 minus a penalty for
// every point among a point's k nearest in the embedding that is not among its k nearest in the
// original space, by how far down the original ranking it is. 1 is perfect; k < n/2.
func Trustworthiness(original, embedded *Points, k int) (float64, error) {
	if err := original.check("trustworthiness"); err != nil {
		return 0, err
	}
	if err := embedded.check("trustworthiness"); err != nil {
		return 0, err
	}
	n := original.N
	if embedded.N != n {
		return 0, fmt.Errorf("trustworthiness: %d original points but %d embedded", n, embedded.N)
	}
	if k < 1 || float64(k) >= float64(n)/2 {
		return 0, fmt.Errorf("trustworthiness: k = %d must be at least 1 and below n/2 = %g", k, float64(n)/2)
	}
	do, de := distances(original), distances(embedded)
	order := func(d []float64, i int) []int {
		idx := make([]int, 0, n-1)
		for j := range n {
			if j != i {
				idx = append(idx, j)
			}
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case d[i*n+a] < d[i*n+b]:
				return -1
			case d[i*n+a] > d[i*n+b]:
				return 1
			}
			return 0
		})
		return idx
	}
	var penalty float64
	rank := make([]int, n)
	for i := range n {
		for r, j := range order(do, i) {
			rank[j] = r + 1
		}
		for _, j := range order(de, i)[:k] {
			if r := rank[j]; r > k {
				penalty += float64(r - k)
			}
		}
	}
	return 1 - 2/(float64(n*k)*(2*float64(n)-3*float64(k)-1))*penalty, nil
}
