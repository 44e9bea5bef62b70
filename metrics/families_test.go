package metrics

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestEveryMetricHasAFamily: every metric of All belongs to a family, and the Quantus metrics
// to Quantus's six; a name that is no metric has none.
func TestEveryMetricHasAFamily(t *testing.T) {
	for _, m := range All() {
		f := m.Family()
		if f == "" {
			t.Errorf("%s has no family", m)
		}
		if m != ClassificationError && !slices.Contains(Families(), f) {
			t.Errorf("%s: family %q is not one of Quantus's %v", m, f, Families())
		}
	}
	if f := Metric("no-such").Family(); f != "" {
		t.Errorf("an unknown metric has family %q", f)
	}
}

// TestFamilyScores: methods ranked per metric by its direction, averaged per family.
func TestFamilyScores(t *testing.T) {
	rows := []Row{
		{Model: "m", Method: "a", Metric: FaithfulnessCorrelation, Value: 0.9}, // higher is better: a best
		{Model: "m", Method: "b", Metric: FaithfulnessCorrelation, Value: 0.1},
		{Model: "m", Method: "c", Metric: FaithfulnessCorrelation, Value: 0.5},
		{Model: "m", Method: "a", Metric: Infidelity, Value: 9}, // lower is better: b best
		{Model: "m", Method: "b", Metric: Infidelity, Value: 1},
		{Model: "m", Method: "c", Metric: Infidelity, Value: 5},
		{Model: "m", Method: "a", Metric: MaxSensitivity, Value: 1}, // a tie
		{Model: "m", Method: "b", Metric: MaxSensitivity, Value: 1},
		{Model: "m", Method: "c", Metric: MaxSensitivity, Value: 3},
		{Model: "m", Method: "a", Metric: Sparseness, Value: 1}, // not measured for c: left out
		{Model: "m", Method: "b", Metric: Sparseness, Value: 2},
		{Model: "other", Method: "a", Metric: MPRT, Value: 0.1},
		{Model: "m", Method: "-", Metric: ClassificationError, Value: 10},
	}
	c, err := FamilyScores(rows, "m")
	if err != nil {
		t.Fatal(err)
	}
	families, methods, scores := c.Families, c.Methods, c.Scores
	if !slices.Equal(families, []string{FamilyFaithfulness, FamilyRobustness}) || !slices.Equal(methods, []string{"a", "b", "c"}) {
		t.Fatalf("families %v, methods %v", families, methods)
	}
	want := [][]float64{{0.5, 0.75}, {0.5, 0.75}, {0.5, 0}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(scores[i][j]-want[i][j]) > 1e-12 {
				t.Errorf("%s %s: %g, want %g", methods[i], families[j], scores[i][j], want[i][j])
			}
		}
	}
	if _, err := FamilyScores(rows, "other"); err == nil || !strings.Contains(err.Error(), "1 methods") {
		t.Errorf("one method: %v", err)
	}
}
