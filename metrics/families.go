package metrics

import (
	"fmt"
	"math"
	"slices"
)

// The families metrics belong to: Quantus's six (Hedström et al. 2023), and "accuracy" for the
// classification error.
const (
	FamilyAccuracy      = "accuracy"
	FamilyLocalisation  = "localisation"
	FamilyFaithfulness  = "faithfulness"
	FamilyRobustness    = "robustness"
	FamilyComplexity    = "complexity"
	FamilyRandomisation = "randomisation"
	FamilyAxiomatic     = "axiomatic"
)

// Families returns Quantus's six families, in the order of its paper.
func Families() []string {
	return []string{FamilyFaithfulness, FamilyRobustness, FamilyLocalisation, FamilyComplexity, FamilyRandomisation, FamilyAxiomatic}
}

// Family is the family m belongs to ("" for a name that is no metric).
func (m Metric) Family() string {
	switch m {
	case ClassificationError:
		return FamilyAccuracy
	case LocalizationError, PointingGameAccuracy, RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation,
		TopKIntersection, AUC:
		return FamilyLocalisation
	case DeletionAUC, InsertionAUC, AverageDrop, IncreaseInConfidence, DropInConfidence, ROADMoRF, ROADLeRF, ROADCombined,
		OcclusionCorrelation, FaithfulnessCorrelation, FaithfulnessEstimate, Monotonicity, MonotonicityCorrelation,
		PixelFlipping, RegionPerturbation, IROF, Infidelity, Sufficiency:
		return FamilyFaithfulness
	case MaxSensitivity, AvgSensitivity, LocalLipschitz, Continuity:
		return FamilyRobustness
	case Sparseness, Complexity, EffectiveComplexity:
		return FamilyComplexity
	case RandomLogit, MPRT:
		return FamilyRandomisation
	case Completeness, NonSensitivity, InputInvariance:
		return FamilyAxiomatic
	}
	return ""
}

// HigherIsBetter says which way m improves (as each metric's doc comment says).
func (m Metric) HigherIsBetter() bool {
	switch m {
	case ClassificationError, LocalizationError, DeletionAUC, AverageDrop, DropInConfidence, ROADMoRF, Complexity,
		EffectiveComplexity, PixelFlipping, Infidelity, NonSensitivity, MaxSensitivity, AvgSensitivity, LocalLipschitz,
		Continuity, RandomLogit, MPRT:
		return false
	}
	return true
}

// Comparison is FamilyScores's result: Scores[i][j] is Methods[i]'s score in Families[j].
type Comparison struct {
	Families, Methods []string
	Scores            [][]float64
}

// FamilyScores compares the methods of one model on each family from rows (metrics.csv's): for
// each metric, the methods' values ranked and mapped to [0, 1] (1 the best by the metric's
// direction, 0 the worst, ties sharing their mean rank); for each family, the mean of those over
// its metrics in rows. Families without a metric are left out.
func FamilyScores(rows []Row, model string) (*Comparison, error) {
	var families, methods []string
	byMetric := map[Metric]map[string]float64{}
	for _, r := range rows {
		if r.Model != model || r.Method == "-" || math.IsNaN(r.Value) {
			continue
		}
		if !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
		if byMetric[r.Metric] == nil {
			byMetric[r.Metric] = map[string]float64{}
		}
		byMetric[r.Metric][r.Method] = r.Value
	}
	if len(methods) < 2 {
		return nil, fmt.Errorf("family scores: %d methods of %s in the rows; comparing needs two or more", len(methods), model)
	}
	sum := map[string][]float64{}
	count := map[string]int{}
	for _, m := range All() {
		values, ok := byMetric[m]
		if !ok || len(values) != len(methods) {
			continue // not measured for every method: not comparable
		}
		v := make([]float64, len(methods))
		for i, method := range methods {
			v[i] = values[method]
			if !m.HigherIsBetter() {
				v[i] = -v[i]
			}
		}
		r := ranks(v) // 1 the worst
		f := m.Family()
		if sum[f] == nil {
			sum[f] = make([]float64, len(methods))
		}
		for i := range methods {
			sum[f][i] += (r[i] - 1) / float64(len(methods)-1)
		}
		count[f]++
	}
	for _, f := range Families() {
		if count[f] > 0 {
			families = append(families, f)
		}
	}
	if len(families) == 0 {
		return nil, fmt.Errorf("family scores: no metric of %s was measured for every method", model)
	}
	scores := make([][]float64, len(methods))
	for i := range methods {
		for _, f := range families {
			scores[i] = append(scores[i], sum[f][i]/float64(count[f]))
		}
	}
	return &Comparison{Families: families, Methods: methods, Scores: scores}, nil
}
