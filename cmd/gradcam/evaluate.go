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

	"github.com/gradcam-go/gradcam/catalog"
	"github.com/gradcam-go/gradcam/data"
	"github.com/gradcam-go/gradcam/environ"
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
// per-image.csv (the values metrics.csv averages) and the deletion and insertion curves. It runs
// as an Apache Beam pipeline (pipeline.go): locally on Beam's prism runner by default.
func evaluate(args []string, stdout, stderr io.Writer) error {
	e, x, err := parseEvaluation(args, stderr, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(x.out, 0o755); err != nil {
		return err
	}
	if e, err = x.claim(e); err != nil {
		return err
	}
	if err := runPipeline(e, x, stderr); err != nil {
		return err
	}
	md, err := os.ReadFile(filepath.Join(x.out, "metrics.md"))
	if err != nil {
		return fmt.Errorf("evaluate: the pipeline wrote no metrics.md: %w", err)
	}
	if _, err := stdout.Write(md); err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(x.out, "per-image.csv"))
	if err != nil {
		return fmt.Errorf("evaluate: the pipeline wrote no per-image.csv: %w", err)
	}
	values, err := metrics.ReadPerImageCSV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	rows := metrics.Aggregate(values)
	if !slices.ContainsFunc(rows, func(r metrics.Row) bool { return r.N > 0 }) {
		return fmt.Errorf("evaluate: nothing could be measured: every measurement failed (the reasons are in %s)",
			filepath.Join(x.out, "per-image.csv"))
	}
	if f := metrics.Failures(rows); f != "" {
		fmt.Fprintln(stderr, "evaluate: "+f)
		if x.strict {
			return fmt.Errorf("evaluate --strict: some measurements failed (see %s)", filepath.Join(x.out, "per-image.csv"))
		}
	}
	return nil
}

// evaluation is what a run of gradcam evaluate measures: its models, data, methods, metrics and
// options, parsed from args (the flags that were given, in a canonical order: run.json).
type evaluation struct {
	args                          []string
	names                         []string
	weights, onnx, dataDir, layer string
	limit, batch, topK            int
	tolerance                     float64
	crop                          bool
	methods                       []gradcam.Method
	metrics                       []metrics.Metric
	boxRows                       []data.BoxRow
	mflags                        methodFlags
}

// execution is how a run of gradcam evaluate runs: where it writes, on which runner.
type execution struct {
	out, runner, endpoint, environment string
	resume, strict                     bool
	workers                            int
}

// executionFlags are the flags of execution: not part of what a run measures.
var executionFlags = []string{"out", "runner", "endpoint", "environment", "resume", "strict", "workers"}

// parseEvaluation reads gradcam evaluate's flags. With specOnly (a pipeline worker re-reading
// run.json's arguments), the execution flags are not required.
func parseEvaluation(args []string, stderr io.Writer, specOnly bool) (*evaluation, *execution, error) {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelList := fs.String("model", "", "models, comma-separated: torchvision names ("+strings.Join(zoo.Names(), ", ")+
		") or the demo networks "+strings.Join(fashion.Names(), ", ")+"; default: $GRADCAM_MODEL, else "+embedded.DefaultModel)
	weights := fs.String("weights", "", "checkpoint for a single --model (.pth or .safetensors)")
	onnx := fs.String("onnx", "", "an ONNX model instead of --model")
	dataDir := fs.String("data", "", "images to evaluate on: a folder (of images, or of class folders named like the model's labels), "+
		"a glob of image files (quoted: 'photos/*.jpg'), a .txt file listing image files (a path a line, relative to the list's folder), "+
		"or "+clutteredData+" (the demo networks' held-out set, with boxes)")
	limit := fs.Int("limit", 0, "evaluate the first N images only (0: all; "+clutteredData+" has 10,000)")
	methodList := fs.String("method", "gradcam", "comma-separated methods: "+methodNames())
	metricList := fs.String("metric", "", "comma-separated metrics ("+metricNames()+", or all); default: all the data allows but occlusion-correlation and "+
		"Quantus's families (relevance-mass-accuracy ... non-sensitivity), which are asked by name")
	layer := fs.String("layer", "", "layer the CAM methods explain; default: the model's")
	batch := fs.Int("batch", 16, "images per explanation batch (and per file of results in OUT/items)")
	topK := fs.Int("top-k", 0, "top-k-intersection: the map's k highest pixels; 0: Quantus's 1000 at 224x224, scaled to the images' area")
	tolerance := fs.Float64("pointing-tolerance", 0, "pointing game: tolerance, pixels; 0: 15 px at 224x224, scaled to the images (4.3 at 64x64)")
	crop := fs.Bool("crop", false, "resize the shorter side to 256 and center-crop 224 instead of stretching (image folders)")
	boxes := fs.String("boxes", "", "ground-truth boxes for an image folder: a CSV of "+data.BoxesHeader+
		" in the original images' pixels (x1, y1 exclusive), class an output index or label; enables localization-error and pointing-game")
	e := &evaluation{}
	e.mflags.register(fs)
	x := &execution{}
	fs.StringVar(&x.out, "out", "", "output folder: metrics.csv, metrics.md, per-image.csv, the curves (PNG), and the run "+
		"(run.json, items/: each batch's results as it completes; re-running with the same arguments measures only what is missing)")
	fs.StringVar(&x.runner, "runner", "prism", "Beam runner: "+strings.Join(runnerNames, ", ")+
		" (prism: local, in this process; portable: the job service at --endpoint, such as Flink's, Spark's or Dataflow's)")
	fs.StringVar(&x.endpoint, "endpoint", "", "the portable runner's job service, host:port")
	fs.StringVar(&x.environment, "environment", "loopback", "portable runner: where the workers run: loopback (in this process, "+
		"for a job service on this machine), docker:IMAGE (containers of docker/worker.Dockerfile's image), or process:BOOT "+
		"(Beam's Go boot program, on the job service's machine)")
	fs.IntVar(&x.workers, "workers", 1, "batches measured at once in each process, each by its own copy of the model "+
		"(more than 1 helps where one batch does not keep every core busy: small models and images)")
	fs.BoolVar(&x.resume, "resume", false, "continue the run in --out with the arguments in its run.json (give no others)")
	fs.BoolVar(&x.strict, "strict", false, "exit non-zero when any measurement failed; by default a failed (image, method, metric) "+
		"is recorded in per-image.csv and metrics.md and the run goes on")
	if err := fs.Parse(args); err != nil {
		return nil, nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, nil, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(executionFlags, f.Name) {
			e.args = append(e.args, "--"+f.Name+"="+f.Value.String())
		}
	})
	if !specOnly {
		if x.out == "" {
			return nil, nil, usageError{errors.New("--data and --out are required")}
		}
		if err := x.check(); err != nil {
			return nil, nil, err
		}
		if x.resume {
			if len(e.args) > 0 {
				return nil, nil, usageError{fmt.Errorf("--resume continues the run in %s with the arguments in its run.json: leave out %s",
					x.out, strings.Join(e.args, " "))}
			}
			return e, x, nil // claim reads the run's arguments
		}
	}
	if *dataDir == "" {
		return nil, nil, usageError{errors.New("--data and --out are required")}
	}
	if *topK < 0 {
		return nil, nil, usageError{fmt.Errorf("--top-k %d: give a number of pixels >= 1 (or 0 for the default)", *topK)}
	}
	if err := e.mflags.check(); err != nil {
		return nil, nil, err
	}
	if *limit < 0 || *batch < 1 {
		return nil, nil, usageError{fmt.Errorf("--limit must be >= 0 and --batch >= 1 (got %d and %d)", *limit, *batch)}
	}
	var err error
	if e.methods, err = gradcam.ParseMethods(*methodList); err != nil {
		return nil, nil, usageError{err}
	}
	if *metricList != "" {
		if e.metrics, err = metrics.ParseMetrics(*metricList); err != nil {
			return nil, nil, usageError{err}
		}
	}
	e.names = splitList(*modelList)
	if (*weights != "" || *onnx != "") && len(e.names) > 1 {
		return nil, nil, usageError{errors.New("--weights and --onnx go with a single model")}
	}
	if *onnx != "" && len(e.names) > 0 {
		return nil, nil, usageError{errors.New("--onnx is a whole model: give it without --model")}
	}
	if len(e.names) == 0 && *onnx == "" {
		// The environment's model, written into the run's arguments: a worker or a resumed run
		// measures the same model whatever its environment says.
		e.names = []string{environ.Model()}
		e.args = append(e.args, "--model="+e.names[0])
		slices.Sort(e.args)
	}
	if len(e.names) == 0 {
		e.names = []string{""}
	}
	if *boxes != "" && *dataDir == clutteredData {
		return nil, nil, usageError{fmt.Errorf("--boxes goes with an image folder; %s has its own boxes", clutteredData)}
	}
	if *boxes != "" && (isGlob(*dataDir) || isFileList(*dataDir)) {
		return nil, nil, usageError{fmt.Errorf("--boxes goes with an image folder, not a glob or a list of files (--data %s)", *dataDir)}
	}
	if *boxes != "" {
		f, err := os.Open(*boxes)
		if err != nil {
			return nil, nil, fmt.Errorf("--boxes: %w", err)
		}
		e.boxRows, err = data.ReadBoxes(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("--boxes %s: %w", *boxes, err)
		}
	}
	if *dataDir != clutteredData && !isGlob(*dataDir) && !isFileList(*dataDir) {
		if st, err := os.Stat(*dataDir); err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("--data %s: not a folder (nor a glob, a .txt list or %s): %v", *dataDir, clutteredData, errOrNotDir(err))
		}
	}
	e.weights, e.onnx, e.dataDir, e.layer = *weights, *onnx, *dataDir, *layer
	e.limit, e.batch, e.topK, e.tolerance, e.crop = *limit, *batch, *topK, *tolerance, *crop
	return e, x, nil
}

// prepare loads the run's i-th model and its dataset and checks the options (metrics.Prepare).
// Messages (a method skipped, the offline fallback) go to log.
func (e *evaluation) prepare(i int, log io.Writer) (*metrics.Run, error) {
	m, err := loadEvaluated(e.names[i], e.weights, e.onnx, log)
	if err != nil {
		return nil, err
	}
	set, err := evaluationSet(m, e.dataDir, e.limit, e.crop, e.boxRows)
	if err != nil {
		return nil, err
	}
	var use []gradcam.Method
	for _, meth := range e.methods {
		if meth == gradcam.CAM {
			if err := m.CheckCAM(); err != nil {
				fmt.Fprintf(log, "%s: skipping cam: %v\n", m.Name, err)
				continue
			}
		}
		use = append(use, meth)
	}
	opts := metrics.Options{Methods: use, Metrics: e.metrics, BatchSize: e.batch, PointingTolerance: e.tolerance, TopK: e.topK,
		Request: e.mflags.request(m.Input, evaluationTransform(m, e.dataDir, e.crop))}
	if e.layer != "" {
		opts.Request.Layers = splitList(e.layer)
	}
	return metrics.Prepare(metrics.NewEvaluator(gradcam.New(m)), set, opts)
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
	var files []string
	if isGlob(dir) || isFileList(dir) {
		if files, err = dataFiles(dir); err != nil {
			return nil, err
		}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.IsDir() && !strings.HasPrefix(e.Name(), ".") }) {
			set, err := data.ImageFolder(dir, t)
			if err != nil {
				return nil, err
			}
			if !slices.Equal(set.Classes, m.Labels) {
				// Class folders that are not the model's labels cannot say whether it is right.
				set.Labels, set.Classes = nil, nil
			}
			return set.Head(limit), nil
		}
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
	}
	// A folder of images, a glob, a list: the files, without labels.
	x, _, err := t.Preprocess(files...)
	if err != nil {
		return nil, err
	}
	dims := x.Shape().Dimensions
	set := &data.Set{Name: filepath.Base(dir), Shape: dims[1:], Inputs: tensors.MustCopyFlatData[float32](x)}
	return set.Head(limit), nil
}

// isGlob says whether --data is a glob of files (it has a pattern's metacharacters).
func isGlob(data string) bool { return strings.ContainsAny(data, "*?[") }

// isFileList says whether --data is a list of files (a .txt file).
func isFileList(data string) bool { return strings.EqualFold(filepath.Ext(data), ".txt") }

// dataFiles lists the image files of a glob, or of a list file (a path a line, relative to the
// list's folder; blank lines and lines starting with # skipped).
func dataFiles(data string) ([]string, error) {
	var files []string
	if isGlob(data) {
		var err error
		if files, err = filepath.Glob(data); err != nil {
			return nil, fmt.Errorf("--data %s: %w", data, err)
		}
	} else {
		b, err := os.ReadFile(data)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !filepath.IsAbs(line) {
				line = filepath.Join(filepath.Dir(data), line)
			}
			files = append(files, line)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--data %s: no image files (a glob matching nothing, or an empty list)", data)
	}
	return files, nil
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
