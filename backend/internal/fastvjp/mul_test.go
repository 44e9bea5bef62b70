package fastvjp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestMulGradientMatchesStock: Mul's gradient gives GoMLX's own gradient bit for bit, for both
// operands, when one is broadcast along some axes (a batch norm's scale, a per-image weight), is
// a scalar, or has the product's shape; and builds no broadcast of an operand to the product's
// shape where GoMLX's does.
func TestMulGradientMatchesStock(t *testing.T) {
	b, err := simplego.New("ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(dims ...int) *tensors.Tensor {
		if len(dims) == 0 {
			return tensors.FromValue(float32(rng.NormFloat64()))
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	for _, tc := range []struct {
		a, b       []int
		broadcasts bool // GoMLX's gradient broadcasts an operand to the product's shape
	}{
		{[]int{2, 5, 4, 6}, []int{1, 1, 1, 6}, true},
		{[]int{1, 1, 1, 6}, []int{2, 5, 4, 6}, true},
		{[]int{2, 5, 4, 6}, []int{2, 1, 1, 6}, true},
		{[]int{3, 4}, []int{3, 4}, false},
		{[]int{3, 4}, nil, true},
	} {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			x, y := random(tc.a...), random(tc.b...)
			outDims := slices.Clone(tc.a)
			if len(tc.b) == len(tc.a) {
				for i, d := range tc.b {
					outDims[i] = max(outDims[i], d)
				}
			}
			w := random(outDims...)
			var broadcastNodes [2]int
			run := func(vjp VJP, i int) []*tensors.Tensor {
				saved := VJPRegistration[NodeTypeMul]
				VJPRegistration[NodeTypeMul] = vjp
				defer func() { VJPRegistration[NodeTypeMul] = saved }()
				exec, err := NewExec(b, func(x, y, w *Node) []*Node {
					p := Mul(x, y)
					before := len(x.Graph().Nodes())
					g := Gradient(ReduceAllSum(Mul(StopGradient(w), p)), x, y)
					for id := before; id < len(x.Graph().Nodes()); id++ {
						if n := x.Graph().Nodes()[id]; n.Type() == NodeTypeBroadcastInDim && n.Shape().Equal(p.Shape()) {
							broadcastNodes[i]++
						}
					}
					return g
				})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Exec(x, y, w)
				if err != nil {
					t.Fatal(err)
				}
				return outs
			}
			got, want := run(mulVJP, 0), run(stockMul, 1)
			for i := range got {
				g, w := tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i])
				if !got[i].Shape().Equal(want[i].Shape()) {
					t.Fatalf("gradient %d: shape %s, GoMLX's %s", i, got[i].Shape(), want[i].Shape())
				}
				for j := range w {
					if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
						t.Fatalf("gradient %d, value %d: %v, GoMLX's %v", i, j, g[j], w[j])
					}
				}
			}
			// Both gradients broadcast the loss's seed; GoMLX's also the broadcast operand.
			if mine, stock := broadcastNodes[0], broadcastNodes[1]; tc.broadcasts && mine >= stock || !tc.broadcasts && mine != stock {
				t.Errorf("full-size broadcasts: %d, GoMLX's %d (GoMLX's broadcasts an operand: %v)", mine, stock, tc.broadcasts)
			}
		})
	}
}
