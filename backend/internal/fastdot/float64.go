package fastdot

import (
	"fmt"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
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
	lhsData, ok1 := flat(inputs[0]).([]float64)
	rhsData, ok2 := flat(inputs[1]).([]float64)
	p, ok3 := nodeParams(node)
	if !ok1 || !ok2 || !ok3 {
		return nil, false, nil
	}
	lhsShape, err1 := backend.BufferShape(inputs[0])
	rhsShape, err2 := backend.BufferShape(inputs[1])
	outShape := nodeShape(node)
	if err1 != nil || err2 != nil || outShape.DType != dtypes.Float64 || outShape.Rank() != 3 {
		return nil, false, nil
	}
	lhs, ok1 := makeOperand[float64](lhsData, lhsShape.Dimensions, p.lhsContract, p.lhsBatch)
	rhs, ok2 := makeOperand[float64](rhsData, rhsShape.Dimensions, p.rhsContract, p.rhsBatch)
	if !ok1 || !ok2 {
		return nil, false, nil
	}
	batch, m, n := outShape.Dimensions[0], outShape.Dimensions[1], outShape.Dimensions[2]
	k := 1
	for _, a := range p.lhsContract {
		k *= lhsShape.Dimensions[a]
	}
	if batch == 0 || m == 0 || n == 0 || k == 0 {
		return nil, false, nil
	}
	tA, lda, okA := gemmLayout(m, k, lhs.crossStride, lhs.kStride)
	tB, ldb, okB := gemmLayout(k, n, rhs.kStride, rhs.crossStride)
	if !okA || !okB {
		return nil, false, nil
	}
	out := backend.NewBuffer(outShape)
	outData, ok := flat(out).([]float64)
	if !ok || len(outData) != batch*m*n {
		return nil, true, fmt.Errorf("fastdot: output buffer of DotGeneral %s is not a []float64 of %d", outShape, batch*m*n)
	}
	for b := range batch {
		gonum.Implementation{}.Dgemm(tA, tB, m, n, k, 1, lhs.data[b*lhs.batchStride:], lda, rhs.data[b*rhs.batchStride:], ldb,
			0, outData[b*m*n:], n)
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
