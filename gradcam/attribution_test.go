package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/testnets"
)

// TestPathPoints: Gauss-Legendre nodes and weights are numpy's leggauss (3 points: 0, ±sqrt(3/5),
// weights 8/9 and 5/9), every rule's weights sum to 1 (the trapezoid's too, unlike Captum's), and
// integrate x^2 on [0, 1] as each rule should.
func TestPathPoints(t *testing.T) {
	x, w := gaussLegendre(3)
	want := []float64{-math.Sqrt(0.6), 0, math.Sqrt(0.6)}
	ww := []float64{5.0 / 9, 8.0 / 9, 5.0 / 9}
	for i := range 3 {
		if math.Abs(x[i]-want[i]) > 1e-14 || math.Abs(w[i]-ww[i]) > 1e-14 {
			t.Errorf("node %d: %v (%v), want %v (%v)", i, x[i], w[i], want[i], ww[i])
		}
	}
	for _, tc := range []struct {
		rule Integration
		n    int
		tol  float64 // error of the integral of x^2 on [0, 1]
	}{
		{GaussLegendre, 50, 1e-14}, {GaussLegendre, 2, 1e-14}, {RiemannMiddle, 50, 1e-4},
		{RiemannTrapezoid, 50, 1e-4}, {RiemannLeft, 50, 0.011}, {RiemannRight, 50, 0.011},
	} {
		a, w := pathPoints(tc.rule, tc.n)
		sum, integral := 0.0, 0.0
		for i := range a {
			sum += w[i]
			integral += w[i] * a[i] * a[i]
			if a[i] < 0 || a[i] > 1 {
				t.Errorf("%s: point %v outside [0, 1]", tc.rule, a[i])
			}
		}
		if math.Abs(sum-1) > 1e-12 || math.Abs(integral-1.0/3) > tc.tol {
			t.Errorf("%s n=%d: weights sum to %v, integral of x^2 %v", tc.rule, tc.n, sum, integral)
		}
	}
}

// TestAttributionsMatchCaptum runs Captum itself (../shared/peers, through
// gradcam/testdata/reference_captum.py) on the user-defined cnn2d (testnets) for two
// images and two classes: Input x Gradient, and Integrated Gradients with Gauss-Legendre (50
// steps), midpoint and trapezoid (20 steps) rules, with their convergence deltas. Our trapezoid
// rule weighs steps 1/(n-1) where Captum's weighs 1/n: the attributions differ by exactly n/(n-1).
func TestAttributionsMatchCaptum(t *testing.T) {
	ref := testref.Ensure(t, "gradcam/testdata/reference_captum.py", "captum-ref", testref.Shared(), testnets.Reference(t))
	m, x := loadTestNet(t, testnets.CNN2D)
	e := New(m)
	compare := func(what string, got []float32, want []float32, scale float32) {
		t.Helper()
		w := slices.Clone(want)
		for i := range w {
			w[i] *= scale
		}
		if r, err := testref.Pearson(got, w), testref.MaxRelErr(got, w); r < 0.999 || err > 0.01 || math.IsNaN(err) {
			t.Errorf("%s: correlation %.5f, max error %.3g", what, r, err)
		} else {
			t.Logf("%-32s r=%.6f err=%.2g", what, r, err)
		}
	}
	data, shape := toFloat32(x), x.Shape().Dimensions
	size := len(data) / shape[0]
	for _, class := range []int{3, 7} {
		cdir := filepath.Join(ref, fmt.Sprint(class))
		res, err := e.Explain(x, Request{Methods: []Method{InputXGradient}, Classes: []int{class}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := testref.ReadNPY(t, filepath.Join(cdir, "input-x-gradient.npy"))
		for i := range 2 {
			compare(fmt.Sprintf("class %d image %d input x gradient", class, i), res.At(i, 0).Maps[InputXGradient].Values, want[i*size:(i+1)*size], 1)
		}
		for _, sg := range []struct {
			kind   SmoothGradType
			method Method
		}{{SmoothGradMean, Saliency}, {SmoothGradSquared, InputXGradient}, {VarGrad, GuidedBackprop}} {
			name := fmt.Sprintf("smooth_%s_%s", sg.kind, sg.method)
			want, _ := testref.ReadNPY(t, filepath.Join(cdir, name+".npy"))
			noise, nshape := testref.ReadNPY(t, filepath.Join(cdir, name+"_noise.npy")) // [2, samples, C, H, W]
			samples := nshape[1]
			for i := range 2 {
				draws := make([][]float32, samples)
				for s := range draws {
					draws[s] = noise[(i*samples+s)*size : (i*samples+s+1)*size]
				}
				xi := tensors.FromFlatDataAndDimensions(data[i*size:(i+1)*size], append([]int{1}, shape[1:]...)...)
				res, err := e.Explain(xi, Request{Methods: []Method{SmoothGrad}, Classes: []int{class},
					SmoothGrad: SmoothGradOptions{Method: sg.method, Type: sg.kind, Noise: draws, BatchSize: 3}})
				if err != nil {
					t.Fatal(err)
				}
				compare(fmt.Sprintf("class %d image %d %s", class, i, name), res[0].Maps[SmoothGrad].Values, want[i*size:(i+1)*size], 1)
			}
		}
		for _, run := range []struct {
			rule  Integration
			steps int
		}{{GaussLegendre, 50}, {RiemannMiddle, 20}, {RiemannTrapezoid, 20}} {
			res, err := e.Explain(x, Request{Methods: []Method{IntegratedGradients}, Classes: []int{class},
				IntegratedGradients: IntegratedGradientsOptions{Steps: run.steps, Rule: run.rule, BatchSize: 7}})
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("ig_%s_%d", run.rule, run.steps)
			want, _ := testref.ReadNPY(t, filepath.Join(cdir, name+".npy"))
			deltas, _ := testref.ReadNPY(t, filepath.Join(cdir, name+"_delta.npy"))
			scale := float32(1)
			if run.rule == RiemannTrapezoid {
				scale = float32(run.steps) / float32(run.steps-1)
			}
			for i := range 2 {
				mp := res.At(i, 0).Maps[IntegratedGradients]
				compare(fmt.Sprintf("class %d image %d %s", class, i, name), mp.Values, want[i*size:(i+1)*size], scale)
				if run.rule != RiemannTrapezoid && math.Abs(mp.Delta-float64(deltas[i])) > 1e-3*(1+math.Abs(float64(deltas[i]))) {
					t.Errorf("class %d image %d %s: convergence delta %.6g, Captum %.6g", class, i, name, mp.Delta, deltas[i])
				}
				if run.rule == GaussLegendre { // the stated bound: |delta| <= 1% of the attributions' total |a| with 50 steps
					mass := 0.0
					for _, v := range mp.Values {
						mass += math.Abs(float64(v))
					}
					if math.Abs(mp.Delta) > 0.01*mass {
						t.Errorf("class %d image %d: convergence delta %.4g is more than 1%% of the attributions' mass %.4g", class, i, mp.Delta, mass)
					} else {
						t.Logf("class %d image %d: convergence delta %.3g, %.2g%% of the attributions' mass %.4g", class, i, mp.Delta, 100*math.Abs(mp.Delta)/mass, mass)
					}
				}
			}
		}
	}
}

// TestIntegratedGradientsOptionsErrors: bad options are one-line errors.
func TestIntegratedGradientsOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		o    IntegratedGradientsOptions
		want string
	}{
		{IntegratedGradientsOptions{Steps: 1, Rule: RiemannLeft}, "steps >= 2"},
		{IntegratedGradientsOptions{Rule: "simpson"}, `unknown integration rule "simpson"`},
		{IntegratedGradientsOptions{Baseline: []float32{1, 2}}, "baseline has 2 values; one example has 12"},
	} {
		err := tc.o.withDefaults().check(12)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestAttributionsMatchCaptumOnImageNetModels runs Captum itself
// (gradcam/testdata/reference_captum_imagenet.py) on resnet18 and vgg16 (random weights) and
// squeezenet1_0 and mobilenet_v2 (real weights), two classes: Input x Gradient, Integrated
// Gradients (8 Gauss-Legendre steps, with its convergence delta), SmoothGrad (on the noise Captum
// drew) and GradientShap (on the baselines, noise and points Captum drew) must match,
// correlation >= 0.999 and max error <= 1%. An attribution that differs in float32 must
// match Captum's float64 run in float64: float32 rounding can move an input across a kink (a
// ReLU6 threshold on Integrated Gradients' path, a max-pool near-tie), in PyTorch as in Go.
func TestAttributionsMatchCaptumOnImageNetModels(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_captum_imagenet.py", "captum-imagenet-ref", testref.Shared(), modelsRef)
	x := catDog(t)
	size := 3 * 224 * 224
	flat, _ := testref.ReadNPY(t, filepath.Join(ref, "baselines.npy"))
	baselines := [][]float32{flat[:size], flat[size:]}
	explain := func(m *models.Model, x *tensors.Tensor, dir string, class int, want func(string) bool) map[string]string {
		noise, nshape := testref.ReadNPY(t, filepath.Join(dir, "smoothgrad_noise.npy"))
		draws := make([][]float32, nshape[0])
		for s := range draws {
			draws[s] = noise[s*size : (s+1)*size]
		}
		gsNoise, _ := testref.ReadNPY(t, filepath.Join(dir, "gradient-shap_noise.npy"))
		gsIndex, _ := testref.ReadNPY(t, filepath.Join(dir, "gradient-shap_index.npy"))
		gsAlpha, _ := testref.ReadNPY(t, filepath.Join(dir, "gradient-shap_alpha.npy"))
		gsDraws := make([]GradientShapDraw, len(gsAlpha))
		for s := range gsDraws {
			gsDraws[s] = GradientShapDraw{Noise: gsNoise[s*size : (s+1)*size], Baseline: int(gsIndex[s]), Alpha: float64(gsAlpha[s])}
		}
		files := map[string]Method{"input-x-gradient": InputXGradient, "ig": IntegratedGradients, "smoothgrad": SmoothGrad,
			"gradient-shap": GradientShap}
		var methods []Method
		for file, method := range files {
			if want(file) {
				methods = append(methods, method)
			} else {
				delete(files, file)
			}
		}
		res, err := New(m).Explain(x, Request{Methods: methods, Classes: []int{class},
			// Small batches: VGG-16's backward at batch 8, in float64, would need ~16 GB.
			IntegratedGradients: IntegratedGradientsOptions{Steps: 8, BatchSize: 2}, SmoothGrad: SmoothGradOptions{Noise: draws, BatchSize: 1},
			GradientShap: GradientShapOptions{Baselines: baselines, Draws: gsDraws, BatchSize: 1}})
		if err != nil {
			t.Fatal(err)
		}
		failed := map[string]string{}
		for file, method := range files {
			want, _ := testref.ReadNPY(t, filepath.Join(dir, file+".npy"))
			got := res[0].Maps[method].Values
			if r, e := testref.Pearson(got, want), testref.MaxRelErr(got, want); r < 0.999 || e > 0.01 || math.IsNaN(e) {
				failed[file] = fmt.Sprintf("correlation %.5f, max error %.3g", r, e)
			} else {
				t.Logf("class %d %-16s r=%.6f err=%.2g", class, file, r, e)
			}
		}
		delta, _ := testref.ReadNPY(t, filepath.Join(dir, "ig_delta.npy"))
		if mp := res[0].Maps[IntegratedGradients]; mp != nil && math.Abs(mp.Delta-float64(delta[0])) > 1e-2*(1+math.Abs(float64(delta[0]))) {
			failed["ig"] += fmt.Sprintf("; convergence delta %.6g, Captum %.6g", mp.Delta, delta[0])
		}
		return failed
	}
	for _, name := range []string{"resnet18", "vgg16", "squeezenet1_0", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m := loadTestModel(t, name)
			for _, class := range []int{243, 282} {
				failed := explain(m, x, filepath.Join(ref, name, fmt.Sprint(class)), class, func(string) bool { return true })
				if len(failed) == 0 {
					continue
				}
				m64, err := m.Float64()
				if err != nil {
					t.Fatal(err)
				}
				again := explain(m64, fromFloat32(toFloat32(x), m64.DType(), x.Shape().Dimensions...),
					filepath.Join(ref, name, "f64", fmt.Sprint(class)), class, func(f string) bool { return failed[f] != "" })
				for file, f32 := range failed {
					if f64, bad := again[file]; bad {
						t.Errorf("class %d %s matches Captum neither in float32 (%s) nor in float64 (%s)", class, file, f32, f64)
					} else {
						t.Logf("class %d %s: float32 differs at a kink (%s); float64 matches Captum's float64", class, file, f32)
					}
				}
			}
		})
	}
}

// riseMasks is how many masks TestRISEMatches draws: enough for maps with structure, few enough
// that VGG-16's forwards stay a few seconds.
const riseMasks = 100

// TestRISEMatches: RISE's maps equal its authors' code (testdata/reference_rise.py, RISE's
// explanations.py) given its masks, on the random-weight ResNet-18 and VGG-16 and the real
// SqueezeNet and MobileNetV2, for classes 243 and 282 of cat_dog.png: r >= 0.999 and max error
// <= 1% of the largest value. The masks Go draws itself (RISEMasks) are checked for what RISE's
// are: values in [0, 1], a mean near the keep probability, the same masks from the same seed.
func TestRISEMatches(t *testing.T) {
	modelsRef, _ := references(t)
	ref := testref.Ensure(t, "gradcam/testdata/reference_rise.py", "rise-ref", testref.Shared(), modelsRef, fmt.Sprint(riseMasks))
	masks, shape := testref.ReadNPY(t, filepath.Join(ref, "masks.npy"))
	if !slices.Equal(shape, []int{riseMasks, 224, 224}) {
		t.Fatalf("masks of shape %v", shape)
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resnet18", "vgg16", "squeezenet1_0", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			res, err := New(loadTestModel(t, name)).Explain(x, Request{Methods: []Method{RISE}, Classes: []int{243, 282},
				RISE: RISEOptions{Masks: riseMasks, Given: masks}})
			if err != nil {
				t.Fatal(err)
			}
			for k, c := range []int{243, 282} {
				want, _ := testref.ReadNPY(t, filepath.Join(ref, name, fmt.Sprint(c)+".npy"))
				if r, maxErr := testref.Pearson(res.At(0, k).Maps[RISE].Values, want), testref.MaxRelErr(res.At(0, k).Maps[RISE].Values, want); r < 0.999 || maxErr > 0.01 || math.IsNaN(maxErr) {
					t.Errorf("class %d: r = %.6f, max error %.4f of the largest value", c, r, maxErr)
				}
			}
		})
	}
	t.Run("masks drawn", func(t *testing.T) {
		o := RISEOptions{Masks: 50, Cell: 7, P: 0.3, Seed: 4}
		a, err := RISEMasks(o, 64, 48)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := RISEMasks(o, 64, 48)
		if !slices.Equal(a, b) {
			t.Error("the same options drew other masks")
		}
		o.Seed = 5
		if c, _ := RISEMasks(o, 64, 48); slices.Equal(a, c) {
			t.Error("another seed drew the same masks")
		}
		mean := 0.0
		for _, v := range a {
			if v < 0 || v > 1 {
				t.Fatalf("mask value %g outside [0, 1]", v)
			}
			mean += float64(v) / float64(len(a))
		}
		if math.Abs(mean-0.3) > 0.05 {
			t.Errorf("masks' mean %.3f, want near the keep probability 0.3", mean)
		}
	})
}

// TestRISEBadInput: 0 masks (after the default is asked explicitly negative), a keep probability
// outside (0, 1], a grid larger than the image and masks of the wrong size are one-line errors.
func TestRISEBadInput(t *testing.T) {
	m, x := smallCNNInput(t)
	e := New(m)
	for _, tc := range []struct {
		o    RISEOptions
		want string
	}{
		{RISEOptions{Masks: -1}, "at least 1 mask"},
		{RISEOptions{P: 1.5}, "(0, 1]"},
		{RISEOptions{P: -0.1}, "(0, 1]"},
		{RISEOptions{Cell: 100}, "cells a side"},
		{RISEOptions{Masks: 2, Given: make([]float32, 10)}, "2 masks of"},
	} {
		_, err := e.Explain(x, Request{Methods: []Method{RISE}, RISE: tc.o})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want one line saying %q", tc.o, err, tc.want)
		}
	}
}
