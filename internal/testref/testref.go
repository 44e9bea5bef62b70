// Package testref gives tests access to PyTorch reference data: it runs the repository's
// reference scripts with Debian's python3-torch when their output is missing or stale, and
// reads and compares the NumPy arrays they write.
package testref

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sbinet/npyio/npy"
)

// Python is the interpreter with torch and torchvision (Debian's python3-torch lives there, not in
// the python3 first on PATH).
const Python = "/usr/bin/python3"

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Shared is ../shared beside the repository root (images and real weights).
func Shared() string {
	if d := os.Getenv("GRADCAM_SHARED"); d != "" {
		return d
	}
	return filepath.Join(Root(), "..", "shared")
}

// Image returns the path of a shared test image.
func Image(name string) string { return filepath.Join(Shared(), "images", name) }

var mu sync.Mutex

// Ensure runs script (a path relative to the repository root) with args followed by an output
// directory under .cache/, unless that directory already holds the output of the same inputs.
// It returns the directory. Tests fail, never skip, when PyTorch is not installed: parity is the
// point of these tests (.ci/run installs python3-torch).
//
// The cached output is reused only while its stamp matches: the script, the repository scripts
// it names on "# depends on: PATH" lines, the versions of Python's torch and torchvision, the
// arguments, and the contents of the files and folders they name (a folder made by another
// reference counts by its DONE stamp). A PyTorch upgrade or changed shared images regenerate it.
func Ensure(t testing.TB, script, name string, args ...string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	root := Root()
	stamp, err := referenceStamp(root, script, args)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, ".cache", name)
	// Test binaries of several packages run at once and share references: lock across processes.
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if b, err := os.ReadFile(filepath.Join(out, "DONE")); err == nil && string(b) == stamp+"\n" {
		return out
	}
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("PyTorch reference needs %s with python3-torch and python3-torchvision "+
			"(apt-get install python3-torch python3-torchvision): %v", Python, err)
	}
	_ = os.RemoveAll(out)
	cmd := exec.Command(Python, append(append([]string{filepath.Join(root, script)}, args...), out)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t.Logf("generating PyTorch reference: %s", cmd)
	if err := cmd.Run(); err != nil {
		t.Fatalf("reference script %s failed: %v", script, err)
	}
	if err := os.WriteFile(filepath.Join(out, "DONE"), []byte(stamp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// torchVersions is what the installed PyTorch reports (computed once per process).
var torchVersions = sync.OnceValue(func() string {
	out, err := exec.Command(Python, "-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)").Output()
	if err != nil {
		return "no torch: " + err.Error()
	}
	return string(out)
})

// referenceStamp hashes everything a reference's output depends on (see Ensure).
func referenceStamp(root, script string, args []string) (string, error) {
	src, err := os.ReadFile(filepath.Join(root, script))
	if err != nil {
		return "", fmt.Errorf("reference script: %w", err)
	}
	h := sha256.New()
	h.Write(src)
	for _, line := range strings.Split(string(src), "\n") {
		if dep, ok := strings.CutPrefix(line, "# depends on: "); ok {
			b, err := os.ReadFile(filepath.Join(root, strings.TrimSpace(dep)))
			if err != nil {
				return "", fmt.Errorf("reference script %s depends on %s: %w", script, dep, err)
			}
			h.Write(b)
		}
	}
	fmt.Fprintln(h, torchVersions(), args)
	for _, a := range args {
		if err := hashPath(h, a); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// hashPath adds a file's contents, or everything in a folder (names and contents), to h; a
// folder with a DONE stamp (another reference's output) adds the stamp only. Non-paths add
// nothing.
func hashPath(h io.Writer, p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return nil // an ordinary argument (a number), already in the stamp
	}
	if !info.IsDir() {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	}
	if done, err := os.ReadFile(filepath.Join(p, "DONE")); err == nil {
		h.Write(done)
		return nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintln(h, e.Name())
		if err := hashPath(h, filepath.Join(p, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ReadNPY reads a float32 NumPy array.
func ReadNPY(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	return ReadNPYAs[float32](t, path)
}

// ReadNPYAs reads a NumPy array of element type T.
func ReadNPYAs[T any](t testing.TB, path string) ([]T, []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npy.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var data []T
	if err := r.Read(&data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data, r.Header.Descr.Shape
}

// MaxRelErr is max|got - want| / max|want|: the error relative to the reference's magnitude.
func MaxRelErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var maxDiff, scale float64
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.NaN()
		}
		maxDiff = max(maxDiff, d)
		scale = max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return maxDiff
	}
	return maxDiff / scale
}

// Pearson is the correlation of two arrays (1 for identical shapes up to a positive scale).
func Pearson(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return math.NaN()
	}
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		if saa == sbb {
			return 1
		}
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

// NoPanic calls fn and fails the test if it panics: API functions must return errors instead.
func NoPanic[T any](t testing.TB, fn func() T) T {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	return fn()
}

// ImageFolder writes a generated image dataset in torchvision's ImageFolder layout under dir:
// classes subfolders ("class0".."classN-1") of perClass size x size PNGs. Each class has its own
// colour and stripe orientation with seeded noise, so a classifier can learn them quickly. It
// returns the class names.
func ImageFolder(t testing.TB, dir string, classes, perClass, size int) []string {
	t.Helper()
	names := make([]string, classes)
	for c := range classes {
		names[c] = fmt.Sprintf("class%d", c)
		if err := os.MkdirAll(filepath.Join(dir, names[c]), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			img := image.NewRGBA(image.Rect(0, 0, size, size))
			seed := uint32(c*1000 + i + 1)
			for y := range size {
				for x := range size {
					seed = seed*1664525 + 1013904223
					noise := int(seed>>24) / 8
					stripe := ((x*(c%3) + y*(c/3+1)) / 6) % 2
					r := (c*70 + noise + stripe*60) % 256
					g := (c*130 + noise) % 256
					b := (255 - c*25 + noise + stripe*40) % 256
					img.Set(x, y, color.RGBA{uint8(r), uint8(g), uint8(b), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, names[c], fmt.Sprintf("img%d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return names
}

// Must takes a call's value and error and returns a function that gives the value, or fails the
// test with the error: m := testref.Must(vqa.Load())(t).
func Must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// StepSeconds times training steps for a benchmark: each iteration runs fit (which builds and
// compiles its graph, then trains the given number of steps) for short and for long steps from
// the same start, and the difference per step, which leaves compilation out, is reported as
// s/step.
func StepSeconds(b *testing.B, short, long int, fit func(steps int) time.Duration) {
	var perStep time.Duration
	for b.Loop() {
		perStep += (fit(long) - fit(short)) / time.Duration(long-short)
	}
	b.ReportMetric(perStep.Seconds()/float64(b.N), "s/step")
}
