package metrics

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/gradcam-go/gradcam/gradcam"
)

// Summarize makes a model's report from the values Measure returned over its images: the rows
// (Aggregate) and the mean deletion and insertion curves. Given in the order of the images, as
// Evaluate measures them, the same values give the same report to the last bit however they
// were measured. It returns the report with an error when nothing at all could be measured.
func Summarize(model string, images int, values []ImageValue) (*Report, error) {
	rep := report(model, images, values)
	if len(rep.PerImage) > 0 && !slices.ContainsFunc(rep.PerImage, func(v ImageValue) bool { return v.Failure == "" }) {
		return rep, fmt.Errorf("evaluate: nothing could be measured: every measurement failed, the first on image %d (%s %s): %s",
			rep.PerImage[0].Image, rep.PerImage[0].Method, rep.PerImage[0].Metric, rep.PerImage[0].Failure)
	}
	return rep, nil
}

// report makes the rows and the mean curves of the values, summed in their order.
func report(model string, images int, values []ImageValue) *Report {
	r := &Report{Model: model, Images: images, Deletion: map[gradcam.Method][]float64{}, Insertion: map[gradcam.Method][]float64{}}
	counts := map[Metric]map[gradcam.Method]int{DeletionAUC: {}, InsertionAUC: {}}
	for _, v := range values {
		v.Model = model
		r.PerImage = append(r.PerImage, v)
		dst := map[Metric]map[gradcam.Method][]float64{DeletionAUC: r.Deletion, InsertionAUC: r.Insertion}[v.Metric]
		if dst == nil || v.Curve == nil {
			continue
		}
		method := gradcam.Method(v.Method)
		sum := dst[method]
		if sum == nil {
			sum = make([]float64, len(v.Curve))
			dst[method] = sum
		}
		for i, s := range v.Curve {
			sum[i] += s
		}
		counts[v.Metric][method]++
	}
	r.Rows = Aggregate(r.PerImage)
	for mt, curves := range map[Metric]map[gradcam.Method][]float64{DeletionAUC: r.Deletion, InsertionAUC: r.Insertion} {
		for method, sum := range curves {
			for i := range sum {
				sum[i] /= float64(counts[mt][method])
			}
		}
	}
	return r
}

// Aggregate averages per-image values into rows, one per (model, method, metric) in the order
// they first appear (per-model metrics first within a model, metrics in All() order): the
// mean over the images, except for the pointing game, whose accuracy is averaged over the
// classes present (TorchRay).
func Aggregate(values []ImageValue) []Row {
	type key struct {
		model, method string
		metric        Metric
	}
	type acc struct {
		sum          float64
		n, failed    int
		hits, totals map[int]float64
	}
	sums := map[key]*acc{}
	var models []string
	methods := map[string][]string{}
	for _, v := range values {
		k := key{v.Model, v.Method, v.Metric}
		s := sums[k]
		if s == nil {
			s = &acc{hits: map[int]float64{}, totals: map[int]float64{}}
			sums[k] = s
		}
		if v.Failure != "" || math.IsNaN(v.Value) {
			s.failed++
		} else {
			s.sum += v.Value
			s.n++
			s.hits[v.Class] += v.Value / 100
			s.totals[v.Class]++
		}
		if !slices.Contains(models, v.Model) {
			models = append(models, v.Model)
		}
		if !slices.Contains(methods[v.Model], v.Method) {
			methods[v.Model] = append(methods[v.Model], v.Method)
		}
	}
	var rows []Row
	for _, model := range models {
		ms := methods[model]
		slices.SortStableFunc(ms, func(a, b string) int { // "-" (per-model metrics) first
			return map[bool]int{true: 0, false: 1}[a == "-"] - map[bool]int{true: 0, false: 1}[b == "-"]
		})
		for _, method := range ms {
			for _, mt := range All() {
				s := sums[key{model, method, mt}]
				if s == nil {
					continue
				}
				v := s.sum / float64(s.n) // NaN when every image failed
				if mt == PointingGameAccuracy && s.n > 0 {
					var per float64 // in class order: the same sum, to the last bit, every time
					for _, c := range slices.Sorted(maps.Keys(s.totals)) {
						per += s.hits[c] / s.totals[c]
					}
					v = 100 * per / float64(len(s.totals))
				}
				rows = append(rows, Row{Model: model, Method: method, Metric: mt, Value: v, N: s.n, Failed: s.failed})
			}
		}
	}
	return rows
}
