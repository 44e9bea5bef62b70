package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/internal/faults"
)

// Metric names a number Evaluate reports over a dataset.
type Metric string

// The metrics, by the names the CLI and metrics.csv use.
const (
	// ClassificationError is the percentage of images whose top-1 class is wrong (per model: its
	// rows have method "-").
	ClassificationError Metric = "classification-error"
	// LocalizationError is the Grad-CAM paper's top-1 localization error, %: the top-1 class is
	// wrong, or LocalizationBox's IoU with the ground truth is below 0.5.
	LocalizationError Metric = "localization-error"
	// PointingGameAccuracy is the pointing-game accuracy, %, of the map of the ground-truth class
	// (TorchRay: hits / (hits + misses) per class, averaged over the classes present).
	PointingGameAccuracy Metric = "pointing-game"
	// DeletionAUC and InsertionAUC are the RISE curves' mean areas (Evaluator.Deletion,
	// Insertion) for the top-1 class: lower deletion and higher insertion are better.
	DeletionAUC  Metric = "deletion-auc"
	InsertionAUC Metric = "insertion-auc"
	// AverageDrop is the Grad-CAM++ paper's Average Drop %, 100 mean max(0, Y - O) / Y, Y the
	// top-1 class's probability and O that of the image times the map: lower is better.
	AverageDrop Metric = "average-drop"
	// IncreaseInConfidence is the Grad-CAM++ paper's Increase in Confidence %, 100 mean 1[O > Y]
	// (pytorch-grad-cam's IncreaseInConfidence, averaged, times 100): higher is better.
	IncreaseInConfidence Metric = "increase-in-confidence"
	// DropInConfidence is pytorch-grad-cam's DropInConfidence averaged: mean max(0, Y - O) in
	// probability units.
	DropInConfidence Metric = "drop-in-confidence"
	// ROADMoRF, ROADLeRF and ROADCombined are ROAD's averages over the percentiles
	// (Evaluator.ROAD), means over the images of score changes in probability units: MoRF lower,
	// LeRF and combined higher are better.
	ROADMoRF     Metric = "road-morf"
	ROADLeRF     Metric = "road-lerf"
	ROADCombined Metric = "road-combined"
	// OcclusionCorrelation is the Grad-CAM paper's faithfulness measure (Section 5.3): the
	// Spearman rank correlation between a method's map and the occlusion map of the same class
	// (gradient images as the sum of absolute values over channels), averaged over the images.
	// Occlusion runs for it whether or not it is one of the methods; higher is better.
	OcclusionCorrelation Metric = "occlusion-correlation"

	// Quantus's localisation family (quantus.go), on the top-1 class's map against the mask of the
	// ground-truth boxes: RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation,
	// TopKIntersection (k = Options.TopK) and AUC. Higher is better.
	RelevanceMassAccuracy   Metric = "relevance-mass-accuracy"
	RelevanceRankAccuracy   Metric = "relevance-rank-accuracy"
	AttributionLocalisation Metric = "attribution-localisation"
	TopKIntersection        Metric = "top-k-intersection"
	AUC                     Metric = "auc"
	// Quantus's complexity family (quantus.go), on the top-1 class's map: Sparseness (higher is
	// sparser), Complexity (an entropy) and EffectiveComplexity (a count of pixels; lower is
	// simpler).
	Sparseness          Metric = "sparseness"
	Complexity          Metric = "complexity"
	EffectiveComplexity Metric = "effective-complexity"
)

// All returns the metrics in the order tables show them.
func All() []Metric {
	return []Metric{ClassificationError, LocalizationError, PointingGameAccuracy, DeletionAUC, InsertionAUC, AverageDrop,
		IncreaseInConfidence, DropInConfidence, ROADMoRF, ROADLeRF, ROADCombined, OcclusionCorrelation,
		RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation, TopKIntersection, AUC,
		Sparseness, Complexity, EffectiveComplexity, FaithfulnessCorrelation, FaithfulnessEstimate, Monotonicity,
		MonotonicityCorrelation, PixelFlipping, RegionPerturbation, IROF, Infidelity, Completeness, NonSensitivity,
		Sufficiency, MaxSensitivity, AvgSensitivity, LocalLipschitz, Continuity, RandomLogit, MPRT, InputInvariance}
}

// needsBoxes are the metrics that need ground-truth boxes; needsLabels those that need labels;
// byNameOnly those Evaluate measures only when asked by name (or "all"): occlusion correlation,
// which runs occlusion on every image, and Quantus's families, beside the Grad-CAM paper's
// protocol that the default reproduces.
var (
	needsBoxes = []Metric{LocalizationError, PointingGameAccuracy, RelevanceMassAccuracy, RelevanceRankAccuracy,
		AttributionLocalisation, TopKIntersection, AUC}
	needsLabels = []Metric{ClassificationError, LocalizationError, PointingGameAccuracy}
	byNameOnly  = slices.Concat([]Metric{OcclusionCorrelation, RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation,
		TopKIntersection, AUC, Sparseness, Complexity, EffectiveComplexity, Sufficiency}, perturbationMetrics, explanationMetrics)
)

// ParseMetrics reads a comma-separated list of metric names ("all": every metric).
func ParseMetrics(list string) ([]Metric, error) {
	if strings.TrimSpace(list) == "all" {
		return slices.Clone(All()), nil
	}
	var out []Metric
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		m := Metric(s)
		if !slices.Contains(All(), m) {
			names := make([]string, len(All()))
			for i, m := range All() {
				names[i] = string(m)
			}
			return nil, fmt.Errorf("unknown metric %q: the metrics are %s (or all)", s, strings.Join(names, ", "))
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no metric named in %q", list)
	}
	return out, nil
}

// PointingToleranceFor is TorchRay's 15 pixels, which it uses at ImageNet's 224x224, scaled to
// images of h x w (by the shorter side): 15 px at 224, 4.3 px at 64. A fixed 15 px would make the
// pointing game nearly always a hit on small images (it is half of a 28x28 item).
func PointingToleranceFor(h, w int) float64 {
	return DefaultPointingTolerance * float64(min(h, w)) / 224
}

// TopKFor is Quantus's top-k intersection's k, 1000 pixels at 224x224, scaled to h x w images by
// their area: 82 at 64x64, at least 1.
func TopKFor(h, w int) int { return max(1, 1000*h*w/(224*224)) }

// Row is one number of a table: a metric of a model's method over a dataset.
type Row struct {
	Model  string
	Method string // "-" for per-model metrics (classification error)
	Metric Metric
	Value  float64
	// N is the number of images the value averages over; Failed the number of images whose value
	// could not be measured (ImageValue.Failure says why). Value is NaN when N is 0.
	N, Failed int
}

// Options configure Evaluate.
type Options struct {
	// Methods are the explanation methods to measure (metrics other than classification error
	// need at least one).
	Methods []gradcam.Method
	// Metrics to compute; empty means every metric the dataset allows (boxes, labels), except
	// those asked by name only: OcclusionCorrelation, which runs occlusion on every image, and
	// Quantus's localisation, complexity and perturbation families.
	Metrics []Metric
	// Request carries the explanation options (layers, targets, method options); its Methods and
	// classes are set by Evaluate. The maps explain the logit unless Request.Target says otherwise.
	Request gradcam.Request
	// LocalizationThreshold is LocalizationBox's; 0 means DefaultLocalizationThreshold.
	LocalizationThreshold float64
	// PointingTolerance is the pointing game's, pixels; 0 means DefaultPointingTolerance at
	// 224x224 scaled to the images (PointingToleranceFor).
	PointingTolerance float64
	// TopK is TopKIntersection's k, pixels; 0 means Quantus's 1000 at 224x224 scaled to the
	// images' area (TopKFor).
	TopK int
	// BatchSize is the number of images per Explain call; 0 means 16.
	BatchSize int
	// Progress, when set, is called after each batch with the images done and the total.
	Progress func(done, total int)
}

// Report is the result of Evaluate.
type Report struct {
	Model  string
	Images int
	Rows   []Row
	// Deletion and Insertion are the mean curves per method (when those metrics were asked).
	Deletion, Insertion map[gradcam.Method][]float64
	// PerImage are the values the rows average, image by image (Aggregate turns them back into
	// the rows).
	PerImage []ImageValue
}

// ImageValue is one image's value of a metric.
type ImageValue struct {
	Model, Method string
	Metric        Metric
	Image         int
	// Class is the image's label for the pointing game (which averages per class), else -1.
	Class int
	Value float64
	// Failure says why the value could not be measured (Value is NaN then); empty for a measured
	// value. One image's failure does not stop an evaluation.
	Failure string
	// Curve is the image's deletion or insertion curve (those metrics only; Summarize averages them).
	Curve []float64
}

// Evaluate measures the methods' maps of the top-1 class (of the ground-truth class for the
// pointing game) over every image of set with the evaluator's model: Prepare, Measure over the
// images in batches of Options.BatchSize, and Summarize.
//
// A measurement that fails for one image (its explanation, its map, or one metric of one method)
// is recorded in PerImage with its reason and counted in the rows' Failed, and the evaluation goes
// on; Evaluate returns an error for bad options, and when nothing at all could be measured.
func Evaluate(ev *Evaluator, set *data.Set, o Options) (*Report, error) {
	r, err := Prepare(ev, set, o)
	if err != nil {
		return nil, err
	}
	var values []ImageValue
	for start := 0; start < r.Len(); start += r.BatchSize() {
		k := min(r.BatchSize(), r.Len()-start)
		values = append(values, r.Measure(start, k)...)
		if o.Progress != nil {
			o.Progress(start+k, r.Len())
		}
	}
	return Summarize(r.model, r.Len(), values)
}

// Run is an evaluation of one model over one dataset with its options checked. Its images can be
// measured in any order, in batches, by several workers each with its own Run (gradcam evaluate's
// pipeline does so); Summarize turns the values back into the rows and curves.
type Run struct {
	ev                   *Evaluator
	set                  *data.Set
	o                    Options
	model                string
	metrics              []Metric
	perMap               bool
	threshold, tolerance float64
	topK, batch          int
}

// Prepare checks the options against the dataset and the evaluator's model (see Evaluate).
func Prepare(ev *Evaluator, set *data.Set, o Options) (*Run, error) {
	if ev == nil || ev.Explainer == nil {
		return nil, fmt.Errorf("evaluate: no evaluator (use NewEvaluator)")
	}
	m := ev.Explainer.Describe()
	if set == nil || set.Len() == 0 {
		return nil, fmt.Errorf("evaluate: the dataset is empty: give a folder with images or a dataset with examples")
	}
	if err := set.Check(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	if len(set.Shape) != 3 {
		return nil, fmt.Errorf("evaluate: the metrics need images, %q holds examples of shape %v", set.Name, set.Shape)
	}
	metrics := o.Metrics
	if len(metrics) == 0 {
		for _, mt := range All() {
			if slices.Contains(byNameOnly, mt) {
				continue
			}
			if (set.Boxes != nil || !slices.Contains(needsBoxes, mt)) && (set.Labels != nil || !slices.Contains(needsLabels, mt)) {
				metrics = append(metrics, mt)
			}
		}
	}
	for _, mt := range metrics {
		if slices.Contains(needsBoxes, mt) && set.Boxes == nil {
			return nil, fmt.Errorf("evaluate: %s needs ground-truth boxes and %q has none (use a localization set such as cluttered-fashion-mnist)", mt, set.Name)
		}
		if slices.Contains(needsLabels, mt) && set.Labels == nil {
			return nil, fmt.Errorf("evaluate: %s needs labels and %q has none", mt, set.Name)
		}
	}
	if slices.ContainsFunc(metrics, func(mt Metric) bool { return slices.Contains(needsLabels, mt) }) {
		if set.Classes != nil && m.Labels != nil && !slices.Equal(set.Classes, m.Labels) {
			return nil, fmt.Errorf("evaluate: the dataset's classes %v are not the model's (%d labels): labels must index %s's outputs", truncate(set.Classes), len(m.Labels), m.Name)
		}
		for _, l := range set.Labels {
			if int(l) >= m.Outputs {
				return nil, fmt.Errorf("evaluate: label %d is out of range: %s has %d outputs", l, m.Name, m.Outputs)
			}
		}
	}
	r := &Run{ev: ev, set: set, o: o, model: m.Name, metrics: metrics, threshold: o.LocalizationThreshold,
		tolerance: o.PointingTolerance, topK: o.TopK, batch: o.BatchSize}
	r.perMap = slices.ContainsFunc(metrics, func(mt Metric) bool { return mt != ClassificationError })
	if r.perMap && len(o.Methods) == 0 {
		return nil, fmt.Errorf("evaluate: no method to measure")
	}
	if r.threshold == 0 {
		r.threshold = DefaultLocalizationThreshold
	}
	if r.tolerance == 0 {
		r.tolerance = PointingToleranceFor(set.Shape[1], set.Shape[2])
	}
	if r.tolerance < 0 {
		return nil, fmt.Errorf("evaluate: pointing tolerance %g is negative", r.tolerance)
	}
	if r.batch == 0 {
		r.batch = 16
	}
	if r.batch < 0 {
		return nil, fmt.Errorf("evaluate: batch size %d must be >= 1", r.batch)
	}
	h, w := set.Shape[1], set.Shape[2]
	if r.topK == 0 {
		r.topK = TopKFor(h, w)
	}
	if r.topK < 0 || r.topK > h*w {
		return nil, fmt.Errorf("evaluate: top-k %d is outside 1..%d (the images' pixels)", o.TopK, h*w)
	}
	return r, nil
}

// Model is the name of the model the run measures.
func (r *Run) Model() string { return r.model }

// Len is the number of images the run measures.
func (r *Run) Len() int { return r.set.Len() }

// BatchSize is the number of images Evaluate measures per call of Measure (Options.BatchSize, 16
// by default).
func (r *Run) BatchSize() int { return r.batch }

// Measure measures the images start..start+count-1 (explained in one call) and returns their
// values, image by image in order. An image whose explanation fails is explained alone and, if
// it fails again, once more; then its failure is recorded as its values (Failure set), as is a
// metric that fails on one image.
func (r *Run) Measure(start, count int) []ImageValue {
	set, o, metrics := r.set, r.o, r.metrics
	if start < 0 || count < 1 || start+count > set.Len() {
		panic(fmt.Sprintf("metrics: Measure(%d, %d) outside the %d images", start, count, set.Len()))
	}
	c, h, w := set.Shape[0], set.Shape[1], set.Shape[2]
	size := c * h * w
	acc := &accumulator{metrics: metrics, topK: r.topK, model: r.model, req: o.Request}
	for _, m := range o.Methods {
		acc.methods = append(acc.methods, string(m))
	}
	wants := func(mt Metric) bool { return slices.Contains(metrics, mt) }
	k := count
	req := o.Request
	req.Methods = o.Methods
	if !r.perMap {
		req.Methods = []gradcam.Method{gradcam.GradCAM}
	}
	if wants(OcclusionCorrelation) && !slices.Contains(req.Methods, gradcam.Occlusion) {
		req.Methods = append(slices.Clone(req.Methods), gradcam.Occlusion) // the reference map
	}
	explain := func(classes func(i int) int) ([]*gradcam.Explanation, []error) {
		return explainEach(r.ev.Explainer, r.model, set.Inputs, start, k, size, []int{c, h, w}, req, classes)
	}
	res, failed := explain(func(int) int { return -1 })
	// The pointing game explains the ground-truth class: again for the misclassified images.
	var truth []*gradcam.Explanation
	var truthFailed []error
	if wants(PointingGameAccuracy) {
		again := false
		for i := range k {
			again = again || (failed[i] == nil && res[i].Class != int(set.Labels[start+i]))
		}
		truth, truthFailed = res, failed
		if again {
			truth, truthFailed = explain(func(i int) int { return int(set.Labels[start+i]) })
		}
	}
	for i := range k {
		idx := start + i
		if failed[i] != nil {
			for _, mt := range metrics {
				if mt == ClassificationError {
					acc.fail("-", mt, idx, failed[i])
					continue
				}
				for _, method := range o.Methods {
					acc.fail(string(method), mt, idx, failed[i])
				}
			}
			continue
		}
		ex := res[i]
		img := tensors.FromFlatDataAndDimensions(set.Inputs[idx*size:(idx+1)*size], 1, c, h, w)
		wrong := set.Labels != nil && ex.Class != int(set.Labels[idx])
		if wants(ClassificationError) {
			acc.add("-", ClassificationError, idx, percent(wrong))
		}
		if !r.perMap {
			continue
		}
		for _, method := range o.Methods {
			hm, err := HeatmapOf(ex.Maps[method])
			if err != nil {
				for _, mt := range metrics {
					if mt != ClassificationError {
						acc.fail(string(method), mt, idx, err)
					}
				}
				continue
			}
			var truthErr error
			if truthFailed != nil {
				truthErr = truthFailed[i]
			}
			acc.measure(r.ev, string(method), img, hm, ex, idx, wrong, set, r.threshold, r.tolerance, truth, truthErr, i)
		}
	}
	if wants(Sufficiency) {
		for _, method := range o.Methods {
			acc.sufficiency(string(method), start, res, failed)
		}
	}
	return acc.images
}

// explainEach explains k images of inputs from start in one call and, if that fails, one at a
// time, each retried once, so that one image's failure is that image's alone: out[i] is image
// i's explanation, or failed[i] its error. classes gives each image's class (-1: the top-1).
func explainEach(e *gradcam.Explainer, model string, inputs []float32, start, k, size int, chw []int, req gradcam.Request,
	classes func(i int) int) (out []*gradcam.Explanation, failed []error) {
	call := func(from, count int) (res gradcam.Results, err error) {
		r := req
		r.Classes = nil
		r.ImageClasses = make([]int, count)
		for i := range count {
			r.ImageClasses[i] = classes(from - start + i)
		}
		x := tensors.FromFlatDataAndDimensions(inputs[from*size:(from+count)*size], count, chw[0], chw[1], chw[2])
		err = catch.Panic(func() error {
			var err error
			res, err = e.Explain(x, r)
			if err == nil {
				for i := range count {
					if err = faults.Explain(model, from+i); err != nil {
						break
					}
				}
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("explaining image %d: %w", from, err)
		}
		return res, nil
	}
	out, failed = make([]*gradcam.Explanation, k), make([]error, k)
	res, err := call(start, k)
	if err == nil {
		for i := range k {
			out[i] = res.At(i, 0)
		}
		return out, failed
	}
	for i := range k {
		var one gradcam.Results
		if k > 1 { // alone: the batch's error may be another image's
			one, err = call(start+i, 1)
		}
		if err != nil { // the retry
			one, err = call(start+i, 1)
		}
		if err != nil {
			failed[i] = err
			continue
		}
		out[i] = one.At(0, 0)
	}
	return out, failed
}

func percent(b bool) float64 {
	if b {
		return 100
	}
	return 0
}

func truncate(s []string) []string {
	if len(s) > 5 {
		return append(slices.Clone(s[:5]), "...")
	}
	return s
}

// accumulator collects the per-image values of one call of Measure.
type accumulator struct {
	metrics []Metric
	methods []string // the methods measured, in order
	topK    int      // TopKIntersection's k
	model   string
	req     gradcam.Request // the explanations' options (the metrics that explain again reuse them)
	images  []ImageValue
}

func (a *accumulator) add(method string, mt Metric, image int, v float64) {
	a.images = append(a.images, ImageValue{Model: a.model, Method: method, Metric: mt, Image: image, Class: -1, Value: v})
}

// fail records that a metric of a method could not be measured on an image, and why.
func (a *accumulator) fail(method string, mt Metric, image int, err error) {
	a.images = append(a.images, ImageValue{Model: a.model, Method: method, Metric: mt, Image: image, Class: -1, Value: math.NaN(),
		Failure: strings.Join(strings.Fields(err.Error()), " ")})
}

// measure adds one image's map to every metric asked; a metric that fails is recorded as failed
// for this image, and the others are still measured.
func (a *accumulator) measure(ev *Evaluator, method string, img *tensors.Tensor, hm Heatmap, ex *gradcam.Explanation, idx int, wrong bool,
	set *data.Set, threshold, tolerance float64, truth []*gradcam.Explanation, truthErr error, i int) {
	for _, mt := range a.metrics {
		err := a.measureOne(ev, mt, method, img, hm, ex, idx, wrong, set, threshold, tolerance, truth, truthErr, i)
		if err == nil {
			continue
		}
		group := []Metric{mt}
		switch {
		case slices.Contains(confidenceGroup, mt):
			group = confidenceGroup
		case slices.Contains(roadGroup, mt):
			group = roadGroup
		}
		if !a.firstOf(mt, group) {
			continue
		}
		for _, m := range a.metrics {
			if slices.Contains(group, m) {
				a.fail(method, m, idx, err)
			}
		}
	}
}

// The groups of metrics one measurement serves: one forward of the image times the map for the
// confidence metrics, one ROAD run for its three numbers.
var (
	confidenceGroup = []Metric{AverageDrop, IncreaseInConfidence, DropInConfidence}
	roadGroup       = []Metric{ROADMoRF, ROADLeRF, ROADCombined}
)

// firstOf says whether mt is the first asked of group (the metrics one measurement serves): the
// group is measured there, once.
func (a *accumulator) firstOf(mt Metric, group []Metric) bool {
	return a.metrics[slices.IndexFunc(a.metrics, func(m Metric) bool { return slices.Contains(group, m) })] == mt
}

// measureOne measures one metric of one image's map (the first asked of the confidence and ROAD
// groups measures the group).
func (a *accumulator) measureOne(ev *Evaluator, mt Metric, method string, img *tensors.Tensor, hm Heatmap, ex *gradcam.Explanation, idx int,
	wrong bool, set *data.Set, threshold, tolerance float64, truth []*gradcam.Explanation, truthErr error, i int) error {
	class := ex.Class
	if failMetricForTest != nil {
		if err := failMetricForTest(idx, method, mt); err != nil {
			return err
		}
	}
	switch mt {
	case RelevanceMassAccuracy, RelevanceRankAccuracy, AttributionLocalisation, TopKIntersection, AUC:
		of := map[Metric]func(Heatmap, []bool) (float64, error){RelevanceMassAccuracy: RelevanceMassAccuracyOf,
			RelevanceRankAccuracy: RelevanceRankAccuracyOf, AttributionLocalisation: AttributionLocalisationOf, AUC: AUCOf,
			TopKIntersection: func(hm Heatmap, mask []bool) (float64, error) { return TopKIntersectionOf(hm, mask, a.topK) }}[mt]
		v, err := of(hm, BoxMask(hm.H, hm.W, set.BoxesOf(idx)...))
		if err != nil {
			return err
		}
		a.add(method, mt, idx, v)
	case Sparseness, Complexity, EffectiveComplexity:
		of := map[Metric]func(Heatmap) (float64, error){Sparseness: SparsenessOf, Complexity: ComplexityOf,
			EffectiveComplexity: func(hm Heatmap) (float64, error) { return EffectiveComplexityOf(hm, DefaultEffectiveComplexityEps) }}[mt]
		v, err := of(hm)
		if err != nil {
			return err
		}
		a.add(method, mt, idx, v)
	case FaithfulnessCorrelation, FaithfulnessEstimate, Monotonicity, MonotonicityCorrelation, PixelFlipping,
		RegionPerturbation, IROF, Infidelity, Completeness, NonSensitivity:
		v, err := ev.perturbation(mt, img, hm, class, ev.drawsFor(mt, a.stream(idx, method)))
		if err != nil {
			return err
		}
		a.add(method, mt, idx, v)
	case Sufficiency: // over the batch (accumulator.sufficiency)
	case MaxSensitivity, AvgSensitivity, LocalLipschitz, Continuity, RandomLogit, MPRT, InputInvariance:
		req := a.req
		req.Methods = []gradcam.Method{gradcam.Method(method)}
		v, err := ev.explanationMetric(mt, img, hm, class, req, ev.drawsFor(mt, a.stream(idx, method)))
		if err != nil {
			return err
		}
		a.add(method, mt, idx, v)
	case LocalizationError:
		box, err := LocalizationBox(hm, threshold)
		if err != nil {
			return err
		}
		best := 0.0 // several ground-truth boxes (a boxes file): the best overlap counts, as in ILSVRC
		for _, b := range set.BoxesOf(idx) {
			best = max(best, box.IoU(b))
		}
		a.add(method, mt, idx, percent(wrong || best < LocalizationIoU))
	case PointingGameAccuracy:
		if truthErr != nil {
			return truthErr
		}
		thm, err := HeatmapOf(truth[i].Maps[gradcam.Method(method)])
		if err != nil {
			return err
		}
		hit := false
		for _, b := range set.BoxesOf(idx) { // a hit on any of the class's boxes
			h, err := PointingGame(thm, b, tolerance)
			if err != nil {
				return err
			}
			hit = hit || h
		}
		a.images = append(a.images, ImageValue{Model: a.model, Method: method, Metric: mt, Image: idx, Class: int(set.Labels[idx]), Value: percent(hit)})
	case DeletionAUC, InsertionAUC:
		run := ev.Deletion
		if mt == InsertionAUC {
			run = ev.Insertion
		}
		c, err := run(img, hm, class)
		if err != nil {
			return err
		}
		a.add(method, mt, idx, c.AUC())
		curve := make([]float64, len(c.Scores))
		for i, s := range c.Scores {
			curve[i] = float64(s)
		}
		a.images[len(a.images)-1].Curve = curve
	case AverageDrop, IncreaseInConfidence, DropInConfidence:
		if !a.firstOf(mt, confidenceGroup) { // one forward serves the three
			return nil
		}
		cc, err := ev.Confidence(img, hm, class)
		if err != nil {
			return err
		}
		for _, m := range a.metrics {
			switch m {
			case AverageDrop:
				a.add(method, m, idx, 100*cc.RelativeDrop())
			case IncreaseInConfidence:
				a.add(method, m, idx, percent(cc.Increased()))
			case DropInConfidence:
				a.add(method, m, idx, cc.Drop())
			}
		}
	case OcclusionCorrelation:
		if method == string(gradcam.Occlusion) {
			return nil // the reference itself
		}
		occ, err := HeatmapOf(ex.Maps[gradcam.Occlusion])
		if err != nil {
			return err
		}
		r, err := Spearman(hm.Values, occ.Values)
		if err != nil {
			return err
		}
		a.add(method, mt, idx, r)
	case ROADMoRF, ROADLeRF, ROADCombined:
		if !a.firstOf(mt, roadGroup) {
			return nil
		}
		// A constant map (an all-zero CAM) is measured too: ROAD then removes pixels in a
		// seeded random order (Evaluator.ROAD), the baseline a map that ranks nothing earns.
		// The draws' stream is the image's and the method's: the same whatever was measured
		// before (an interrupted and resumed run, several workers).
		r, err := ev.road(img, hm, class, a.stream(idx, method))
		if err != nil {
			return err
		}
		for _, m := range a.metrics {
			switch m {
			case ROADMoRF:
				a.add(method, m, idx, r.MoRFMean())
			case ROADLeRF:
				a.add(method, m, idx, r.LeRFMean())
			case ROADCombined:
				a.add(method, m, idx, r.Combined())
			}
		}
	case ClassificationError: // per model (Run.Measure)
	default:
		return fmt.Errorf("%s has no measurement of a map", mt) // a metric of All left out here
	}
	return nil
}

// stream numbers the random draws of an image's method (ROAD's noise, the perturbation metrics'
// draws) by image and method instead of by call, so that an image's values do not depend on which
// images were measured before it, or where (a resumed run, several workers).
func (a *accumulator) stream(idx int, method string) uint64 {
	return roadStreams + uint64(idx)*uint64(len(a.methods)+1) + uint64(slices.Index(a.methods, method)+1)
}

// roadStreams is where Evaluate's ROAD streams start: far above the call counts of Evaluator.ROAD.
const roadStreams = 1 << 62

// failMetricForTest, when set by a test, makes the measurements it returns an error for fail.
var failMetricForTest func(image int, method string, mt Metric) error
