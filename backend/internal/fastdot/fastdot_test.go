package fastdot_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

func randomTensor(rng *rand.Rand, dims ...int) (*tensors.Tensor, *tensors.Tensor) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	f32, f64 := make([]float32, n), make([]float64, n)
	for i := range f32 {
		f32[i] = float32(rng.NormFloat64())
		f64[i] = float64(f32[i])
	}
	return tensors.FromFlatDataAndDimensions(f32, dims...), tensors.FromFlatDataAndDimensions(f64, dims...)
}

// dotCases are DotGenerals of the shapes the models produce (im2col convolutions, fully
// connected layers, their gradients, batched contractions), and whether fastdot handles them.
var dotCases = []struct {
	name                   string
	lhsDims, rhsDims       []int
	lhsC, lhsB, rhsC, rhsB []int
	handled                bool
}{
	{"im2col conv", []int{2, 28, 28, 72}, []int{72, 64}, []int{3}, nil, []int{0}, nil, true},
	{"fc forward", []int{1, 3000}, []int{1000, 3000}, []int{1}, nil, []int{1}, nil, true},
	{"fc input gradient", []int{1, 1000}, []int{1000, 3000}, []int{1}, nil, []int{0}, nil, true},
	{"fc batch 8", []int{8, 3000}, []int{1000, 3000}, []int{1}, nil, []int{1}, nil, true},
	{"conv weight gradient", []int{2, 5, 7, 16}, []int{2, 5, 7, 36}, []int{0, 1, 2}, nil, []int{0, 1, 2}, nil, true},
	{"conv input gradient", []int{2, 14, 14, 64}, []int{72, 64}, []int{3}, nil, []int{1}, nil, true},
	{"batched weighted sum", []int{3, 49, 200}, []int{3, 200}, []int{2}, []int{0}, []int{1}, []int{0}, true},
	{"batch axis in the middle", []int{50, 3, 80}, []int{3, 80, 40}, []int{2}, []int{1}, []int{1}, []int{0}, true},
	{"contraction order against memory order", []int{40, 5, 60}, []int{60, 5, 30}, []int{2, 1}, nil, []int{0, 1}, nil, false},
	{"single row", []int{1, 300}, []int{300, 7}, []int{1}, nil, []int{0}, nil, true},
	{"single column", []int{9, 300}, []int{300, 1}, []int{1}, nil, []int{0}, nil, true},
	{"outer product", []int{9, 1}, []int{1, 7}, []int{1}, nil, []int{0}, nil, true},
}

// maxError is max |got - want| and max |want|.
func maxError[T float32 | float64](got []T, want []float64) (worst, scale float64) {
	for i := range want {
		scale = max(scale, math.Abs(want[i]))
		worst = max(worst, math.Abs(float64(got[i])-want[i]))
	}
	return worst, scale
}

// TestDotGeneralMatchesSimplego runs dotCases through fastdot in float32 (sgemm) and float64
// (gonum's Dgemm) and compares them with simplego's own float64 DotGeneral: to 1e-5 and 1e-12 of
// the largest value. Axis orders fastdot cannot express as strided matrices must fall back to
// simplego in both.
func TestDotGeneralMatchesSimplego(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range dotCases {
		t.Run(tc.name, func(t *testing.T) {
			l32, l64 := randomTensor(rng, tc.lhsDims...)
			r32, r64 := randomTensor(rng, tc.rhsDims...)
			fn := func(l, r *Node) *Node { return DotGeneral(l, tc.lhsC, tc.lhsB, r, tc.rhsC, tc.rhsB) }
			restore := fastdot.Float64OffForTest()
			want, err := ExecOnce(b, fn, l64, r64)
			restore()
			if err != nil {
				t.Fatal(err)
			}
			wantFlat := tensors.MustCopyFlatData[float64](want)
			for _, run := range []struct {
				dtype string
				l, r  *tensors.Tensor
				bound float64
			}{{"float32", l32, r32, 1e-5}, {"float64", l64, r64, 1e-12}} {
				calls, fallbacks := fastdot.Counted().Dot, fastdot.Counted().DotFallbacks
				got, err := ExecOnce(b, fn, run.l, run.r)
				if err != nil {
					t.Fatal(err)
				}
				handled := fastdot.Counted().Dot > calls
				if handled != tc.handled || (!handled && fastdot.Counted().DotFallbacks == fallbacks) {
					t.Errorf("%s: handled by fastdot: %v, want %v", run.dtype, handled, tc.handled)
				}
				if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
					t.Fatalf("%s: shape %s, want %s", run.dtype, got.Shape(), want.Shape())
				}
				var worst, scale float64
				if run.dtype == "float32" {
					worst, scale = maxError(tensors.MustCopyFlatData[float32](got), wantFlat)
				} else {
					worst, scale = maxError(tensors.MustCopyFlatData[float64](got), wantFlat)
				}
				if worst > run.bound*scale || math.IsNaN(worst) || scale == 0 {
					t.Errorf("%s: max error %.3g against max magnitude %.3g", run.dtype, worst, scale)
				}
			}
		})
	}
}
