package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// TestEvaluateCommand runs evaluate on the demo GAP network and checks its files.
func TestEvaluateCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "4", "--method", "cam,gradcam",
		"--metric", "classification-error,localization-error,pointing-game,deletion-auc", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, f := range []string{"metrics.csv", "metrics.md", "per-image.csv", "deletion_fashion-gap.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "model,method,metric,value\n") || strings.Count(string(b), "\n") != 1+1+2*3 {
		t.Errorf("metrics.csv:\n%s", b)
	}
	if !strings.Contains(out.String(), "| fashion-gap | cam |") || !strings.Contains(errOut.String(), "evaluating fashion-gap") {
		t.Errorf("stdout %q, stderr %q: want the table and a progress bar", out.String(), errOut.String())
	}
}

// TestEvaluateQuantusFamilies: Quantus's localisation and complexity metrics and sufficiency are
// asked by name on the command line, with --top-k, and a negative --top-k is a usage error.
func TestEvaluateQuantusFamilies(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	quantus := "relevance-mass-accuracy,relevance-rank-accuracy,attribution-localisation,top-k-intersection,auc,sparseness,complexity,effective-complexity,sufficiency"
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "3", "--method", "gradcam,saliency",
		"--metric", quantus, "--top-k", "50", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range strings.Split(quantus, ",") {
		if n := strings.Count(string(b), ","+mt+","); n != 2 {
			t.Errorf("metrics.csv has %d rows of %s, want 2 (one per method):\n%s", n, mt, b)
		}
	}
	err = run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--metric", "auc", "--top-k", "-1", "--out", dir}, &out, &errOut)
	var ue usageError
	if err == nil || !asUsage(err, &ue) || !strings.Contains(err.Error(), "--top-k -1") {
		t.Errorf("--top-k -1: %v, want a usage error naming it", err)
	}
}

// TestEvaluateModelMetrics: Quantus's metrics that run the model (faithfulness, axiomatic) or
// explain again (robustness, randomisation, input invariance) are asked by name, and the pipeline
// (two workers, batches of 2) gives the same per-image values as metrics.Evaluate in this process
// (batches of 16): the random metrics draw by image and method, not by call.
func TestEvaluateModelMetrics(t *testing.T) {
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.Saliency}
	var names []string
	for _, m := range metrics.All() {
		if slices.Contains(strings.Split("faithfulness-correlation,faithfulness-estimate,monotonicity,monotonicity-correlation,"+
			"pixel-flipping,region-perturbation,irof,infidelity,completeness,non-sensitivity,max-sensitivity,avg-sensitivity,local-lipschitz,"+
			"continuity,random-logit,mprt,input-invariance", ","), string(m)) {
			names = append(names, string(m))
		}
	}
	if len(names) != 17 {
		t.Fatalf("metrics.All has %d of the 17 metrics: %v", len(names), names)
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "4", "--method", "gradcam,saliency",
		"--metric", strings.Join(names, ","), "--batch", "2", "--workers", "2", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	m, err := fashion.Load("fashion-gap")
	if err != nil {
		t.Fatal(err)
	}
	set, err := fashion.TestSet(4)
	if err != nil {
		t.Fatal(err)
	}
	var mets []metrics.Metric
	for _, n := range names {
		mets = append(mets, metrics.Metric(n))
	}
	rep, err := metrics.Evaluate(metrics.NewEvaluator(gradcam.New(m)), set, metrics.Options{Methods: methods, Metrics: mets})
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := metrics.WritePerImageCSV(&want, rep.PerImage); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "per-image.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the pipeline's per-image.csv differs from the in-process evaluation's:\n%s\nin process:\n%s", got, want.Bytes())
	}
	if n := strings.Count(want.String(), "\n"); n != 1+4*2*17 {
		t.Errorf("per-image.csv has %d lines, want %d", n, 1+4*2*17)
	}
	if strings.Contains(want.String(), "NaN") {
		t.Errorf("a value failed:\n%s", want.Bytes())
	}
}

// TestEvaluateImageFolder evaluates a folder of images without labels or boxes: the metrics that
// need no ground truth are measured.
func TestEvaluateImageFolder(t *testing.T) {
	images, dir := t.TempDir(), t.TempDir()
	for _, name := range []string{"cat_dog.png", "snake.png"} {
		b, err := os.ReadFile(testref.Image(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"evaluate", "--model", "fashion-gap", "--data", images, "--method", "gradcam,saliency", "--out", dir}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	per := readPerImage(t, dir)
	got := map[metrics.Metric]int{}
	for _, v := range per {
		got[v.Metric]++
	}
	for _, mt := range []metrics.Metric{metrics.DeletionAUC, metrics.InsertionAUC, metrics.AverageDrop, metrics.ROADCombined} {
		if got[mt] != 2*2 {
			t.Errorf("%s: %d values, want one per image and method (4)", mt, got[mt])
		}
	}
	if got[metrics.ClassificationError]+got[metrics.LocalizationError] != 0 {
		t.Errorf("metrics that need labels measured on a folder without them: %v", got)
	}
}

// TestEvaluateBadInput checks one-line errors for bad flags and data.
func TestEvaluateBadInput(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown metric", []string{"--model", "fashion-gap", "--data", clutteredData, "--metric", "iou", "--out", t.TempDir()}, `unknown metric "iou"`},
		{"empty folder", []string{"--model", "fashion-gap", "--data", empty, "--out", t.TempDir()}, "no PNG or JPEG images"},
		{"missing folder", []string{"--model", "fashion-gap", "--data", filepath.Join(empty, "nope"), "--out", t.TempDir()}, "not a folder"},
		{"unknown model", []string{"--model", "fashion-xl", "--data", clutteredData, "--out", t.TempDir()}, "fashion-gap, fashion-fc"},
		{"cluttered set on an ImageNet model", []string{"--model", "mobilenet_v2", "--weights",
			filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth"), "--data", clutteredData, "--out", t.TempDir()}, "64x64 gray images"},
		{"no --out", []string{"--model", "fashion-gap", "--data", clutteredData}, "--out are required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(append([]string{"evaluate"}, c.args...), &out, &errOut)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.Contains(first, c.want) {
				t.Errorf("the error's first line %q does not say %q", first, c.want)
			}
		})
	}
}

// table1 is the committed miniature Table 1 (docs/table1/make.sh writes it).
var table1 = filepath.Join("..", "..", "docs", "table1")

// tableArgs reads the evaluate arguments of a table from docs/table1/make.sh (the variable
// name="..."), with ../shared read as the shared folder.
func tableArgs(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(table1, "make.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf(`make.sh has no %s="..." line`, name)
	}
	args := strings.Fields(string(m[1]))
	for i, a := range args {
		if rest, ok := strings.CutPrefix(a, "../shared/"); ok {
			args[i] = filepath.Join(testref.Shared(), rest)
		}
	}
	return args
}

// readTable reads a table's metrics.csv and per-image.csv.
func readTable(t *testing.T, dir string) ([]metrics.Row, []metrics.ImageValue) {
	t.Helper()
	rows := readMetrics(t, dir)
	g, err := os.Open(filepath.Join(dir, "per-image.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	per, err := metrics.ReadPerImageCSV(g)
	if err != nil {
		t.Fatal(err)
	}
	return rows, per
}

// TestTable1IsReproduced checks the committed tables against the checkpoints they were made
// with: each metrics.csv must be the aggregate of its per-image.csv, and the per-image values of
// the first images must come out again from evaluate with make.sh's arguments (on the ImageNet
// table, whose deletion and insertion curves take a minute an image here, the confidence metrics).
func TestTable1IsReproduced(t *testing.T) {
	for _, tc := range []struct {
		dir, args string
		first     int
		metrics   string // recomputed; empty: all of the table's
	}{
		{table1, "args", 12, ""},
		{filepath.Join(table1, "imagenet"), "imagenet_args", 2, "average-drop,increase-in-confidence"},
		{filepath.Join(table1, "quantus"), "quantus_args", 2,
			"relevance-mass-accuracy,sparseness,faithfulness-estimate,region-perturbation,max-sensitivity,mprt,input-invariance"},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			rows, per := readTable(t, tc.dir)
			agg := metrics.Aggregate(per)
			if len(agg) != len(rows) || len(rows) == 0 {
				t.Fatalf("metrics.csv has %d rows, the aggregate of per-image.csv %d", len(rows), len(agg))
			}
			for i, r := range rows {
				a := agg[i]
				if r.Model != a.Model || r.Method != a.Method || r.Metric != a.Metric || math.Abs(r.Value-a.Value) > 1e-6*math.Max(1, math.Abs(a.Value)) {
					t.Errorf("metrics.csv row %d %+v is not the aggregate of per-image.csv %+v", i, r, a)
				}
			}

			dir := t.TempDir()
			args := append([]string{"evaluate"}, tableArgs(t, tc.args)...)
			args = append(args, "--limit", fmt.Sprint(tc.first), "--out", dir)
			if tc.metrics != "" {
				args = append(args, "--metric", tc.metrics) // the last --metric counts
			}
			var out, errOut bytes.Buffer
			if err := run(args, &out, &errOut); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			_, again := readTable(t, dir)
			type key struct {
				model, method string
				metric        metrics.Metric
				image         int
			}
			committed := map[key]float64{}
			for _, v := range per {
				committed[key{v.Model, v.Method, v.Metric, v.Image}] = v.Value
			}
			flips := map[string]int{}
			for _, v := range again {
				k := key{v.Model, v.Method, v.Metric, v.Image}
				want, ok := committed[k]
				if !ok {
					t.Fatalf("%+v: not in the committed per-image.csv", k)
				}
				switch v.Metric {
				case metrics.ClassificationError, metrics.LocalizationError, metrics.PointingGameAccuracy, metrics.IncreaseInConfidence:
					// Counts: a map within rounding of a threshold may flip one image on another CPU.
					if v.Value != want {
						flips[fmt.Sprint(v.Model, v.Method, v.Metric)]++
					}
				case metrics.DeletionAUC, metrics.InsertionAUC, metrics.ROADMoRF, metrics.ROADLeRF, metrics.ROADCombined,
					metrics.FaithfulnessEstimate, metrics.RegionPerturbation:
					// Pixels ranked by the map: near-tied pixels swap places when the map's last
					// bits change (another convolution's order of additions, another CPU), which
					// moves the curve by up to a few 1e-4 (measured: 6.5e-4 on one of 12 images
					// after issue 11's convolution executor).
					if math.Abs(v.Value-want) > 2e-3 {
						t.Errorf("%+v: %g, committed %g", k, v.Value, want)
					}
				default:
					if math.Abs(v.Value-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Errorf("%+v: %g, committed %g", k, v.Value, want)
					}
				}
			}
			for k, n := range flips {
				if n > 1 {
					t.Errorf("%s: %d of the first %d images differ from the committed table", k, n, tc.first)
				}
			}
			if len(again) == 0 {
				t.Fatal("no per-image values recomputed")
			}
		})
	}
}

// TestEvaluateCompletesOnTiedMaps runs the command of issue 27 on 500 held-out items: CAM maps
// after their ReLU tie over much of the image, which used to abort ROAD at image 0. Every metric
// is finite and nothing failed.
func TestEvaluateCompletesOnTiedMaps(t *testing.T) {
	if testing.Short() {
		t.Skip("500 items take about three minutes")
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "500", "--method", "cam,gradcam",
		"--metric", "localization-error,pointing-game,deletion-auc,insertion-auc,average-drop,road-combined", "--strict", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	per := readPerImage(t, dir)
	counts := map[string]int{}
	for _, v := range per {
		if v.Failure != "" || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			t.Fatalf("image %d, %s %s: value %g, failure %q", v.Image, v.Method, v.Metric, v.Value, v.Failure)
		}
		counts[v.Method+" "+string(v.Metric)]++
	}
	if len(counts) != 2*6 {
		t.Errorf("%d (method, metric) pairs measured, want 12: %v", len(counts), counts)
	}
	for k, n := range counts {
		if n != 500 {
			t.Errorf("%s: %d images measured, want 500", k, n)
		}
	}
	if strings.Contains(out.String(), "Failed") || strings.Contains(errOut.String(), "Failed") {
		t.Errorf("failures reported:\n%s\n%s", out.String(), errOut.String())
	}
}

// TestEvaluateBoxesOnPhotos is Table 1's protocol on real photos: the real SqueezeNet on
// ../shared/images with the boxes annotated in docs/boxes, localization error, the pointing game
// and the paper's faithfulness measure (rank correlation with occlusion) for guided backprop,
// Grad-CAM and Guided Grad-CAM. Measured: localization error 62.5 / 100 / 100%, pointing game
// 100 / 75 / 100%, occlusion correlation 0.61 / 0.56 / 0.62 (the paper, VGG-16 on PASCAL: guided
// backprop 0.17, Guided Grad-CAM 0.26). Asserted: 8 examples (one per image and class), every
// value finite, and Grad-CAM's pointing game at least 75%.
func TestEvaluateBoxesOnPhotos(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "squeezenet1_0", "--weights", filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth"),
		"--data", filepath.Join(testref.Shared(), "images"), "--boxes", filepath.Join(testref.Root(), "docs", "boxes", "shared-images.csv"),
		"--method", "gradcam,guided-backprop,guided-gradcam", "--metric", "localization-error,pointing-game,occlusion-correlation", "--strict",
		"--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	rows := readMetrics(t, dir)
	got := map[string]float64{}
	for _, r := range rows {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			t.Errorf("%s %s = %g", r.Method, r.Metric, r.Value)
		}
		got[r.Method+" "+string(r.Metric)] = r.Value
	}
	if len(got) != 9 {
		t.Errorf("%d values, want 9 (3 methods x 3 metrics): %v", len(got), got)
	}
	if v := got["gradcam pointing-game"]; v < 75 {
		t.Errorf("Grad-CAM's pointing game on the annotated photos: %.1f%%, want >= 75%%", v)
	}
	for _, m := range []string{"gradcam", "guided-backprop", "guided-gradcam"} {
		if r := got[m+" occlusion-correlation"]; !(r > -1 && r < 1) || r == 0 {
			t.Errorf("%s occlusion correlation %g", m, r)
		}
	}
	per, err := os.ReadFile(filepath.Join(dir, "per-image.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(per), ",gradcam,localization-error,"); n != 8 {
		t.Errorf("%d examples measured, want 8 (the 9 rows of shared-images.csv, two horses in one example)", n)
	}

	// The boxes file's errors name the row; --boxes goes with a folder only.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("cat_dog.png,243,78,13,165,150\nmissing.png,1,0,0,5,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", filepath.Join(testref.Shared(), "images"), "--boxes", bad}, "boxes file line 2: image missing.png is not in"},
		{[]string{"--data", clutteredData, "--boxes", bad}, "--boxes goes with an image folder"},
		{[]string{"--data", filepath.Join(testref.Shared(), "images"), "--boxes", bad + ".none"}, "--boxes: open"},
	} {
		err := run(append([]string{"evaluate", "--model", "squeezenet1_0", "--weights", filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth"),
			"--method", "gradcam", "--out", t.TempDir()}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}

// readPerImage reads an evaluation's per-image.csv.
func readPerImage(t *testing.T, dir string) []metrics.ImageValue {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "per-image.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	per, err := metrics.ReadPerImageCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return per
}

// readMetrics reads an evaluation's metrics.csv.
func readMetrics(t *testing.T, dir string) []metrics.Row {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := metrics.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestEvaluateNewMethods: the LRP, DeepLift, sampler and excitation methods are measured by
// gradcam evaluate like every other method.
func TestEvaluateNewMethods(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	methods := "lrp-epsilon-plus,deeplift-shap,kernel-shap,lime,excitation-backprop,rise"
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "3", "--method", methods,
		"--samples", "40", "--superpixels", "20", "--metric", "pointing-game,deletion-auc", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range strings.Split(methods, ",") {
		if n := strings.Count(string(b), ","+m+","); n != 2 {
			t.Errorf("metrics.csv has %d rows of %s, want 2:\n%s", n, m, b)
		}
	}
}
