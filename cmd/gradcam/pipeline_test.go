package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/internal/faults"
	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/metrics"
	"github.com/gradcam-go/gradcam/pretrained/fashion"
)

// TestPipelineEqualsInProcess runs gradcam evaluate (the Beam pipeline, on prism, two workers) on
// 200 cluttered Fashion-MNIST items with both demo networks, three methods and five metrics, and
// metrics.Evaluate in this process on the same items: metrics.csv and per-image.csv are the same
// to the byte.
func TestPipelineEqualsInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: 200 items, 2 networks, 3 methods")
	}
	methods := []gradcam.Method{gradcam.GradCAM, gradcam.GradCAMPlusPlus, gradcam.Saliency}
	mets := []metrics.Metric{metrics.LocalizationError, metrics.PointingGameAccuracy, metrics.AverageDrop,
		metrics.RelevanceMassAccuracy, metrics.Sparseness}
	var names []string
	for _, m := range mets {
		names = append(names, string(m))
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "fashion-gap,fashion-fc", "--data", clutteredData, "--limit", "200",
		"--method", "gradcam,gradcam++,saliency", "--metric", strings.Join(names, ","), "--workers", "2", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}

	var rows []metrics.Row
	var perImage []metrics.ImageValue
	for _, name := range []string{"fashion-gap", "fashion-fc"} {
		m, err := fashion.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		set, err := fashion.TestSet(200)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := metrics.Evaluate(metrics.NewEvaluator(gradcam.New(m)), set, metrics.Options{Methods: methods, Metrics: mets})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rep.Rows...)
		perImage = append(perImage, rep.PerImage...)
	}
	var csv, per bytes.Buffer
	if err := metrics.WriteCSV(&csv, rows); err != nil {
		t.Fatal(err)
	}
	if err := metrics.WritePerImageCSV(&per, perImage); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"metrics.csv": csv.Bytes(), "per-image.csv": per.Bytes()} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the pipeline's %s (%d bytes) differs from the in-process evaluation's (%d bytes)", name, len(got), len(want))
		}
	}
	if n := strings.Count(csv.String(), "\n"); n != 1+2*3*5 {
		t.Errorf("metrics.csv has %d lines, want 31", n)
	}
}

// TestPipelineRecordsFailedItem injects failures into two items' explanations while the pipeline
// runs (in this process, on prism): image 5 fails every time (retried once, then recorded with
// its reason) and image 9 once (the retry measures it); the run completes.
func TestPipelineRecordsFailedItem(t *testing.T) {
	calls := map[int]int{}
	defer faults.InjectExplain(func(model string, image int) error {
		if image != 5 && image != 9 {
			return nil
		}
		calls[image]++
		if image == 5 || calls[image] == 1 {
			return fmt.Errorf("injected failure of image %d", image)
		}
		return nil
	})()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "12", "--batch", "4",
		"--method", "gradcam", "--metric", "sparseness,average-drop", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("one item's failure stopped the run: %v\n%s", err, errOut.String())
	}
	// Image 5: its batch's call, alone, and the retry; image 9: its batch's call, then alone.
	if calls[5] != 3 || calls[9] != 2 {
		t.Errorf("image 5 explained %d times (want 3), image 9 %d times (want 2)", calls[5], calls[9])
	}
	f, err := os.Open(filepath.Join(dir, "per-image.csv"))
	if err != nil {
		t.Fatal(err)
	}
	values, err := metrics.ReadPerImageCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, v := range values {
		switch {
		case v.Failure != "":
			failed++
			if v.Image != 5 || !strings.Contains(v.Failure, "injected failure of image 5") {
				t.Errorf("recorded failure %+v, want image 5's", v)
			}
		case v.Image == 5:
			t.Errorf("image 5 measured: %+v", v)
		}
	}
	if failed != 2 || len(values) != 24 {
		t.Errorf("%d of %d values failed, want 2 of 24 (image 5's two metrics)", failed, len(values))
	}
	if !strings.Contains(errOut.String(), "Failed measurements: 2") {
		t.Errorf("stderr does not report the failure:\n%s", errOut.String())
	}
}

// TestPipelineResumes kills gradcam evaluate (SIGKILL) once some batches are written, runs it
// again with the same arguments, and compares the files with an uninterrupted run's: the second
// run measures only the missing batches (it says how many, and leaves the earlier files alone)
// and ends with the same metrics.csv, metrics.md, per-image.csv and curves, to the byte (ROAD's
// random draws included: they are the image's, not the process's n-th).
func TestPipelineResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds the command and runs it three times")
	}
	bin := filepath.Join(t.TempDir(), "gradcam")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	args := func(out string) []string {
		return []string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "64", "--batch", "4",
			"--method", "gradcam,saliency", "--metric", "deletion-auc,insertion-auc,average-drop,road-morf", "--out", out}
	}
	whole, parts := t.TempDir(), t.TempDir()
	if b, err := exec.Command(bin, args(whole)...).CombinedOutput(); err != nil {
		t.Fatalf("the uninterrupted run: %v\n%s", err, b)
	}

	cmd := exec.Command(bin, args(parts)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	items := filepath.Join(parts, "items")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		files, _ := filepath.Glob(filepath.Join(items, "model*.gob"))
		if len(files) >= 6 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no 6 batches written in 2 minutes (%d)", len(files))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	before, _ := filepath.Glob(filepath.Join(items, "model*.gob"))
	if len(before) >= 16 {
		t.Fatalf("the run finished before it was killed (%d batches): nothing to resume", len(before))
	}
	stat := map[string]os.FileInfo{}
	for _, f := range before {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		stat[f] = st
	}

	again := exec.Command(bin, args(parts)...)
	stderr, err := again.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	if err := again.Wait(); err != nil {
		t.Fatalf("the resumed run: %v\n%s", err, log.String())
	}
	m := regexp.MustCompile(`resuming: (\d+) of 64 images already measured \(.*\); measuring (\d+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("the resumed run does not say what it resumes:\n%s", log.String())
	}
	done, _ := strconv.Atoi(m[1])
	measuring, _ := strconv.Atoi(m[2])
	if done != 4*len(before) || measuring != 64-done {
		t.Errorf("resumed %d images and measured %d; %d batches of 4 were done", done, measuring, len(before))
	}
	for f, st := range stat {
		now, err := os.Stat(f)
		if err != nil || !os.SameFile(st, now) || !now.ModTime().Equal(st.ModTime()) {
			t.Errorf("%s was measured again", filepath.Base(f))
		}
	}
	sameFiles(t, parts, whole, "the resumed run", "the uninterrupted run's",
		"metrics.csv", "metrics.md", "per-image.csv", "deletion_fashion-gap.png", "insertion_fashion-gap.png")
}

// sameFiles fails the test for each named file whose bytes differ between folders a and b.
func sameFiles(t *testing.T, a, b, aName, bName string, names ...string) {
	t.Helper()
	for _, name := range names {
		x, err1 := os.ReadFile(filepath.Join(a, name))
		y, err2 := os.ReadFile(filepath.Join(b, name))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s of %s differs from %s", name, aName, bName)
		}
	}
}

// TestPipelineBadInput: runner and output-folder mistakes are one-line errors naming what to do.
func TestPipelineBadInput(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() // nothing listens there once closed
	l.Close()
	used := t.TempDir()
	base := []string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "4", "--metric", "sparseness"}
	var out, errOut bytes.Buffer
	if err := run(append(slices.Clone(base), "--out", used), &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown runner", []string{"--runner", "flink", "--out", t.TempDir()}, `unknown runner "flink": the runners are prism, portable`},
		{"no workers", []string{"--workers", "0", "--out", t.TempDir()}, "--workers 0: give 1 or more"},
		{"portable without endpoint", []string{"--runner", "portable", "--out", t.TempDir()}, "--runner portable needs --endpoint"},
		{"endpoint without portable", []string{"--endpoint", closed, "--out", t.TempDir()}, "--endpoint and --environment go with --runner portable"},
		{"unreachable endpoint", []string{"--runner", "portable", "--endpoint", closed, "--out", t.TempDir()},
			"--endpoint " + closed + ": no job service answers there"},
		{"another run's folder", []string{"--limit", "8", "--out", used}, "holds another run's results"},
		{"resume with arguments", []string{"--resume", "--out", used}, "--resume continues the run in " + used},
		{"resume without a run", []string{"--resume"}, "holds no run to continue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(slices.Clone(base), tc.args...)
			if tc.name == "resume without a run" {
				args = []string{"evaluate", "--resume", "--out", t.TempDir()}
			}
			start := time.Now()
			err := run(args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is not one line: %q", err)
			}
			if time.Since(start) > 20*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	// --resume alone continues the folder's run (already complete: nothing is measured).
	out.Reset()
	errOut.Reset()
	if err := run([]string{"evaluate", "--resume", "--out", used}, &out, &errOut); err != nil {
		t.Fatalf("--resume: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "resuming: 4 of 4 images already measured") || !strings.Contains(out.String(), "| fashion-gap | gradcam |") {
		t.Errorf("--resume of a complete run: stdout %q, stderr %q", out.String(), errOut.String())
	}
}

// TestPipelineOnPortableRunner submits gradcam evaluate to a job service in another process
// (Beam's prism, built from the module's Beam) whose workers are processes of their own: Beam's
// Go boot program starts this binary in worker mode (--worker), as a Flink, Spark or Dataflow
// worker container does. The files equal the local runner's.
func TestPipelineOnPortableRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds the command, Beam's job service and its worker boot program")
	}
	bin := t.TempDir()
	for name, pkg := range map[string]string{"gradcam": ".", "prism": "github.com/apache/beam/sdks/v2/go/cmd/prism",
		"boot": "github.com/apache/beam/sdks/v2/go/container"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	// prism's process environment quotes the worker id (--id='ID') as for a shell: unquote it.
	boot := filepath.Join(bin, "boot.sh")
	if err := os.WriteFile(boot, []byte("#!/bin/bash\nexec "+filepath.Join(bin, "boot")+` "${@//\'/}"`+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	service := exec.Command(filepath.Join(bin, "prism"), "--job_port", fmt.Sprint(port), "--serve_http=false", "--log_level", "warn")
	logFile, err := os.Create(filepath.Join(bin, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	service.Stdout, service.Stderr = logFile, logFile
	service.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the service and its workers, killed together
	service.Dir = t.TempDir()                                 // Beam's boot program writes pipeline_options.json there
	if err := service.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-service.Process.Pid, syscall.SIGKILL); service.Wait() }()
	serviceLog := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	endpoint := fmt.Sprintf("localhost:%d", port)
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", endpoint); err == nil {
			c.Close()
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the job service does not answer at %s:\n%s", endpoint, serviceLog())
		}
	}

	args := []string{"evaluate", "--model", "fashion-gap", "--data", clutteredData, "--limit", "24", "--batch", "8",
		"--method", "gradcam,saliency", "--metric", "localization-error,deletion-auc,sparseness"}
	local, portable := t.TempDir(), t.TempDir()
	if out, err := exec.Command(filepath.Join(bin, "gradcam"), append(slices.Clone(args), "--out", local)...).CombinedOutput(); err != nil {
		t.Fatalf("the local run: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a job whose workers fail waits forever
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "gradcam"), append(slices.Clone(args), "--out", portable, "--runner", "portable",
		"--endpoint", endpoint, "--environment", "process:"+boot)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the portable run: %v\n%s\njob service:\n%s", err, out, serviceLog())
	}
	if !strings.Contains(serviceLog(), "Worker exited successfully") {
		t.Errorf("no worker process ran (the job service's log):\n%s", serviceLog())
	}
	sameFiles(t, portable, local, "the portable run", "the local run's", "metrics.csv", "metrics.md", "per-image.csv",
		"deletion_fashion-gap.png")
}

// TestPipelineDataSources: a glob of files and a list of files (.txt, relative to its folder)
// measure the same images as their folder: the same per-image.csv. A glob matching nothing, an
// empty list and a missing list are one-line errors.
func TestPipelineDataSources(t *testing.T) {
	images := t.TempDir()
	for _, name := range []string{"cat_dog.png", "snake.png", "spider.png"} {
		b, err := os.ReadFile(testref.Image(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(images, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(t.TempDir(), "images.txt")
	text := "# the photos\n" + filepath.Join(images, "cat_dog.png") + "\n\n" + filepath.Join(images, "snake.png") + "\n" +
		filepath.Join(images, "spider.png") + "\n"
	if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"evaluate", "--model", "fashion-gap", "--method", "gradcam", "--metric", "average-drop,sparseness"}
	var want []byte
	for _, data := range []string{images, filepath.Join(images, "*.png"), list} {
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		if err := run(append(slices.Clone(base), "--data", data, "--out", dir), &out, &errOut); err != nil {
			t.Fatalf("--data %s: %v\n%s", data, err, errOut.String())
		}
		got, err := os.ReadFile(filepath.Join(dir, "per-image.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(got), "\n") != 1+3*2 {
			t.Errorf("--data %s: per-image.csv:\n%s", data, got)
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Errorf("--data %s: per-image.csv differs from the folder's:\n%s\nwant:\n%s", data, got, want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.txt")
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for data, msg := range map[string]string{filepath.Join(images, "*.gif"): "no image files", empty: "no image files",
		filepath.Join(images, "missing.txt"): "no such file"} {
		var out, errOut bytes.Buffer
		err := run(append(slices.Clone(base), "--data", data, "--out", t.TempDir()), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--data %s: error %v, want one line saying %q", data, err, msg)
		}
	}
}
