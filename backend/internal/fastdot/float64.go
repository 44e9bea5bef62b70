package fastdot

import (
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// float64Off hands every float64 DotGeneral back to simplego (tests compare with it).
var float64Off atomic.Bool

// tryDotGeneralFloat64 runs a float64 DotGeneral as gonum's Dgemm, one per batch element, when both
// operands are strided matrices with a unit stride along one axis (what Dgemm takes, transposed
// or not); otherwise it hands the product back to simplego. Float64 is the toolkit's precision for
// comparisons where float32's rounding decides a result (models.Model.Float64); simplego's own
// generic kernel runs it about 4x slower.
func tryDotGeneralFloat64(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, bool, error) {
	d, ok := makeDot[float64](backend, node, inputs)
	if !ok || d.batch == 0 || d.m == 0 || d.n == 0 || d.k == 0 {
		return nil, false, nil
	}
	tA, lda, okA := gemmLayout(d.m, d.k, d.lhs.crossStride, d.lhs.kStride)
	tB, ldb, okB := gemmLayout(d.k, d.n, d.rhs.kStride, d.rhs.crossStride)
	if !okA || !okB {
		return nil, false, nil
	}
	out, outData, err := d.output(backend)
	if err != nil {
		return nil, true, err
	}
	for b := range d.batch {
		gonum.Implementation{}.Dgemm(tA, tB, d.m, d.n, d.k, 1, d.lhs.data[b*d.lhs.batchStride:], lda,
			d.rhs.data[b*d.rhs.batchStride:], ldb, 0, outData[b*d.m*d.n:], d.n)
	}
	return out, true, nil
}

// gemmLayout is how BLAS takes a rows x cols matrix whose elements are rowStride and colStride
// apart: as stored (leading dimension rowStride) when its columns are adjacent, transposed (leading
// dimension colStride) when its rows are; ok is false for any other layout. A single row or column
// has any stride along the other axis.
func gemmLayout(rows, cols, rowStride, colStride int) (t blas.Transpose, ld int, ok bool) {
	switch {
	case colStride == 1 || cols == 1:
		if rows == 1 {
			rowStride = max(rowStride, cols)
		}
		return blas.NoTrans, rowStride, rowStride >= cols
	case rowStride == 1 || rows == 1:
		return blas.Trans, colStride, colStride >= rows
	}
	return blas.NoTrans, 0, false
}
