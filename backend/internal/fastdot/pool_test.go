package fastdot_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestMaxPool: a ReduceWindow max over the spatial axes gives simplego's bits, and its gradient
// (SelectAndScatterMax) gives each window's gradient to the window's first largest value, summed
// in the order of the windows, on values with many ties, for ResNet's and VGG's windows, overlapping and not, one channel and many,
// windows that leave rows and columns over, padding (ResNet's, ceil mode's), and sizes run on one
// goroutine and on two.
func TestMaxPool(t *testing.T) {
	b := fastBackend(t)
	rng := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct {
		x            []int
		kernel, step int
		pad          [2][2]int
	}{
		{[]int{2, 9, 11, 16}, 3, 2, [2][2]int{{1, 1}, {1, 1}}},  // ResNet's 3x3/2, padding 1
		{[]int{1, 8, 8, 5}, 2, 2, [2][2]int{}},                  // VGG's 2x2/2
		{[]int{1, 7, 6, 3}, 3, 1, [2][2]int{}},                  // overlapping by two
		{[]int{2, 10, 9, 1}, 2, 3, [2][2]int{}},                 // one channel; gaps between windows
		{[]int{1, 6, 7, 3}, 3, 2, [2][2]int{{0, 1}, {1, 2}}},    // ceil mode's extra padding after
		{[]int{2, 30, 30, 64}, 3, 2, [2][2]int{{1, 1}, {1, 1}}}, // two goroutines, an image each
		{[]int{1, 40, 40, 32}, 3, 2, [2][2]int{{1, 1}, {1, 1}}}, // two goroutines, half the channels each
		{[]int{1, 1, 20, 8}, 1, 1, [2][2]int{}},                 // 1-D as 1xL: a window of one
	} {
		t.Run(fmt.Sprintf("%v k%d s%d pad%v", tc.x, tc.kernel, tc.step, tc.pad), func(t *testing.T) {
			n := 1
			for _, d := range tc.x {
				n *= d
			}
			vals := make([]float32, n)
			for i := range vals {
				vals[i] = float32(rng.IntN(4)) - 1.5 // ties in most windows
			}
			x := tensors.FromFlatDataAndDimensions(vals, tc.x...)
			kh := min(tc.kernel, tc.x[1])
			pool := func(x *Node) *Node {
				return BackendReduceWindow(x, backends.ReduceOpMax, []int{1, kh, tc.kernel, 1}, []int{1, tc.step, tc.step, 1}, nil, nil,
					[][2]int{{0, 0}, tc.pad[0], tc.pad[1], {0, 0}})
			}
			y0 := pool(Parameter(NewGraph(b, "shape"), "x", x.Shape()))
			w := make([]float32, y0.Shape().Size())
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			weights := tensors.FromFlatDataAndDimensions(w, y0.Shape().Dimensions...)
			fn := func(x, w *Node) []*Node {
				y := pool(x)
				return []*Node{y, Gradient(ReduceAllSum(Mul(y, w)), x)[0]}
			}
			before := fastdot.Counted()
			run := func() ([]*tensors.Tensor, error) {
				e, err := NewExec(b, fn)
				if err != nil {
					return nil, err
				}
				return e.Exec(x, weights)
			}
			got, err := run()
			if err != nil {
				t.Fatal(err)
			}
			after := fastdot.Counted()
			if ran := after.MaxPools - before.MaxPools; ran != 2 {
				t.Errorf("the max pooling and its gradient ran here %d times, want 2", ran)
			}
			// The max: simplego's ReduceWindow. The gradient: each window's weight added, windows
			// in order, into its first largest value (float32, as nn's running Max's gradient
			// added them).
			restore := fastdot.DisableForTest()
			want, err := run()
			restore()
			if err != nil {
				t.Fatal(err)
			}
			grad := make([]float32, n)
			d, yd := tc.x, y0.Shape().Dimensions
			for r := range yd[0] * yd[1] * yd[2] {
				bi, oy, ox := r/(yd[1]*yd[2]), r/yd[2]%yd[1], r%yd[2]
				for c := range d[3] {
					best, arg := float32(0), -1
					for ky := range kh {
						for kx := range tc.kernel {
							y, x := oy*tc.step+ky-tc.pad[0][0], ox*tc.step+kx-tc.pad[1][0]
							if y < 0 || x < 0 || y >= d[1] || x >= d[2] {
								continue
							}
							i := ((bi*d[1]+y)*d[2]+x)*d[3] + c
							if arg < 0 || vals[i] > best {
								best, arg = vals[i], i
							}
						}
					}
					grad[arg] += w[r*d[3]+c]
				}
			}
			for i, what := range []string{"max", "gradient"} {
				g, w := tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i])
				if i == 1 {
					w = grad
				}
				if len(g) != len(w) {
					t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
				}
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(w[j]) {
						t.Fatalf("%s, value %d: %v, want %v", what, j, g[j], w[j])
					}
				}
			}
		})
	}
}

// BenchmarkMaxPool times a max pooling and its gradient: the demo CNN's two 2x2 poolings at its
// training batch, and ResNet's 3x3 stride-2 padded pooling at batch 8.
func BenchmarkMaxPool(b *testing.B) {
	be := fastBackend(b)
	for _, tc := range []struct {
		name         string
		x            []int
		kernel, step int
		pad          [2]int
	}{
		{"demo1", []int{64, 64, 64, 8}, 2, 2, [2]int{}},
		{"demo2", []int{64, 32, 32, 16}, 2, 2, [2]int{}},
		{"resnet", []int{8, 112, 112, 64}, 3, 2, [2]int{1, 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, _ := randomTensor(rng, tc.x...)
			pool := func(x *Node) *Node {
				return BackendReduceWindow(x, backends.ReduceOpMax, []int{1, tc.kernel, tc.kernel, 1}, []int{1, tc.step, tc.step, 1}, nil, nil,
					[][2]int{{0, 0}, tc.pad, tc.pad, {0, 0}})
			}
			e, err := NewExec(be, func(x *Node) []*Node {
				y := pool(x)
				return []*Node{y, Gradient(ReduceAllSum(y), x)[0]}
			})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Exec(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
