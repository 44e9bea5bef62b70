package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/faults"
)

// TestEvaluateRecordsFailures forces one image's explanation and one (image, method, metric) to
// fail: the evaluation completes, the failures are in per-image.csv with their reasons and counted
// in metrics.md, and the other values are measured; when everything fails, Evaluate says so.
func TestEvaluateRecordsFailures(t *testing.T) {
	m, set := tinySet(t, 6)
	ev := NewEvaluator(gradcam.New(m))
	ev.DeletionStep = 128
	ev.ROADPercentiles = []float64{50}
	restore := faults.InjectExplain(func(model string, image int) error {
		if image == 2 {
			return errors.New("forced failure of image 2")
		}
		return nil
	})
	failMetricForTest = func(image int, method string, mt Metric) error {
		if image == 4 && method == "gradcam" && mt == ROADMoRF { // ROAD is measured once for its metrics
			return errors.New("forced ROAD failure")
		}
		return nil
	}
	defer func() { restore(); failMetricForTest = nil }()
	mets := []Metric{ClassificationError, LocalizationError, DeletionAUC, ROADMoRF, ROADLeRF}
	rep, err := Evaluate(ev, set, Options{Methods: []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}, Metrics: mets, BatchSize: 4})
	if err != nil {
		t.Fatalf("one image's failure aborted the evaluation: %v", err)
	}
	failed := map[string]string{}
	for _, v := range rep.PerImage {
		if v.Failure != "" {
			if !math.IsNaN(v.Value) {
				t.Errorf("failed value %v is not NaN", v)
			}
			failed[fmt.Sprintf("%d %s %s", v.Image, v.Method, v.Metric)] = v.Failure
		} else if math.IsNaN(v.Value) {
			t.Errorf("NaN without a failure: %+v", v)
		}
	}
	// Image 2: every metric of every method (9) and its classification; image 4: gradcam's ROAD pair.
	if len(failed) != 1+2*4+2 {
		t.Errorf("%d failures recorded, want 11: %v", len(failed), failed)
	}
	for _, k := range []string{"2 - classification-error", "2 gradcam deletion-auc", "2 saliency road-morf"} {
		if !strings.Contains(failed[k], "forced failure of image 2") {
			t.Errorf("%s: failure %q, want the image's reason", k, failed[k])
		}
	}
	for _, k := range []string{"4 gradcam road-morf", "4 gradcam road-lerf"} {
		if failed[k] != "forced ROAD failure" {
			t.Errorf("%s: failure %q, want the metric's reason (both ROAD values come from one measurement)", k, failed[k])
		}
	}
	if _, ok := failed["4 gradcam deletion-auc"]; ok {
		t.Error("image 4's deletion failed with its ROAD")
	}
	for _, r := range rep.Rows {
		want := 1
		if r.Method == "gradcam" && (r.Metric == ROADMoRF || r.Metric == ROADLeRF) {
			want = 2
		}
		if r.Failed != want || r.N != 6-want || math.IsNaN(r.Value) {
			t.Errorf("row %s %s: N %d, failed %d, value %g; want %d failed of 6", r.Method, r.Metric, r.N, r.Failed, r.Value, want)
		}
	}
	var md, csv bytes.Buffer
	if err := Markdown(&md, rep.Rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "Failed measurements: 11 (") || !strings.Contains(md.String(), "tiny gradcam road-lerf: 2 of 6 images") {
		t.Errorf("metrics.md does not count the failures:\n%s", md.String())
	}
	if err := WritePerImageCSV(&csv, rep.PerImage); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "tiny,gradcam,road-lerf,4,-1,NaN,forced ROAD failure\n") {
		t.Errorf("per-image.csv does not give the reason:\n%s", csv.String())
	}
	back, err := ReadPerImageCSV(&csv)
	if err != nil || len(back) != len(rep.PerImage) {
		t.Fatalf("per-image.csv read back: %d values, %v", len(back), err)
	}

	defer faults.InjectExplain(func(string, int) error { return errors.New("nothing works") })()
	if _, err := Evaluate(ev, set, Options{Methods: []gradcam.Method{gradcam.GradCAM}, Metrics: mets}); err == nil ||
		!strings.Contains(err.Error(), "nothing could be measured") || !strings.Contains(err.Error(), "nothing works") {
		t.Errorf("everything failed: %v", err)
	}
}

// TestFailedImageIsRetriedOnce fails image 3's explanation: once (the retry measures it), and
// every time (recorded after the batch and two calls of its own, the second the retry).
func TestFailedImageIsRetriedOnce(t *testing.T) {
	m, set := tinySet(t, 6)
	ev := NewEvaluator(gradcam.New(m))
	for _, tc := range []struct {
		name      string
		failures  int // how many of image 3's explanations fail
		wantCalls int // explanations of image 3: the batch's, alone, the retry
		measured  bool
	}{{"once", 1, 2, true}, {"twice", 2, 3, true}, {"always", 1000, 3, false}} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			defer faults.InjectExplain(func(model string, image int) error {
				if image != 3 {
					return nil
				}
				calls++
				if calls <= tc.failures {
					return fmt.Errorf("forced failure %d of image 3", calls)
				}
				return nil
			})()
			rep, err := Evaluate(ev, set, Options{Methods: []gradcam.Method{gradcam.GradCAM}, Metrics: []Metric{Sparseness}, BatchSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.wantCalls {
				t.Errorf("image 3 explained %d times, want %d", calls, tc.wantCalls)
			}
			for _, v := range rep.PerImage {
				if v.Image == 3 && (v.Failure == "") != tc.measured {
					t.Errorf("image 3: %+v; measured should be %v", v, tc.measured)
				}
				if v.Image != 3 && v.Failure != "" {
					t.Errorf("image %d failed: %s", v.Image, v.Failure)
				}
			}
		})
	}
}
