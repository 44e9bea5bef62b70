package testref

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// floors is the house's layering (README, Layout; docs/DESIGN.md): a package imports only
// packages on lower floors. A new package must be given a floor here.
var floors = map[string]int{
	// 0: no package of the module; heatmap: the map maths and the one linear resize
	"internal/catch": 0, "internal/atomicfile": 0, "internal/testref": 0, "internal/sgpoly": 0, "internal/fastvjp": 0,
	"heatmap": 0,
	// 1: the network blocks, the matrix multiply, NumPy files, image preprocessing, drawing
	"nn": 1, "internal/sgemm": 1, "internal/npy": 1, "preprocess": 1, "gradcam/render": 1,
	// 2: the fast executors, the ONNX reader, the test networks, the data sets
	"internal/fastdot": 2, "internal/onnxnet": 2, "internal/testnets": 2, "data": 2,
	// 3: the backend, which installs the executors and chooses the convolution path
	"backend": 3,
	// 4: models: networks with weights
	"models": 4,
	// 5: what explains, trains or ships a model
	"gradcam": 5, "train": 5, "pretrained/embedded": 5, "pretrained/disks": 5, "pretrained/scenes": 5,
	// 6: what builds on explanations and training
	"text": 6, "metrics": 6, "features": 6, "visualize": 6, "attack": 6, "pretrained/fashion": 6,
	// 7: what builds on those
	"pretrained/langid": 7, "paper": 7, "catalog": 7, "pretrained/disks/retrain": 7, "pretrained/vqa": 7, "pretrained/caption": 7,
	// 8: the entry points
	"cmd/gradcam": 8, "cmd/install-pjrt": 8, "notebook": 8, "notebooks": 8, "bench/measure": 8, "pretrained/langid/retrain": 8, "pretrained/scenes/retrain": 8,
}

// backendOnly are packages only the backend (and these packages themselves) may import: the
// pure-Go backend's executors and gradients, which the backend installs and chooses.
var backendOnly = []string{"internal/fastdot", "internal/fastvjp", "internal/sgpoly", "internal/sgemm"}

// TestNoImportGoesUp reads the packages' imports (go list -deps) and fails on an import from a
// lower floor to a higher one or the same floor, on a package without a floor, and on an import
// of the backend's executors from outside the backend.
func TestNoImportGoesUp(t *testing.T) {
	const module = "github.com/gradcam-go/gradcam"
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = Root()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	rel := func(p string) (string, bool) {
		if p == module {
			return "", true
		}
		r, ok := strings.CutPrefix(p, module+"/")
		return r, ok
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ours := rel(fields[0])
		if !ours {
			continue
		}
		floor, ok := floors[pkg]
		if !ok {
			t.Errorf("package %s has no floor: give it one in internal/testref/layers_test.go (and README's Layout)", pkg)
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			dep, ours := rel(imp)
			if !ours {
				continue
			}
			if f, ok := floors[dep]; ok && f >= floor {
				t.Errorf("%s (floor %d) imports %s (floor %d): an import must go down the floors", pkg, floor, dep, f)
			}
			if slices.Contains(backendOnly, dep) && pkg != "backend" && !slices.Contains(backendOnly, pkg) {
				t.Errorf("%s imports %s, which only the backend installs and chooses: go through package backend", pkg, dep)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d packages checked", checked)
	}
}
