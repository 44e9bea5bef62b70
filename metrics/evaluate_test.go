package metrics

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
)

// tinySet is a random 1x32x32 set with labels and boxes, and a random GAP network for it.
func tinySet(t *testing.T, n int) (*models.Model, *data.Set) {
	t.Helper()
	labels := []string{"a", "b", "c"}
	net, err := zoo.SmallCNN("tiny", []int{1, 32, 32}, labels, "gap", 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.New(net, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	set := &data.Set{Name: "tiny", Shape: []int{1, 32, 32}, Classes: labels, Inputs: make([]float32, n*32*32),
		Labels: make([]int32, n), Boxes: make([]data.Box, n)}
	for i := range set.Inputs {
		set.Inputs[i] = r.Float32()
	}
	for i := range n {
		set.Labels[i] = int32(r.IntN(3))
		x, y := r.IntN(16), r.IntN(16)
		set.Boxes[i] = data.Box{X0: x, Y0: y, X1: x + 16, Y1: y + 16}
	}
	return m, set
}

// TestEvaluateReportsEveryMetric runs every metric over a small random set and checks the rows:
// one per (method, metric), finite, in range, and CAM's localization equal to Grad-CAM's on a GAP
// network (their maps are the same).
func TestEvaluateReportsEveryMetric(t *testing.T) {
	m, set := tinySet(t, 5)
	ev := NewEvaluator(gradcam.New(m))
	ev.DeletionStep = 64
	ev.ROADPercentiles = []float64{30, 70}
	methods := []gradcam.Method{gradcam.CAM, gradcam.GradCAM, gradcam.Saliency}
	var progress []int
	rep, err := Evaluate(ev, set, Options{Methods: methods, BatchSize: 2, Progress: func(done, total int) {
		if total != 5 {
			t.Errorf("progress total %d, want 5", total)
		}
		progress = append(progress, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(progress, []int{2, 4, 5}) {
		t.Errorf("progress %v, want [2 4 5]", progress)
	}
	want := 1 + len(methods)*(len(All())-1-len(byNameOnly)) // classification error is per model; some asked by name only
	if len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	values := map[string]float64{}
	for _, r := range rep.Rows {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			t.Errorf("%s %s = %g", r.Method, r.Metric, r.Value)
		}
		switch r.Metric {
		case ClassificationError, LocalizationError, PointingGameAccuracy, AverageDrop, IncreaseInConfidence:
			if r.Value < 0 || r.Value > 100 {
				t.Errorf("%s %s = %g, not a percentage", r.Method, r.Metric, r.Value)
			}
		case DeletionAUC, InsertionAUC, DropInConfidence:
			if r.Value < 0 || r.Value > 1 {
				t.Errorf("%s %s = %g, not a probability", r.Method, r.Metric, r.Value)
			}
		}
		values[r.Method+" "+string(r.Metric)] = r.Value
	}
	// The two maps agree to float32 rounding (they are computed differently), so the metrics
	// agree to what that rounding moves: 1e-6 of a probability, 1e-4 of a percentage.
	for _, mt := range []Metric{LocalizationError, PointingGameAccuracy, DeletionAUC, InsertionAUC, AverageDrop} {
		tol := 1e-6
		if mt != DeletionAUC && mt != InsertionAUC {
			tol = 1e-4
		}
		if c, g := values["cam "+string(mt)], values["gradcam "+string(mt)]; math.Abs(c-g) > tol {
			t.Errorf("%s: CAM %g, Grad-CAM %g on a GAP network (the same map)", mt, c, g)
		}
	}
	for _, meth := range methods {
		if c := rep.Deletion[meth]; len(c) != 32*32/64+1 {
			t.Errorf("%s: mean deletion curve of %d points, want %d", meth, len(c), 32*32/64+1)
		}
	}
	var csv, md bytes.Buffer
	if err := WriteCSV(&csv, rep.Rows); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&csv)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(rep.Rows) {
		t.Fatalf("CSV round trip: %d rows, want %d", len(back), len(rep.Rows))
	}
	for i, r := range back {
		if w := rep.Rows[i]; r.Model != w.Model || r.Method != w.Method || r.Metric != w.Metric || math.Abs(r.Value-w.Value) > 1e-7*math.Abs(w.Value) {
			t.Errorf("CSV round trip: row %d %+v, want %+v", i, r, w)
		}
	}
	if err := Markdown(&md, rep.Rows); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(md.String(), "\n"); lines != 2+1+len(methods) {
		t.Errorf("Markdown table of %d lines, want %d:\n%s", lines, 3+len(methods), md.String())
	}
}

// TestEvaluateErrors checks that bad input gets a one-line error naming the problem.
func TestEvaluateErrors(t *testing.T) {
	m, set := tinySet(t, 2)
	ev := NewEvaluator(gradcam.New(m))
	grad := []gradcam.Method{gradcam.GradCAM}
	noBoxes := *set
	noBoxes.Boxes = nil
	badLabel := *set
	badLabel.Labels = []int32{0, 7}
	for _, c := range []struct {
		name string
		run  func() error
		want string
	}{
		{"empty dataset", func() error {
			_, err := Evaluate(ev, &data.Set{Name: "empty", Shape: []int{1, 32, 32}}, Options{Methods: grad})
			return err
		}, "empty"},
		{"localization without boxes", func() error {
			_, err := Evaluate(ev, &noBoxes, Options{Methods: grad, Metrics: []Metric{LocalizationError}})
			return err
		}, "needs ground-truth boxes"},
		{"no method", func() error {
			_, err := Evaluate(ev, set, Options{Metrics: []Metric{DeletionAUC}})
			return err
		}, "no method"},
		{"relevance mass without boxes", func() error {
			_, err := Evaluate(ev, &noBoxes, Options{Methods: grad, Metrics: []Metric{RelevanceMassAccuracy}})
			return err
		}, "relevance-mass-accuracy needs ground-truth boxes"},
		{"top-k beyond the pixels", func() error {
			_, err := Evaluate(ev, set, Options{Methods: grad, Metrics: []Metric{TopKIntersection}, TopK: 5000})
			return err
		}, "top-k 5000 is outside 1..1024"},
		{"label out of range", func() error {
			_, err := Evaluate(ev, &badLabel, Options{Methods: grad})
			return err
		}, "label 7"},
		{"unknown metric", func() error { _, err := ParseMetrics("deletion-auc,iou"); return err }, `unknown metric "iou": the metrics are classification-error`},
		{"map of the wrong shape", func() error {
			x, _ := set.Batch([]int{0})
			_, err := ev.Deletion(x, Heatmap{Values: make([]float32, 16*16), H: 16, W: 16}, 0)
			return err
		}, "the map is 16x16 (256 values) but the image is 32x32"},
		{"class out of range", func() error {
			x, _ := set.Batch([]int{0})
			_, err := ev.ROAD(x, Heatmap{Values: make([]float32, 32*32), H: 32, W: 32}, 3)
			return err
		}, "class 3 is out of range"},
		{"ROAD at percentile 0", func() error {
			x, _ := set.Batch([]int{0})
			at0 := *ev
			at0.ROADPercentiles = []float64{0, 50}
			_, err := at0.ROAD(x, Heatmap{Values: make([]float32, 32*32), H: 32, W: 32}, 0)
			return err
		}, "ROAD at percentile 0 keeps no pixel of 1024"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, c.want)
			}
		})
	}
}

// TestFormatValue checks the table's number formats: percentages with one decimal,
// probabilities with three, and no negative zero.
func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		metric Metric
		v      float64
		want   string
	}{
		{LocalizationError, 55, "55.0"},
		{AverageDrop, 12.345, "12.3"},
		{DeletionAUC, 0.08812, "0.088"},
		{ROADLeRF, -0.0001, "0.000"},
		{ROADMoRF, -0.058, "-0.058"},
		{AverageDrop, -0.01, "0.0"},
		{IncreaseInConfidence, 0, "0.0"},
	} {
		if got := formatValue(tc.metric, tc.v); got != tc.want {
			t.Errorf("formatValue(%s, %g) = %q, want %q", tc.metric, tc.v, got, tc.want)
		}
	}
}
