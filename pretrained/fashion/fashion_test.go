package fashion

import (
	"math"
	"slices"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/metrics"
	gotrain "github.com/gradcam-go/gradcam/train"
)

// Held-out accuracies of the shipped checkpoints on the first 2,000 test items, as train-demo
// printed them when it made them.
var shippedAccuracy = map[string]float64{GAP: 0.7775, FC: 0.7235}

// TestShippedAccuracy checks the embedded checkpoints against the accuracy they were shipped with.
func TestShippedAccuracy(t *testing.T) {
	test, err := TestSet(2000)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		m, err := Load(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, acc, err := gotrain.Evaluate(m, test, 200)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(acc-shippedAccuracy[name]) > 0.002 {
			t.Errorf("%s: held-out accuracy %.4f, shipped with %.4f", name, acc, shippedAccuracy[name])
		}
		if (m.CheckCAM() == nil) != (name == GAP) {
			t.Errorf("%s: CheckCAM says %v", name, m.CheckCAM())
		}
	}
}

// TestCAMIsGradCAMOnTheGAPNet checks the CAM paper's premise on the shipped GAP network: CAM and
// Grad-CAM at the last block are the same map, so they localize the same.
func TestCAMIsGradCAMOnTheGAPNet(t *testing.T) {
	m, err := Load(GAP, nil)
	if err != nil {
		t.Fatal(err)
	}
	test, err := TestSet(60)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	x, _ := test.Batch(idx)
	res, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range test.Len() {
		c, g := res.At(i, 0).Maps[gradcam.CAM].Values, res.At(i, 0).Maps[gradcam.GradCAM].Values
		worst := 0.0
		for j := range c {
			worst = math.Max(worst, math.Abs(float64(c[j]-g[j])))
		}
		if worst > 1e-4 {
			t.Errorf("item %d: CAM and Grad-CAM differ by %g", i, worst)
		}
	}
	rep, err := metrics.Evaluate(metrics.NewEvaluator(gradcam.New(m)), test, metrics.Options{
		Methods: []gradcam.Method{gradcam.CAM, gradcam.GradCAM}, Metrics: []metrics.Metric{metrics.LocalizationError, metrics.PointingGameAccuracy}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range rep.Rows {
		got[r.Method+" "+string(r.Metric)] = r.Value
	}
	for _, mt := range []metrics.Metric{metrics.LocalizationError, metrics.PointingGameAccuracy} {
		if c, g := got["cam "+string(mt)], got["gradcam "+string(mt)]; c != g {
			t.Errorf("%s: CAM %.17g, Grad-CAM %.17g", mt, c, g)
		}
	}
	if le := got["gradcam localization-error"]; le <= 0 || le >= 100 {
		t.Errorf("localization error %.1f%%: expected a measurement between the extremes", le)
	}
}

// TestTrainingIsDeterministic trains twice on a few items and compares the weights: what makes
// train-demo remake the shipped checkpoints.
func TestTrainingIsDeterministic(t *testing.T) {
	var weights [2][]float32
	for run := range 2 {
		m, _, err := train(GAP, 128, 1, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"block1.conv.weight", "block4.bn.running_var", "fc.weight"} {
			p, err := m.Param(key)
			if err != nil {
				t.Fatal(err)
			}
			weights[run] = append(weights[run], p.Data...)
		}
	}
	if !slices.Equal(weights[0], weights[1]) {
		t.Error("two trainings with the same settings gave different weights")
	}
}

// TestNetworkErrors checks unknown names.
func TestNetworkErrors(t *testing.T) {
	if _, err := Network("fashion-xl"); err == nil {
		t.Error("no error for an unknown network")
	}
	if _, err := Load("fashion-xl", nil); err == nil {
		t.Error("no error for an unknown network")
	}
}
