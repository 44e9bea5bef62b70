package gradcam

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testnets"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
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
// gradcam/testdata/reference_captum.py) on the user-defined cnn2d (internal/testnets) for two
// images and two classes: Input x Gradient, and Integrated Gradients with Gauss-Legendre (50
// steps), midpoint and trapezoid (20 steps) rules, with their convergence deltas. Our trapezoid
// rule weighs steps 1/(n-1) where Captum's weighs 1/n: the attributions differ by exactly n/(n-1).
func TestAttributionsMatchCaptum(t *testing.T) {
	ref := testref.Ensure(t, "gradcam/testdata/reference_captum.py", "captum-ref", testref.Shared(), testnets.Reference(t))
	dir := testnets.Dir(t, testnets.CNN2D)
	w, err := models.ReadCheckpoint(filepath.Join(dir, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.NewModel(testnets.CNN2D, w, "reference", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, shape := testref.ReadNPY(t, filepath.Join(dir, "input.npy"))
	x := tensors.FromFlatDataAndDimensions(data, shape...)
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
