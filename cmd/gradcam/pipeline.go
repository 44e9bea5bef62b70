package main

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
	"github.com/schollz/progressbar/v3"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/internal/catch"
	"github.com/gradcam-go/gradcam/metrics"
)

// gradcam evaluate as an Apache Beam pipeline:
//
//	batches of items (model, first image, count)
//	  -> measureFn: explain and measure a batch (metrics.Run.Measure), or read the batch's results
//	     if an earlier run wrote them; write them to OUT/items as they complete
//	  -> collectFn: a combiner gathering every batch's results, in (model, image) order
//	  -> writeFn: the reports (metrics.Summarize): metrics.csv, metrics.md, per-image.csv, curves
//
// Measuring and summarizing are package metrics' own (metrics.Evaluate runs the same steps in a
// loop), so the pipeline's files equal an in-process evaluation's.

// runnerNames are --runner's values.
var runnerNames = []string{"prism", "portable"}

// check refuses runner flags that do not go together.
func (x *execution) check() error {
	switch {
	case !slices.Contains(runnerNames, x.runner):
		return usageError{fmt.Errorf("unknown runner %q: the runners are %s", x.runner, strings.Join(runnerNames, ", "))}
	case x.workers < 1:
		return usageError{fmt.Errorf("--workers %d: give 1 or more", x.workers)}
	case x.runner == "portable" && x.endpoint == "":
		return usageError{errors.New("--runner portable needs --endpoint: the job service's host:port")}
	case x.runner != "portable" && (x.endpoint != "" || x.environment != "loopback"):
		return usageError{errors.New("--endpoint and --environment go with --runner portable")}
	}
	_, _, err := x.beamEnvironment()
	return err
}

// beamEnvironment is --environment as Beam's environment type and configuration.
func (x *execution) beamEnvironment() (kind, config string, err error) {
	kind, config, _ = strings.Cut(x.environment, ":")
	switch {
	case kind == "loopback" && config == "":
		return kind, "", nil
	case kind == "docker" && config != "":
		return kind, config, nil
	case kind == "process" && config != "":
		b, err := json.Marshal(map[string]string{"command": config})
		return kind, string(b), err
	}
	return "", "", usageError{fmt.Errorf("--environment %q: give loopback, docker:IMAGE or process:BOOT", x.environment)}
}

// runFile is OUT/run.json: the arguments of the run whose results OUT holds.
type runFile struct {
	Args []string `json:"args"`
}

// claim makes --out this run's. A folder without a run gets run.json; a folder holding the same
// run (the same arguments) continues it; another run's folder is refused unless --resume, which
// continues that run with its own arguments (returned).
func (x *execution) claim(e *evaluation) (*evaluation, error) {
	path := filepath.Join(x.out, "run.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if x.resume {
			return nil, fmt.Errorf("--resume: %s holds no run to continue (no run.json): give the run's arguments instead", x.out)
		}
		b, err := json.MarshalIndent(runFile{Args: e.args}, "", "  ")
		if err != nil {
			return nil, err
		}
		return e, atomicfile.Write(path, append(b, '\n'))
	}
	if err != nil {
		return nil, err
	}
	var stored runFile
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("%s: %w: delete the folder's run, or give another --out", path, err)
	}
	if x.resume {
		resumed, _, err := parseEvaluation(stored.Args, io.Discard, true)
		if err != nil {
			return nil, fmt.Errorf("--resume: the arguments in %s: %w", path, err)
		}
		return resumed, nil
	}
	if !slices.Equal(stored.Args, e.args) {
		return nil, fmt.Errorf("--out %s holds another run's results (run.json: %s): give --resume to continue that run, or another --out",
			x.out, strings.Join(stored.Args, " "))
	}
	return e, nil
}

// itemBatch is the pipeline's element: the images Start..Start+Count-1 of the run's Model-th model.
type itemBatch struct {
	Model, Start, Count int
}

// batchResult is a batch's values: a gob of []metrics.ImageValue, as in its file in OUT/items.
type batchResult struct {
	Model, Start, Count int
	Values              []byte
}

// collected is every batch's results, ordered by model and image once extracted.
type collected struct {
	Batches []batchResult
}

func (b itemBatch) file(out string) string {
	return filepath.Join(out, "items", fmt.Sprintf("model%d-images%07d-%07d.gob", b.Model, b.Start, b.Start+b.Count-1))
}

// readBatch reads a batch's results from its file, checking that they are that batch's.
func readBatch(path string, b itemBatch) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	values, err := decodeValues(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, v := range values {
		if v.Image < b.Start || v.Image >= b.Start+b.Count {
			return nil, fmt.Errorf("%s: holds image %d, outside its batch", path, v.Image)
		}
	}
	return raw, nil
}

func encodeValues(values []metrics.ImageValue) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(values)
	return buf.Bytes(), err
}

func decodeValues(b []byte) ([]metrics.ImageValue, error) {
	var values []metrics.ImageValue
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&values)
	return values, err
}

// preparedRun is a model's metrics.Run for one worker, prepared once per process and shared by
// the driver and every bundle of the pipeline that runs in it; a worker measures one batch at a
// time.
type preparedRun struct {
	once sync.Once
	run  *metrics.Run
	err  error
	mu   sync.Mutex
}

var preparedRuns sync.Map // run arguments + model index + worker -> *preparedRun

func preparedRunOf(e *evaluation, model, worker int, log io.Writer) (*preparedRun, error) {
	key := runKey(e) + fmt.Sprintf("model %d\x00worker %d", model, worker)
	v, _ := preparedRuns.LoadOrStore(key, &preparedRun{})
	p := v.(*preparedRun)
	p.once.Do(func() { p.run, p.err = e.prepare(model, log) })
	return p, p.err
}

func runKey(e *evaluation) string { return strings.Join(e.args, "\x00") + "\x00" }

// forgetRuns drops the run's prepared runs (their models and data) once its pipeline is done.
func forgetRuns(e *evaluation) {
	preparedRuns.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), runKey(e)) {
			preparedRuns.Delete(k)
		}
		return true
	})
}

// progress, when set (by the driver, for the pipeline running in its process), is told of each
// batch done.
var progress atomic.Pointer[func(images int)]

// measureFn measures batches (or reads what an earlier run measured) and writes each batch's
// results to OUT/items as it completes. The batches of a bundle are measured by Workers
// goroutines at once, each with its own copy of the model's run; the values do not depend on
// which worker measures what, or in which order (metrics.Run.Measure).
type measureFn struct {
	Args    []string // the run's arguments (run.json)
	Out     string
	Workers int
	e       *evaluation
	pending []itemBatch
}

func (f *measureFn) Setup() error {
	e, _, err := parseEvaluation(f.Args, io.Discard, true)
	f.e = e
	return err
}

func (f *measureFn) StartBundle(_ func(batchResult)) {
	f.pending = f.pending[:0]
}

func (f *measureFn) ProcessElement(b itemBatch, _ func(batchResult)) {
	f.pending = append(f.pending, b)
}

func (f *measureFn) FinishBundle(emit func(batchResult)) error {
	results := make([]batchResult, len(f.pending))
	errs := make([]error, len(f.pending))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := range max(1, f.Workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(f.pending) {
					return
				}
				results[i], errs[i] = f.measure(f.pending[i], w)
				if errs[i] != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, r := range results {
		emit(r)
	}
	return nil
}

// measure measures one batch on worker w, or reads its results if an earlier run wrote them.
func (f *measureFn) measure(b itemBatch, w int) (batchResult, error) {
	path := b.file(f.Out)
	raw, err := readBatch(path, b)
	if err != nil { // not measured yet (or unreadable: measured again)
		p, err := preparedRunOf(f.e, b.Model, w, io.Discard)
		if err != nil {
			return batchResult{}, err
		}
		var values []metrics.ImageValue
		err = catch.Panic(func() error {
			p.mu.Lock()
			defer p.mu.Unlock()
			values = p.run.Measure(b.Start, b.Count)
			return nil
		})
		if err != nil {
			return batchResult{}, fmt.Errorf("measuring images %d-%d: %w", b.Start, b.Start+b.Count-1, err)
		}
		if raw, err = encodeValues(values); err != nil {
			return batchResult{}, err
		}
		if err := atomicfile.Write(path, raw); err != nil {
			return batchResult{}, err
		}
	}
	if fn := progress.Load(); fn != nil {
		(*fn)(b.Count)
	}
	return batchResult{Model: b.Model, Start: b.Start, Count: b.Count, Values: raw}, nil
}

// collectFn gathers every batch's results into one, in model and image order: the order in which
// metrics.Evaluate measures, so that the sums are the same to the last bit.
type collectFn struct{}

func (collectFn) CreateAccumulator() collected { return collected{} }

func (collectFn) AddInput(a collected, r batchResult) collected {
	a.Batches = append(a.Batches, r)
	return a
}

func (collectFn) MergeAccumulators(a, b collected) collected {
	a.Batches = append(a.Batches, b.Batches...)
	return a
}

func (collectFn) ExtractOutput(a collected) collected {
	slices.SortFunc(a.Batches, func(x, y batchResult) int {
		if x.Model != y.Model {
			return x.Model - y.Model
		}
		return x.Start - y.Start
	})
	return a
}

// writeFn summarizes each model's values and writes the run's files.
type writeFn struct {
	Args []string
	Out  string
}

func (f *writeFn) ProcessElement(c collected) error {
	e, _, err := parseEvaluation(f.Args, io.Discard, true)
	if err != nil {
		return err
	}
	var rows []metrics.Row
	var perImage []metrics.ImageValue
	for model := range e.names {
		var values []metrics.ImageValue
		images := 0
		for _, b := range c.Batches {
			if b.Model != model {
				continue
			}
			v, err := decodeValues(b.Values)
			if err != nil {
				return fmt.Errorf("the results of images %d-%d: %w", b.Start, b.Start+b.Count-1, err)
			}
			values = append(values, v...)
			images += b.Count
		}
		if len(values) == 0 {
			continue
		}
		// An error here says that nothing could be measured: the rows say so too (N = 0), and
		// the driver reports it after the files are written.
		rep, _ := metrics.Summarize(values[0].Model, images, values)
		rows = append(rows, rep.Rows...)
		perImage = append(perImage, rep.PerImage...)
		for _, curve := range []struct {
			name   string
			curves map[gradcam.Method][]float64
		}{{"deletion", rep.Deletion}, {"insertion", rep.Insertion}} {
			path := filepath.Join(f.Out, curve.name+"_"+rep.Model+".png")
			if err := writeCurves(path, curve.name, rep.Model, images, e.methods, curve.curves); err != nil {
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
	if err := metrics.Markdown(&md, rows); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"per-image.csv": per.Bytes(), "metrics.md": md.Bytes(), "metrics.csv": csv.Bytes()} {
		if err := atomicfile.Write(filepath.Join(f.Out, name), b); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	register.DoFn2x0[itemBatch, func(batchResult)](&measureFn{})
	register.Emitter1[batchResult]()
	register.Combiner3[collected, batchResult, collected](&collectFn{})
	register.DoFn1x1[collected, error](&writeFn{})
}

// isBeamWorker says whether the runner started this binary as a pipeline worker (Beam's container
// boot runs the staged binary with --worker and the harness's endpoints); main then hands the
// process to Beam's harness instead of a command.
func isBeamWorker(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a == "--worker" || a == "--worker=true" || a == "-worker" })
}

// runBeamWorker runs the worker harness with the flags it was given, and exits when it is done.
func runBeamWorker() {
	flag.Parse()
	beam.Init()
}

// prismEndpoint is the job service of the prism runner this process started (the first
// evaluation starts it; later ones use it).
var prismEndpoint string

// pipelineMu makes one pipeline run at a time in a process: the runner options are Beam's globals.
var pipelineMu sync.Mutex

// runPipeline checks every model's run (loading the models and the data), lists the batches,
// and runs the pipeline on the runner asked; the files are in x.out when it returns nil.
func runPipeline(e *evaluation, x *execution, stderr io.Writer) error {
	defer forgetRuns(e)
	var batches []itemBatch
	var names []string
	total, done := 0, 0
	for model := range e.names {
		p, err := preparedRunOf(e, model, 0, stderr)
		if err != nil {
			return err
		}
		names = append(names, p.run.Model())
		n, size := p.run.Len(), p.run.BatchSize()
		total += n
		for start := 0; start < n; start += size {
			b := itemBatch{Model: model, Start: start, Count: min(size, n-start)}
			batches = append(batches, b)
			if _, err := readBatch(b.file(x.out), b); err == nil {
				done += b.Count
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(x.out, "items"), 0o755); err != nil {
		return err
	}
	if done > 0 {
		fmt.Fprintf(stderr, "resuming: %d of %d images already measured (%s); measuring %d\n",
			done, total, filepath.Join(x.out, "items"), total-done)
	}
	if x.runner == "portable" {
		conn, err := net.DialTimeout("tcp", x.endpoint, 5*time.Second)
		if err != nil {
			return fmt.Errorf("--endpoint %s: no job service answers there (%v): start it, or leave out --runner for the local runner",
				x.endpoint, err)
		}
		conn.Close()
	}

	pipelineMu.Lock()
	defer pipelineMu.Unlock()
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionShowCount(),
		progressbar.OptionSetDescription("evaluating "+strings.Join(names, ", ")), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(0))
	var mu sync.Mutex
	count := func(images int) {
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Add(images)
	}
	progress.Store(&count)
	defer progress.Store(nil)
	defer fmt.Fprintln(stderr)

	quietBeam()
	p, s := beam.NewPipelineWithRoot()
	results := beam.ParDo(s, &measureFn{Args: e.args, Out: x.out, Workers: x.workers}, beam.CreateList(s, batches))
	beam.ParDo0(s, &writeFn{Args: e.args, Out: x.out}, beam.Combine(s, &collectFn{}, results))

	ctx := context.Background()
	var err error
	switch x.runner {
	case "prism":
		*jobopts.Endpoint, *jobopts.EnvironmentType, *jobopts.EnvironmentConfig = prismEndpoint, "loopback", ""
		_, err = prism.Execute(ctx, p)
		prismEndpoint = *jobopts.Endpoint
	case "portable":
		*jobopts.Endpoint = x.endpoint
		*jobopts.EnvironmentType, *jobopts.EnvironmentConfig, _ = x.beamEnvironment()
		// The workers run this very binary (linux/amd64, as Beam's containers), staged as the
		// job's artifact, rather than one Beam would compile from the sources.
		if *jobopts.WorkerBinary, err = os.Executable(); err != nil {
			return fmt.Errorf("evaluate: the worker binary: %w", err)
		}
		_, err = universal.Execute(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("evaluate: the %s runner: %s", x.runner, strings.Join(strings.Fields(err.Error()), " "))
	}
	return nil
}

// quietBeam keeps Beam's and its runner's messages below warnings out of the terminal, where the
// progress bar is: beam.Init sets the process's slog handler at Beam's log level.
func quietBeam() {
	beamlog.LogLevel = "warn"
	beam.Init()
}
