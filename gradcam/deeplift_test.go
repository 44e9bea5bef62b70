package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/preprocess"
)

// TestDeepLiftMatchesCaptum compares DeepLift (the zero reference) and DeepLiftShap (three
// references) with Captum's own (gradcam/testdata/reference_deeplift.py) on random-weight
// ResNet-18 and VGG-16 and the real SqueezeNet and MobileNetV2, two classes each: correlation >=
// 0.999 and max error <= 1% of the largest value. VGG-16 is compared in float64 on both sides, with
// a bound of 1e-4: there some units' input and reference straddle zero by less than float32's
// rounding, so that their rescale multipliers are decided by rounding and float32 maps differ by
// several percent between implementations and machines (see the reference script). On
// MobileNetV2, which has no max pooling (whose gradient does not sum to the difference),
// DeepLift's summation-to-delta holds: Delta is within 1e-3 of the score difference.
func TestDeepLiftMatchesCaptum(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_deeplift.py", "deeplift-ref", testref.Shared(), modelsRef)
	data, shape := testref.ReadNPY(t, filepath.Join(ref, "baselines.npy"))
	size := shape[1] * shape[2] * shape[3]
	var baselines [][]float32
	for i := range shape[0] {
		baselines = append(baselines, data[i*size:(i+1)*size])
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	compare := func(t *testing.T, mp *Map, want []float32, bound float64, what string) {
		if r, maxErr := testref.Pearson(mp.Values, want), testref.MaxRelErr(mp.Values, want); r < 0.999 || maxErr > bound || math.IsNaN(maxErr) {
			t.Errorf("%s: r = %.6f, max error %.4f of the largest value", what, r, maxErr)
		}
	}
	methods := []Method{DeepLift, DeepLiftShap}
	for _, name := range []string{"resnet18", "vgg16", "squeezenet1_0", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m, in, bound, suffix := loadTestModel(t, name), x, 0.01, ""
			opts := DeepLiftOptions{Baselines: baselines}
			if name == "vgg16" {
				m64, err := m.Float64()
				if err != nil {
					t.Fatal(err)
				}
				m, in, bound, suffix = m64, float64Tensor(x), 1e-4, "_f64"
				opts.BatchSize = 1 // at 4 pairs, VGG-16 in float64 outgrows 24 GiB
			}
			res, err := New(m).Explain(in, Request{Methods: methods, Classes: []int{243, 282}, DeepLift: opts})
			if err != nil {
				t.Fatal(err)
			}
			for _, method := range methods {
				for k, c := range []int{243, 282} {
					want, _ := testref.ReadNPY(t, filepath.Join(ref, name, string(method), fmt.Sprint(c)+suffix+".npy"))
					mp := res.At(0, k).Maps[method]
					compare(t, mp, want, bound, fmt.Sprintf("%s class %d%s", method, c, suffix))
					if method == DeepLift && name == "mobilenet_v2" && !(math.Abs(mp.Delta) < 1e-3*math.Max(1, math.Abs(float64(res.At(0, k).Logit)))) {
						t.Errorf("%s class %d: attributions sum to the score difference %+.4g off", method, c, mp.Delta)
					}
				}
			}
		})
	}
}

// TestDeepLiftBadInput: a baseline of the wrong size and a GoMLX function are one-line errors.
func TestDeepLiftBadInput(t *testing.T) {
	m, x := smallCNNInput(t)
	_, err := New(m).Explain(x, Request{Methods: []Method{DeepLiftShap}, DeepLift: DeepLiftOptions{Baselines: [][]float32{make([]float32, 7)}}})
	if err == nil || !strings.Contains(err.Error(), "baseline 0 has 7 values") || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v, want one line naming the baseline's size", err)
	}
}

// float64Tensor is x in float64.
func float64Tensor(x *tensors.Tensor) *tensors.Tensor {
	v := toFloat32(x)
	f := make([]float64, len(v))
	for i := range v {
		f[i] = float64(v[i])
	}
	return tensors.FromFlatDataAndDimensions(f, x.Shape().Dimensions...)
}
