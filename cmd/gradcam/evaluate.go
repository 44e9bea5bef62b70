package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/schollz/progressbar/v3"

	"github.com/gradcam-go/gradcam/catalog"
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/gradcam/render"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/preprocess"
	"github.com/gradcam-go/gradcam/pretrained/embedded"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// clutteredData is --data's name for the demo networks' held-out set.
const clutteredData = "cluttered-fashion-mnist"

// evaluate measures explanation methods over a dataset and writes metrics.csv, metrics.md,
// per-image.csv (the values metrics.csv averages) and the deletion and insertion curves.
func evaluate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelList := fs.String("model", "", "models, comma-separated: torchvision names ("+strings.Join(zoo.Names(), ", ")+
		") or the demo networks "+strings.Join(fashion.Names(), ", ")+"; default: $GRADCAM_MODEL, else "+embedded.DefaultModel)
	weights := fs.String("weights", "", "checkpoint for a single --model (.pth or .safetensors)")
	onnx := fs.String("onnx", "", "an ONNX model instead of --model")
	dataDir := fs.String("data", "", "images to evaluate on: a folder (of images, or of class folders named like the model's labels), "+
		"or "+clutteredData+" (the demo networks' held-out set, with boxes)")
	limit := fs.Int("limit", 0, "evaluate the first N images only (0: all; "+clutteredData+" has 10,000)")
	methodList := fs.String("method", "gradcam", "comma-separated methods: "+methodNames())
	metricList := fs.String("metric", "", "comma-separated metrics ("+metricNames()+", or all); default: all the data allows but occlusion-correlation and "+
		"Quantus's localisation and complexity families (relevance-mass-accuracy ... effective-complexity), which are asked by name")
	out := fs.String("out", "", "output directory for metrics.csv, metrics.md and the curves (PNG)")
	layer := fs.String("layer", "", "layer the CAM methods explain; default: the model's")
	batch := fs.Int("batch", 16, "images per explanation batch")
	topK := fs.Int("top-k", 0, "top-k-intersection: the map's k highest pixels; 0: Quantus's 1000 at 224x224, scaled to the images' area")
	tolerance := fs.Float64("pointing-tolerance", 0, "pointing game: tolerance, pixels; 0: 15 px at 224x224, scaled to the images (4.3 at 64x64)")
	crop := fs.Bool("crop", false, "resize the shorter side to 256 and center-crop 224 instead of stretching (image folders)")
	boxes := fs.String("boxes", "", "ground-truth boxes for an image folder: a CSV of "+data.BoxesHeader+
		" in the original images' pixels (x1, y1 exclusive), class an output index or label; enables localization-error and pointing-game")
	var mflags methodFlags
	mflags.register(fs)
	strict := fs.Bool("strict", false, "exit non-zero when any measurement failed; by default a failed (image, method, metric) "+
		"is recorded in per-image.csv and metrics.md and the run goes on")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *dataDir == "" || *out == "" {
		return usageError{errors.New("--data and --out are required")}
	}
	if *topK < 0 {
		return usageError{fmt.Errorf("--top-k %d: give a number of pixels >= 1 (or 0 for the default)", *topK)}
	}
	if err := mflags.check(); err != nil {
		return err
	}
	if *limit < 0 || *batch < 1 {
		return usageError{fmt.Errorf("--limit must be >= 0 and --batch >= 1 (got %d and %d)", *limit, *batch)}
	}
	methods, err := gradcam.ParseMethods(*methodList)
	if err != nil {
		return usageError{err}
	}
	var mets []metrics.Metric
	if *metricList != "" {
		if mets, err = metrics.ParseMetrics(*metricList); err != nil {
			return usageError{err}
		}
	}
	names := splitList(*modelList)
	if (*weights != "" || *onnx != "") && len(names) > 1 {
		return usageError{errors.New("--weights and --onnx go with a single model")}
	}
	if *onnx != "" && len(names) > 0 {
		return usageError{errors.New("--onnx is a whole model: give it without --model")}
	}
	if len(names) == 0 {
		names = []string{""}
	}
	if *boxes != "" && *dataDir == clutteredData {
		return usageError{fmt.Errorf("--boxes goes with an image folder; %s has its own boxes", clutteredData)}
	}
	var boxRows []data.BoxRow
	if *boxes != "" {
		f, err := os.Open(*boxes)
		if err != nil {
			return fmt.Errorf("--boxes: %w", err)
		}
		boxRows, err = data.ReadBoxes(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--boxes %s: %w", *boxes, err)
		}
	}
	if *dataDir != clutteredData {
		if st, err := os.Stat(*dataDir); err != nil || !st.IsDir() {
			return fmt.Errorf("--data %s: not a folder (or %s): %v", *dataDir, clutteredData, errOrNotDir(err))
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	var rows []metrics.Row
	var perImage []metrics.ImageValue
	for _, name := range names {
		m, err := loadEvaluated(name, *weights, *onnx, stderr)
		if err != nil {
			return err
		}
		set, err := evaluationSet(m, *dataDir, *limit, *crop, boxRows)
		if err != nil {
			return err
		}
		var use []gradcam.Method
		for _, meth := range methods {
			if meth == gradcam.CAM {
				if err := m.CheckCAM(); err != nil {
					fmt.Fprintf(stderr, "%s: skipping cam: %v\n", m.Name, err)
					continue
				}
			}
			use = append(use, meth)
		}
		opts := metrics.Options{Methods: use, Metrics: mets, BatchSize: *batch, PointingTolerance: *tolerance, TopK: *topK,
			Request: mflags.request(m.Input, evaluationTransform(m, *dataDir, *crop))}
		if *layer != "" {
			opts.Request.Layers = splitList(*layer)
		}
		bar := progressbar.NewOptions(set.Len(), progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
			progressbar.OptionSetDescription("evaluating "+m.Name), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(0))
		opts.Progress = func(done, total int) { _ = bar.Set(done) }
		rep, err := metrics.Evaluate(metrics.NewEvaluator(gradcam.New(m)), set, opts)
		fmt.Fprintln(stderr)
		if err != nil {
			return err
		}
		rows = append(rows, rep.Rows...)
		perImage = append(perImage, rep.PerImage...)
		for _, c := range []struct {
			name   string
			curves map[gradcam.Method][]float64
		}{{"deletion", rep.Deletion}, {"insertion", rep.Insertion}} {
			if err := writeCurves(filepath.Join(*out, c.name+"_"+m.Name+".png"), c.name, m.Name, set.Len(), use, c.curves); err != nil {
				return err
			}
		}
	}
	var csv, md, per bytes.Buffer
	if err := metrics.WriteCSV(&csv, rows); err != nil {
		return err
	}
	if err := metrics.WritePerImageCSV(&per, perImage); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*out, "per-image.csv"), per.Bytes()); err != nil {
		return err
	}
	if err := metrics.Markdown(&md, rows); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*out, "metrics.csv"), csv.Bytes()); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*out, "metrics.md"), md.Bytes()); err != nil {
		return err
	}
	if _, err := stdout.Write(md.Bytes()); err != nil {
		return err
	}
	if f := metrics.Failures(rows); f != "" {
		fmt.Fprintln(stderr, "evaluate: "+f)
		if *strict {
			return fmt.Errorf("evaluate --strict: some measurements failed (see %s)", filepath.Join(*out, "per-image.csv"))
		}
	}
	return nil
}

func errOrNotDir(err error) error {
	if err != nil {
		return err
	}
	return errors.New("it is a file")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func metricNames() string {
	names := make([]string, len(metrics.All()))
	for i, m := range metrics.All() {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// loadEvaluated loads a demo network, an ONNX file, a checkpoint or a torchvision model, as every
// command does (package catalog); a reference that names no model is a usage error.
func loadEvaluated(name, weights, onnx string, log io.Writer) (*models.Model, error) {
	r := catalog.Ref{Name: name, Weights: weights, ONNX: onnx}
	if err := checkRef(r); err != nil {
		return nil, err
	}
	return loadModel(r, log)
}

// evaluationSet reads --data for the model (with the boxes file's rows, if any).
// evaluationTransform is the transform that made the evaluated images (none for the demo
// networks' held-out set, whose pixels are in [0, 1]).
func evaluationTransform(m *models.Model, dir string, crop bool) preprocess.Transform {
	if dir == clutteredData {
		return preprocess.Transform{}
	}
	mode := preprocess.Stretch
	if crop {
		mode = preprocess.CenterCrop
	}
	t, _ := m.Transform(mode) // evaluationSet reports its error
	return t
}

func evaluationSet(m *models.Model, dir string, limit int, crop bool, boxes []data.BoxRow) (*data.Set, error) {
	if dir == clutteredData {
		if !slices.Equal(m.Input, []int{1, fashion.Canvas, fashion.Canvas}) {
			return nil, fmt.Errorf("%s is %dx%d gray images; %s takes inputs of shape %v (use an image folder)",
				clutteredData, fashion.Canvas, fashion.Canvas, m.Name, m.Input)
		}
		return fashion.TestSet(limit)
	}
	mode := preprocess.Stretch
	if crop {
		mode = preprocess.CenterCrop
	}
	t, err := m.Transform(mode)
	if err != nil {
		return nil, err
	}
	if boxes != nil {
		set, err := data.BoxedImages(dir, boxes, t, m.ClassIndex)
		if err != nil {
			return nil, err
		}
		return set.Head(limit), nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var set *data.Set
	if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.IsDir() && !strings.HasPrefix(e.Name(), ".") }) {
		if set, err = data.ImageFolder(dir, t); err != nil {
			return nil, err
		}
		if !slices.Equal(set.Classes, m.Labels) {
			// Class folders that are not the model's labels cannot say whether it is right.
			set.Labels, set.Classes = nil, nil
		}
	} else {
		var files []string
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".png", ".jpg", ".jpeg":
				if !strings.HasPrefix(e.Name(), ".") {
					files = append(files, filepath.Join(dir, e.Name()))
				}
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("--data %s: no PNG or JPEG images in the folder", dir)
		}
		x, _, err := t.Preprocess(files...)
		if err != nil {
			return nil, err
		}
		dims := x.Shape().Dimensions
		set = &data.Set{Name: filepath.Base(dir), Shape: dims[1:], Inputs: tensors.MustCopyFlatData[float32](x)}
	}
	if limit > 0 && limit < set.Len() {
		set = set.Head(limit)
	}
	return set, nil
}

// writeCurves draws the mean deletion or insertion curve of each method.
func writeCurves(path, kind, model string, images int, methods []gradcam.Method, curves map[gradcam.Method][]float64) error {
	var series []render.Series
	for _, m := range methods {
		if c := curves[m]; c != nil {
			series = append(series, render.Series{Name: string(m), Y: c})
		}
	}
	if len(series) == 0 {
		return nil
	}
	img, err := render.LinePlot(fmt.Sprintf("%s: mean %s curve over %d images", model, kind, images),
		"fraction of pixels "+map[string]string{"deletion": "deleted", "insertion": "inserted"}[kind], "probability", series, 480, 320)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return atomicfile.Write(path, b.Bytes())
}
