package onnxnet

import (
	"math"
	"slices"
	"testing"
)

// TestAutoPad: ONNX's auto_pad modes resolve to the pads PyTorch's "same" and "valid" give.
func TestAutoPad(t *testing.T) {
	for _, tc := range []struct {
		mode                 string
		in, k, strides, pads []int
		want                 []int
	}{
		{"NOTSET", []int{10, 10}, []int{3, 3}, []int{1, 1}, nil, []int{0, 0, 0, 0}},
		{"NOTSET", []int{10, 10}, []int{3, 3}, []int{1, 1}, []int{1, 2, 1, 2}, []int{1, 2, 1, 2}},
		{"VALID", []int{10, 10}, []int{3, 3}, []int{1, 1}, []int{1, 1, 1, 1}, []int{0, 0, 0, 0}},
		{"SAME_UPPER", []int{10, 7}, []int{4, 3}, []int{1, 2}, nil, []int{1, 1, 2, 1}},
		{"SAME_LOWER", []int{10, 7}, []int{4, 3}, []int{1, 2}, nil, []int{2, 1, 1, 1}},
	} {
		n := &node{op: "Conv", attrs: map[string]attr{"auto_pad": {s: tc.mode}}}
		got, err := autoPad(n, tc.in, tc.k, tc.strides, []int{1, 1}, tc.pads)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s in %v kernel %v strides %v: got %v (%v), want %v", tc.mode, tc.in, tc.k, tc.strides, got, err, tc.want)
		}
	}
	n := &node{op: "Conv", attrs: map[string]attr{"auto_pad": {s: "SAME"}}}
	if _, err := autoPad(n, []int{4}, []int{3}, []int{1}, []int{1}, nil); err == nil {
		t.Error("an unknown auto_pad mode was accepted")
	}
}

// TestHalfToFloat covers normal, subnormal, zero, infinite and NaN half-precision values.
func TestHalfToFloat(t *testing.T) {
	for bits, want := range map[uint16]float32{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: 5.9604645e-08, 0x0000: 0, 0x3555: 0.33325195,
		0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)),
	} {
		if got := halfToFloat(bits); got != want {
			t.Errorf("%#04x: got %g, want %g", bits, got, want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("NaN: got %g", got)
	}
}

// TestHostBinary: constant shape arithmetic broadcasts as ONNX does and divides integers by
// truncation; a division by zero is an error, not a panic or Inf.
func TestHostBinary(t *testing.T) {
	a := &Tensor{Shape: []int{2, 1}, Data: []float64{7, -7}, Int: true}
	b := &Tensor{Shape: []int{3}, Data: []float64{1, 2, 3}, Int: true}
	got, err := hostBinary("Div", a, b)
	if err != nil || !slices.Equal(got.Shape, []int{2, 3}) || !slices.Equal(got.Data, []float64{7, 3, 2, -7, -3, -2}) {
		t.Errorf("Div: %+v %v", got, err)
	}
	if _, err := hostBinary("Div", a, &Tensor{Data: []float64{0}, Int: true}); err == nil {
		t.Error("integer division by zero was accepted")
	}
	if _, err := hostBinary("Add", a, &Tensor{Shape: []int{2, 2}, Data: make([]float64, 4)}); err != nil {
		t.Errorf("[2,1] + [2,2]: %v", err)
	}
	if _, err := hostBinary("Add", b, &Tensor{Shape: []int{2}, Data: make([]float64, 2)}); err == nil {
		t.Error("[3] + [2] was accepted")
	}
}
