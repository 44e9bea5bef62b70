package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestExplanationMetricsMatchQuantus: the robustness, randomisation and input-invariance metrics
// equal Quantus's own (testdata/reference_reexplain.py, Quantus with Captum's saliency as its
// explain_func) on the real MobileNetV2 (SqueezeNet 1.0 for input invariance), the 96x96 image of
// reference_metrics.py, and Quantus's recorded draws: its noise images, its random class, and the
// model its own generator re-initialized for MPRT. Within 1e-4 or 1% (float32 models and
// gradients on both sides).
func TestExplanationMetricsMatchQuantus(t *testing.T) {
	r := loadReference(t)
	dir, want := quantusRun(t, r, "reference_reexplain.py", "reexplain-ref")
	near := nearQuantus
	top1 := r.classes["top1"]
	heatmap := func(e *gradcam.Explainer, method gradcam.Method) Heatmap {
		res, err := e.Explain(r.x, gradcam.Request{Methods: []gradcam.Method{method}, ImageClasses: []int{top1}})
		if err != nil {
			t.Fatal(err)
		}
		hm, err := HeatmapOf(res.At(0, 0).Maps[method])
		if err != nil {
			t.Fatal(err)
		}
		return hm
	}
	weights := filepath.Join(testref.Shared(), "weights")
	ev := NewEvaluator(gradcam.New(loadWeights(t, "mobilenet_v2", filepath.Join(weights, "mobilenet_v2_coral_dequant.pth"))))
	ev.Quantus = QuantusOptions{SensitivitySamples: 3}
	hm := heatmap(ev.Explainer, gradcam.Saliency)
	ref, _ := testref.ReadNPY(t, filepath.Join(dir, "saliency.npy"))
	closeTo(t, "saliency, Captum's", hm.Values, ref, 1e-4*float64(maxAbs(ref)))

	ev.randomized = gradcam.New(loadWeights(t, "mobilenet_v2", filepath.Join(dir, "mprt_random.pth")))
	ints, _ := testref.ReadNPYAs[int64](t, filepath.Join(dir, "randint.npy"))
	saliency := gradcam.Request{Methods: []gradcam.Method{gradcam.Saliency}}
	for _, m := range []Metric{MaxSensitivity, AvgSensitivity, LocalLipschitz, Continuity, RandomLogit, MPRT} {
		d := &replayDraws{t: t}
		if path := filepath.Join(dir, "noise_"+string(m)+".npy"); fileExists(path) {
			z, shape := testref.ReadNPYAs[float64](t, path)
			for i := range shape[0] {
				d.noise = append(d.noise, z[i*shape[1]:(i+1)*shape[1]])
			}
		}
		for _, v := range ints {
			d.ints = append(d.ints, int(v))
		}
		got, err := ev.explanationMetric(m, r.x, hm, top1, saliency, d)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if !near(got, want[string(m)]) {
			t.Errorf("%s: %.8g, Quantus %.8g", m, got, want[string(m)])
		}
		if len(d.noise) != 0 {
			t.Errorf("%s: %d of Quantus's noise images unused", m, len(d.noise))
		}
	}

	sq := NewEvaluator(gradcam.New(loadWeights(t, "squeezenet1_0", filepath.Join(weights, "squeezenet1_0_deepcompression.pth"))))
	for _, c := range []struct {
		key    string
		method gradcam.Method
	}{{"saliency", gradcam.Saliency}, {"inputxgradient", gradcam.InputXGradient}} {
		w, ok := want["input-invariance/"+c.key]
		if !ok {
			t.Fatalf("the reference has no input invariance of %s", c.key)
		}
		got, err := sq.explanationMetric(InputInvariance, r.x, heatmap(sq.Explainer, c.method), top1,
			gradcam.Request{Methods: []gradcam.Method{c.method}}, &replayDraws{t: t})
		if err != nil {
			t.Fatal(err)
		}
		if got != 100*w {
			t.Errorf("input invariance of %s: %g%%, Quantus %g", c.key, got, w)
		}
	}
}

func maxAbs(v []float32) float32 {
	m := float32(0)
	for _, x := range v {
		m = max(m, x, -x)
	}
	return m
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestExplanationMetricsBadInput: a request without one method, an unknown metric, a model that
// cannot re-initialize its layers and bad options are one-line errors.
func TestExplanationMetricsBadInput(t *testing.T) {
	ev, x, hm := badInputCase(t)
	one := gradcam.Request{Methods: []gradcam.Method{gradcam.Saliency}}
	for _, tc := range []struct {
		name   string
		metric Metric
		req    gradcam.Request
		o      QuantusOptions
		x      *tensors.Tensor
		want   string
	}{
		{"two methods", MaxSensitivity, gradcam.Request{Methods: []gradcam.Method{gradcam.Saliency, gradcam.GradCAM}}, QuantusOptions{}, x, "2 methods"},
		{"unknown", Sparseness, one, QuantusOptions{}, x, "not a metric that explains again"},
		{"negative radius", AvgSensitivity, one, QuantusOptions{SensitivityRadius: -1}, x, "radius"},
		{"too many steps", Continuity, one, QuantusOptions{ContinuitySteps: 10000}, x, "more than"},
		{"no image", LocalLipschitz, one, QuantusOptions{}, nil, "no image"},
	} {
		ev.Quantus = tc.o
		v, err := ev.ExplanationMetric(tc.metric, tc.x, hm, 0, tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (value %g), want one line saying %q", tc.name, err, v, tc.want)
		}
	}
	// A model that cannot re-initialize its layers (wrapped: neither a models.Model nor a
	// gradcam.FromFunc model) has no MPRT.
	fixed := NewEvaluator(gradcam.New(shiftedInput{Model: ev.Explainer.Model}))
	v, err := fixed.ExplanationMetric(MPRT, x, hm, 0, one)
	if err == nil || !strings.Contains(err.Error(), "cannot re-initialize its layers") || strings.Contains(err.Error(), "\n") {
		t.Errorf("mprt of a fixed model: %v (value %g), want one line saying it cannot re-initialize its layers", err, v)
	}
}
