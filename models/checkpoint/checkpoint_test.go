package checkpoint

import (
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/nlpodyssey/gopickle/pytorch"
)

// TestDenseFloat32RejectsBadTensors: a tensor whose strides do not match its shape, or whose
// shape needs more values than its storage holds, is an error, not a panic or a huge allocation.
func TestDenseFloat32RejectsBadTensors(t *testing.T) {
	storage := &pytorch.FloatStorage{Data: []float32{1, 2, 3, 4}}
	for _, tc := range []struct {
		size, stride []int
		want         string
	}{
		{[]int{2, 2}, []int{1}, "has 1 strides"},
		{[]int{3, 2}, []int{2, 1}, "needs more values"},
		{[]int{-1, 4}, []int{4, 1}, "needs more values"},
		{[]int{1 << 40, 1 << 40}, []int{1, 1}, "needs more values"},
	} {
		tensor := &pytorch.Tensor{Source: storage, Size: tc.size, Stride: tc.stride}
		err := testref.NoPanic(t, func() error { _, err := denseFloat32(tensor); return err })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shape %v strides %v: %v, want an error mentioning %q", tc.size, tc.stride, err, tc.want)
		}
	}
}
