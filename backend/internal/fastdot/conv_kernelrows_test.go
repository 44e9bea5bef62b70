package fastdot_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// BenchmarkKernelRows times the input gradients of ResNet-50's convolutions at batch 1 (with
// their forward), the kernel matrix packed and, where kernelRowsFit takes it, run transposed.
func BenchmarkKernelRows(b *testing.B) {
	be := fastBackend(b)
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	cases := []convCase{
		{"3x3 512 7x7", []int{1, 7, 7, 512}, []int{3, 3, 512, 512}, false, one, one, pad, 1},
		{"1x1 2048-512 7x7", []int{1, 7, 7, 2048}, []int{1, 1, 2048, 512}, false, one, one, [2][2]int{}, 1},
		{"1x1 512-2048 7x7", []int{1, 7, 7, 512}, []int{1, 1, 512, 2048}, false, one, one, [2][2]int{}, 1},
		{"3x3 256 14x14", []int{1, 14, 14, 256}, []int{3, 3, 256, 256}, false, one, one, pad, 1},
		{"1x1 1024-256 14x14", []int{1, 14, 14, 1024}, []int{1, 1, 1024, 256}, false, one, one, [2][2]int{}, 1},
		{"1x1 256-1024 14x14", []int{1, 14, 14, 256}, []int{1, 1, 256, 1024}, false, one, one, [2][2]int{}, 1},
		{"1x1 512-128 28x28", []int{1, 28, 28, 512}, []int{1, 1, 512, 128}, false, one, one, [2][2]int{}, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		x, _ := randomTensor(rng, tc.x...)
		k, _ := randomTensor(rng, tc.k...)
		y, _ := ExecOnce(be, func(x, k *Node) *Node { return tc.build(x, k) }, x, k)
		w, _ := randomTensor(rng, y.Shape().Dimensions...)
		e, err := NewExecAny(be, func(in []*Node) []*Node {
			y := tc.build(in[0], in[1])
			return Gradient(ReduceAllSum(Mul(y, in[2])), in[0])
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, way := range []string{"packed", "rows"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, way), func(b *testing.B) {
				if way == "packed" {
					defer fastdot.PackBForTest()()
				}
				for range b.N {
					out, err := e.Exec(x, k, w)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range out {
						o.FinalizeAll()
					}
				}
			})
		}
	}
}
