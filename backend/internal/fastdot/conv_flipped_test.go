package fastdot_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestFlippedKernelMatchesReversed: input gradients (whose kernel is the forward kernel reversed
// along its spatial axes) read the kernel where it lies, its taps in reverse order, and give the
// bits of the same gradients with the kernel reversed by copies, through every convolution path:
// im2col (packed and transposed), strided (scattered), depthwise, and a 1x1 kernel (nothing to
// reverse).
func TestFlippedKernelMatchesReversed(t *testing.T) {
	b := fastBackend(t)
	one, pad := [2]int{1, 1}, [2][2]int{{1, 1}, {1, 1}}
	cases := []struct {
		convCase
		flips bool // its input gradient reads a reversed kernel
	}{
		{convCase{"3x3", []int{2, 9, 11, 8}, []int{3, 3, 8, 16}, false, one, one, pad, 1}, true},
		{convCase{"3x3, few positions (transposed)", []int{1, 5, 5, 64}, []int{3, 3, 64, 48}, false, one, one, pad, 1}, true},
		{convCase{"3x3 stride 2", []int{1, 12, 13, 8}, []int{3, 3, 8, 16}, false, [2]int{2, 2}, one, pad, 1}, true},
		{convCase{"5x3, asymmetric padding", []int{1, 12, 10, 4}, []int{5, 3, 4, 6}, false, one, one, [2][2]int{{2, 1}, {0, 2}}, 1}, true},
		{convCase{"7x7 stride 2 (ResNet stem)", []int{1, 23, 21, 3}, []int{7, 7, 3, 8}, false, [2]int{2, 2}, one, [2][2]int{{3, 3}, {3, 3}}, 1}, true},
		{convCase{"3x3 depthwise", []int{2, 9, 10, 32}, []int{3, 3, 1, 32}, false, one, one, pad, 32}, true},
		{convCase{"3x3 depthwise stride 2", []int{1, 11, 12, 16}, []int{3, 3, 1, 16}, false, [2]int{2, 2}, one, pad, 16}, true},
		{convCase{"1x1", []int{1, 6, 6, 16}, []int{1, 1, 16, 8}, false, one, one, [2][2]int{}, 1}, false},
	}
	rng := rand.New(rand.NewPCG(17, 18))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fn, x, k, w := tc.withGradients(t, b, rng, true)
			count := func() int64 { return fastdot.Counted().FlippedKernels }
			if n := sameBitsWithout(t, b, fn, count, fastdot.FlippedOffForTest, "reversed by copies", x, k, w); (n > 0) != tc.flips {
				t.Fatalf("%d convolutions read their kernel reversed in place, want them to: %v", n, tc.flips)
			}
		})
	}
}
