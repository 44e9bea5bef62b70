package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
)

// TestROADKeepsTheRequestedShare: ROAD keeps exactly ceil(p/100 (n-1)) pixels by rank on maps
// that tie everywhere (all zero, constant) or in two blocks, breaks ties by its seed, and gives
// finite scores on them; where no values tie, the count is the one of pytorch-grad-cam's "below
// the p-th percentile".
func TestROADKeepsTheRequestedShare(t *testing.T) {
	const n = 32 * 32
	twoValued := make([]float32, n)
	for i := n / 2; i < n; i++ {
		twoValued[i] = 1
	}
	constant := make([]float32, n)
	for i := range constant {
		constant[i] = 0.7
	}
	maps := map[string][]float32{"all zero": make([]float32, n), "constant": constant, "two-valued": twoValued}
	for name, values := range maps {
		for _, p := range []float64{10, 30, 50, 70, 90} {
			k := keptByPercentile(n, p)
			order := rankPixels(values, rand.New(rand.NewPCG(1, 0)))
			for _, morf := range []bool{true, false} {
				keep := roadKeep(order, k, morf)
				kept := 0
				var keptSum float64
				for i, on := range keep {
					if on {
						kept++
						keptSum += float64(values[i])
					}
				}
				if kept != k {
					t.Errorf("%s, p=%g, MoRF %v: kept %d pixels, want %d", name, p, morf, kept, k)
				}
				if name == "two-valued" { // MoRF keeps zeros first, LeRF ones first
					wantSum := float64(max(0, k-n/2))
					if !morf {
						wantSum = float64(min(k, n/2))
					}
					if keptSum != wantSum {
						t.Errorf("two-valued, p=%g, MoRF %v: kept pixels sum to %g, want %g (ranked by value first)", p, morf, keptSum, wantSum)
					}
				}
			}
		}
		a := rankPixels(values, rand.New(rand.NewPCG(1, 0)))
		b := rankPixels(values, rand.New(rand.NewPCG(1, 0)))
		c := rankPixels(values, rand.New(rand.NewPCG(2, 0)))
		if !slices.Equal(a, b) || slices.Equal(a, c) {
			t.Errorf("%s: the tie order is not a function of the seed (same seed equal %v, other seed equal %v)", name, slices.Equal(a, b), slices.Equal(a, c))
		}
	}

	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{7, 100, 50176} {
		distinct := make([]float32, size)
		for i := range distinct {
			distinct[i] = r.Float32()
		}
		for _, p := range []float64{0, 10, 20, 30, 33.3, 50, 70, 90, 100} {
			cut := percentile(distinct, p)
			below := 0
			for _, v := range distinct {
				if float64(v) < cut {
					below++
				}
			}
			if got := keptByPercentile(size, p); got != below {
				t.Errorf("%d distinct values, p=%g: keeps %d, pytorch-grad-cam's rule keeps %d", size, p, got, below)
			}
		}
	}

	m, set := tinySet(t, 1)
	ev := NewEvaluator(gradcam.New(m))
	x, _ := set.Batch([]int{0})
	for name, values := range maps {
		res, err := ev.ROAD(x, Heatmap{Values: values, H: 32, W: 32}, 0)
		if err != nil {
			t.Errorf("ROAD on the %s map: %v", name, err)
			continue
		}
		for _, v := range append(slices.Clone(res.MoRF), res.LeRF...) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("ROAD on the %s map: %s", name, fmt.Sprint(res))
				break
			}
		}
	}
}
