package gradcam

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

// Benchmarks of the explanation matrix: models x methods x batch size, with the first call of
// a new explainer (graph build + compilation + one execution) reported apart from the steady
// state. Metrics: images/s and peak resident memory of the benchmark (VmHWM, reset before it).
//
//	go test ./gradcam -run '^$' -bench 'Explain/resnet50/gradcam/b1' -benchtime 3x
//
// Models come from the PyTorch reference's random-weight checkpoints (same shapes and cost as
// the real ones), or ../shared/weights for mobilenet_v2. GRADCAM_BENCH_MODELS and
// GRADCAM_BENCH_METHODS (comma-separated names of benchMethods) limit what runs.

var benchModels = []string{"resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v2"}

// benchMethods are the method sets benchmarked, by name.
var benchMethods = []struct {
	name    string
	methods []Method
	classes []int
}{
	{"forward", nil, nil},
	{"gradcam", []Method{GradCAM}, []int{243}},
	{"guided-backprop", []Method{GuidedBackprop}, []int{243}},
	{"guided-gradcam", []Method{GuidedGradCAM}, []int{243}},
	{"cam", []Method{CAM}, []int{243}},
	{"gradcam+gb+cam-2classes", []Method{GradCAM, GuidedBackprop, CAM}, []int{243, 282}},
	{"occlusion", []Method{Occlusion}, []int{243}},
}

// resetPeakRSS resets the kernel's high-water mark of this process's resident memory (Linux) to
// the current RSS, after returning freed memory to the OS so that earlier benchmarks' garbage
// does not count.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS is VmHWM in bytes (0 where /proc is unavailable).
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

func benchBatch(b *testing.B, n int) *tensors.Tensor {
	names := []string{"cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png"}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = testref.Image(names[i%len(names)])
	}
	x, _, err := preprocess.Preprocess(preprocess.Stretch, paths...)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

func BenchmarkExplain(b *testing.B) {
	selected := benchModels
	if s := os.Getenv("GRADCAM_BENCH_MODELS"); s != "" {
		selected = strings.Split(s, ",")
	}
	modelsRef := testref.Ensure(b, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	for _, name := range selected {
		path := filepath.Join(modelsRef, name+".pth")
		if name == "mobilenet_v2" {
			path = filepath.Join(testref.Shared(), "weights", "mobilenet_v2_coral_dequant.pth")
		}
		m, err := models.LoadFile(name, path)
		if err != nil {
			b.Fatal(err)
		}
		for _, ms := range benchMethods {
			if only := os.Getenv("GRADCAM_BENCH_METHODS"); only != "" && !slices.Contains(strings.Split(only, ","), ms.name) {
				continue
			}
			if (ms.name == "cam" || strings.Contains(ms.name, "cam-2")) && m.CAM == nil {
				continue
			}
			for _, batch := range []int{1, 8} {
				x := benchBatch(b, batch)
				run := func(e *Explainer) {
					var err error
					if ms.methods == nil {
						_, err = m.Logits(x)
					} else {
						_, err = e.Explain(x, Request{Methods: ms.methods, Classes: ms.classes})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				report := func(b *testing.B) {
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
					b.ReportMetric(peakRSS(), "peak-bytes")
				}
				prefix := fmt.Sprintf("%s/%s/b%d", name, ms.name, batch)
				b.Run(prefix+"/first", func(b *testing.B) {
					runtime.GC()
					resetPeakRSS()
					for b.Loop() {
						b.StopTimer()
						m2, err := models.LoadFile(name, path) // a fresh model: nothing compiled
						if err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						if ms.methods == nil {
							if _, err := m2.Logits(x); err != nil {
								b.Fatal(err)
							}
						} else if _, err := New(m2).Explain(x, Request{Methods: ms.methods, Classes: ms.classes}); err != nil {
							b.Fatal(err)
						}
					}
					report(b)
				})
				b.Run(prefix+"/steady", func(b *testing.B) {
					e := New(m)
					run(e) // compile outside the measurement
					runtime.GC()
					resetPeakRSS()
					// Two more calls before the timed ones, three in all as bench/torch_bench.py
					// warms PyTorch up: the collection just made emptied the buffer pools, and a
					// timed call that fills them again is not the steady state.
					run(e)
					run(e)
					for b.Loop() {
						run(e)
					}
					report(b)
				})
			}
		}
	}
}

// BenchmarkMethods times every method at batch 1 (one class: 243) on ResNet-50 and VGG-16, for
// the comparison with the reference libraries (bench/methods.sh, bench/peers_bench.py). The
// first call of a new explainer (graph build and compilation) is reported as the metric
// first-s; the timed calls reuse the compiled graphs. Score-CAM and RISE (thousands of forwards:
// minutes) run once, their compilation included, and report no first-s.
//
//	go test ./gradcam -run '^$' -bench 'Methods/resnet50/scorecam' -benchtime 1x
func BenchmarkMethods(b *testing.B) {
	selected := []string{"resnet50", "vgg16"}
	if s := os.Getenv("GRADCAM_BENCH_MODELS"); s != "" {
		selected = strings.Split(s, ",")
	}
	modelsRef := testref.Ensure(b, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
	x := benchBatch(b, 1)
	for _, name := range selected {
		m, err := models.LoadFile(name, filepath.Join(modelsRef, name+".pth"))
		if err != nil {
			b.Fatal(err)
		}
		for _, method := range Methods() {
			if method == CAM && m.CAM == nil {
				continue
			}
			if only := os.Getenv("GRADCAM_BENCH_METHODS"); only != "" && !slices.Contains(strings.Split(only, ","), string(method)) {
				continue
			}
			req := Request{Methods: []Method{method}, Classes: []int{243}}
			b.Run(name+"/"+string(method), func(b *testing.B) {
				e := New(m)
				first := -1.0
				if !slices.Contains([]Method{ScoreCAM, RISE}, method) { // minutes each: timed once, compilation included
					start := time.Now()
					if _, err := e.Explain(x, req); err != nil {
						b.Fatal(err)
					}
					first = time.Since(start).Seconds()
				}
				for b.Loop() {
					if _, err := e.Explain(x, req); err != nil {
						b.Fatal(err)
					}
				}
				if first >= 0 { // after the loop: b.Loop's timer reset deletes metrics reported before it
					b.ReportMetric(first, "first-s")
				}
			})
		}
	}
}
