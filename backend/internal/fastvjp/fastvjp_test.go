package fastvjp

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestGradientsAndFallback: the DotGeneral gradients equal the closed form (batched and plain
// contractions), and so do they when the node's internals cannot be read and GoMLX's stock
// gradient is used instead of panicking.
func TestGradientsAndFallback(t *testing.T) {
	b, err := simplego.New("ops_sequential") // as package backend configures it (the parallel op scheduler races)
	if err != nil {
		t.Fatal(err)
	}
	// y = sum(W * (A . B)) per batch: dy/dA = W . B^T, dy/dB = A^T . W.
	const nb, m, k, n = 2, 3, 4, 5
	val := func(i int) float32 { return float32(math.Sin(float64(i)*0.7)) + 0.1 }
	fill := func(size int, shift int) []float32 {
		out := make([]float32, size)
		for i := range out {
			out[i] = val(i + shift)
		}
		return out
	}
	a, bb, w := fill(nb*m*k, 0), fill(nb*k*n, 100), fill(nb*m*n, 200)
	wantA := make([]float64, nb*m*k)
	wantB := make([]float64, nb*k*n)
	for z := range nb {
		for i := range m {
			for j := range n {
				wz := float64(w[(z*m+i)*n+j])
				for p := range k {
					wantA[(z*m+i)*k+p] += wz * float64(bb[(z*k+p)*n+j])
					wantB[(z*k+p)*n+j] += wz * float64(a[(z*m+i)*k+p])
				}
			}
		}
	}
	for _, broken := range []bool{false, true} {
		saved, before := fieldNames, fallbacks.Load()
		if broken {
			fieldNames[1] = "noSuchField"
		}
		exec, err := NewExec(b, func(A, B, W *Node) []*Node {
			y := ReduceAllSum(Mul(W, Einsum("zik,zkj->zij", A, B)))
			return Gradient(y, A, B)
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(a, nb, m, k), tensors.FromFlatDataAndDimensions(bb, nb, k, n),
			tensors.FromFlatDataAndDimensions(w, nb, m, n))
		fieldNames = saved
		if err != nil {
			t.Fatalf("broken=%v: %v", broken, err)
		}
		if used := fallbacks.Load() > before; used != broken {
			t.Errorf("broken=%v: stock gradient used: %v", broken, used)
		}
		for i, want := range [][]float64{wantA, wantB} {
			got := tensors.MustCopyFlatData[float32](outs[i])
			for j := range want {
				if math.Abs(float64(got[j])-want[j]) > 1e-5 {
					t.Fatalf("broken=%v: gradient %d[%d] = %g, want %g", broken, i, j, got[j], want[j])
				}
			}
		}
	}
}
