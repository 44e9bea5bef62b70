package features

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// clusters are k well separated Gaussian clusters of m points each in dim dimensions (centres
// 10 standard deviations apart on average), with each point's cluster.
func clusters(k, m, dim int, seed uint64) (*Points, []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	p := &Points{N: k * m, Dim: dim}
	var label []int
	for c := range k {
		centre := make([]float64, dim)
		for j := range centre {
			centre[j] = 10 * r.NormFloat64()
		}
		for range m {
			for j := range dim {
				p.Data = append(p.Data, float32(centre[j]+r.NormFloat64()))
			}
			label = append(label, c)
		}
	}
	return p, label
}

// TestTSNEKeepsNeighbours checks t-SNE on well separated clusters: the map keeps each point's
// neighbourhood (trustworthiness at 5 neighbours of at least 0.95; scikit-learn's TSNE reaches
// about 0.97 on such data), every point's nearest point in the map is of its own cluster, and the
// map is the same for the same seed and another for another seed.
func TestTSNEKeepsNeighbours(t *testing.T) {
	p, label := clusters(3, 40, 20, 1)
	opts := TSNEOptions{Perplexity: 15, Iterations: 400, Seed: 5}
	y, err := TSNE(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if y.N != p.N || y.Dim != 2 {
		t.Fatalf("map of %d points of %d coordinates", y.N, y.Dim)
	}
	tw, err := Trustworthiness(p, y, 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trustworthiness %.4f", tw)
	if tw < 0.95 {
		t.Errorf("trustworthiness %.4f, want at least 0.95", tw)
	}
	for i := range y.N {
		nn, err := Neighbours(y, i, 1)
		if err != nil {
			t.Fatal(err)
		}
		if label[nn[0]] != label[i] {
			t.Errorf("point %d (cluster %d): its nearest point in the map is %d, of cluster %d", i, label[i], nn[0], label[nn[0]])
		}
	}
	again, err := TSNE(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Data, y.Data) {
		t.Error("the same seed gave another map")
	}
	opts.Seed = 6
	other, err := TSNE(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(other.Data, y.Data) {
		t.Error("another seed gave the same map")
	}
}

// TestPCAMatchesSVD checks the projections against gonum's singular value decomposition of the
// centred points (U S, up to each component's sign).
func TestPCAMatchesSVD(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	n, d := 50, 6
	p := &Points{N: n, Dim: d}
	for i := range n {
		for j := range d {
			p.Data = append(p.Data, float32(r.NormFloat64()*float64(d-j))) // variances 36, 25, ..., 1
		}
		_ = i
	}
	got, err := PCA(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(n, d, nil)
	for j := range d {
		var mean float64
		for i := range n {
			mean += float64(p.Data[i*d+j])
		}
		mean /= float64(n)
		for i := range n {
			x.Set(i, j, float64(p.Data[i*d+j])-mean)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDThin) {
		t.Fatal("SVD failed")
	}
	var u mat.Dense
	svd.UTo(&u)
	s := svd.Values(nil)
	for c := range 3 {
		var dot, a, b float64
		for i := range n {
			want := u.At(i, c) * s[c]
			dot += want * float64(got.Data[i*3+c])
			a += want * want
			b += float64(got.Data[i*3+c]) * float64(got.Data[i*3+c])
		}
		if cos := math.Abs(dot) / math.Sqrt(a*b); cos < 1-1e-6 || math.Abs(a-b) > 1e-4*a {
			t.Errorf("component %d: |cos| %.8f with the SVD's, squared norms %g and %g", c, cos, b, a)
		}
	}
}

// TestTrustworthinessMatchesScikitLearn compares with sklearn.manifold.trustworthiness
// (features/testdata/reference_trustworthiness.py) for 1 to 5 neighbours.
func TestTrustworthinessMatchesScikitLearn(t *testing.T) {
	dir := testref.Ensure(t, "features/testdata/reference_trustworthiness.py", "features-ref")
	xs, xShape := testref.ReadNPY(t, filepath.Join(dir, "x.npy"))
	ys, yShape := testref.ReadNPY(t, filepath.Join(dir, "y.npy"))
	b, err := os.ReadFile(filepath.Join(dir, "values.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]float64
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 {
		t.Fatalf("the reference has %d values, want 5", len(want))
	}
	x := &Points{N: xShape[0], Dim: xShape[1], Data: xs}
	y := &Points{N: yShape[0], Dim: yShape[1], Data: ys}
	for k := 1; k <= 5; k++ {
		got, err := Trustworthiness(x, y, k)
		if err != nil {
			t.Fatal(err)
		}
		if w := want[strconv.Itoa(k)]; math.Abs(got-w) > 1e-9 {
			t.Errorf("k = %d: %.12f, scikit-learn %.12f", k, got, w)
		}
	}
}

// TestFeatureNeighboursShareTheClass is the lecture's figure as a number: on held-out cluttered
// Fashion-MNIST items, an item's nearest neighbour in the GAP network's feature space has the
// same class far more often than its nearest neighbour in pixel space, where clutter and
// position dominate.
func TestFeatureNeighboursShareTheClass(t *testing.T) {
	m, err := fashion.Load(fashion.GAP)
	if err != nil {
		t.Fatal(err)
	}
	set, err := fashion.TestSet(300)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := Embeddings(m, set, "gap", 128)
	if err != nil {
		t.Fatal(err)
	}
	if emb.N != 300 || emb.Dim != slices.Max(fashion.Widths()) {
		t.Fatalf("embeddings: %d points of %d coordinates", emb.N, emb.Dim)
	}
	px, err := Pixels(set)
	if err != nil {
		t.Fatal(err)
	}
	agree := func(p *Points) float64 {
		same := 0
		for i := range p.N {
			nn, err := Neighbours(p, i, 1)
			if err != nil {
				t.Fatal(err)
			}
			if set.Labels[nn[0]] == set.Labels[i] {
				same++
			}
		}
		return float64(same) / float64(p.N)
	}
	f, pix := agree(emb), agree(px)
	t.Logf("nearest neighbour of the same class: features %.3f, pixels %.3f", f, pix)
	if f < pix+0.2 {
		t.Errorf("nearest neighbour of the same class: %.3f in feature space, %.3f in pixel space", f, pix)
	}
}

// TestNeighbours checks the order on hand-placed points and the errors.
func TestNeighbours(t *testing.T) {
	p := &Points{N: 5, Dim: 2, Data: []float32{0, 0, 3, 0, 1, 0, 0, 2, 1, 0}}
	got, err := Neighbours(p, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 4, 3, 1}; !slices.Equal(got, want) { // 2 and 4 tie: the lower index first
		t.Errorf("neighbours of 0: %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"point out of range", second(Neighbours(p, 5, 1)), "point 5 is out of range"},
		{"k too large", second(Neighbours(p, 0, 5)), "k = 5"},
		{"no points", second(Neighbours(&Points{}, 0, 1)), "give at least one point"},
		{"NaN", second(Neighbours(&Points{N: 1, Dim: 1, Data: []float32{float32(math.NaN())}}, 0, 1)), "must be finite"},
		{"t-SNE perplexity", second(TSNE(p, TSNEOptions{Perplexity: 30})), "perplexity 30"},
		{"PCA components", second(PCA(p, 3)), "3 components"},
		{"trustworthiness k", second(Trustworthiness(p, p, 3)), "below n/2"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) || strings.Contains(tc.err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line saying %q", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
