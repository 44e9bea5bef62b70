package testref

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// floors is the house's layering (README, Layout; docs/DESIGN.md): a package imports only
// packages on lower floors. A new package must be given a floor here.
var floors = map[string]int{
	// 0: no package of the module; heatmap: the map maths and the one linear resize
	"internal/catch": 0, "internal/atomicfile": 0, "internal/faults": 0, "internal/testref": 0, "backend/internal/sgpoly": 0, "backend/internal/fastvjp": 0,
	"heatmap": 0,
	// 1: the network blocks, the matrix multiply, NumPy files, image preprocessing, drawing, the
	// checkpoint formats
	"nn": 1, "backend/internal/sgemm": 1, "internal/npy": 1, "preprocess": 1, "gradcam/render": 1, "models/checkpoint": 1,
	// 2: the fast executors, the ONNX reader, the test networks, the data sets, the torchvision
	// architectures, the load cache
	"backend/internal/fastdot": 2, "models/internal/onnxnet": 2, "testnets": 2, "data": 2, "models/zoo": 2, "models/loadcache": 2,
	// 3: the backend, which installs the executors and chooses the convolution path; the store of
	// torchvision checkpoints
	"backend": 3, "models/store": 3,
	// 4: models: networks with weights; XLA linked in (imported for its side effect)
	"models": 4, "backend/xla": 4,
	// 5: what explains, trains or ships a model; the environment's reader (for the entry points)
	"environ": 5, "gradcam": 5, "train": 5, "pretrained/embedded": 5, "pretrained/disks": 5, "pretrained/scenes": 5,
	// 6: what builds on explanations and training
	"text": 6, "metrics": 6, "features": 6, "visualize": 6, "attack": 6, "pretrained/fashion": 6,
	// 7: what builds on those
	"pretrained/langid": 7, "paper": 7, "catalog": 7, "pretrained/disks/retrain": 7, "pretrained/vqa": 7, "pretrained/caption": 7,
	// 8: the entry points
	"cmd/gradcam": 8, "cmd/install-pjrt": 8, "notebook": 8, "notebooks": 8, "bench/measure": 8, "pretrained/langid/retrain": 8, "pretrained/scenes/retrain": 8,
}

// The backend's executors and gradients (backend/internal/...) are Go-internal to package
// backend: the compiler refuses any other importer.

// TestNoImportGoesUp reads the packages' imports (go list -deps) and fails on an import from a
// lower floor to a higher one or the same floor, and on a package without a floor.
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
		}
	}
	if checked < 30 {
		t.Fatalf("only %d packages checked", checked)
	}
}

// readsEnvironment are the packages that may read the environment: the entry points (package
// main, and the notebooks' package) and the reader they share. A library package takes its
// settings as options (issue 30), so that it computes the same whatever the environment; the test
// support reads where the shared test data is.
var readsEnvironment = []string{"notebook", "environ", "internal/testref"}

// TestOnlyEntryPointsReadTheEnvironment scans every non-test Go file of the module and fails on a
// read of an environment variable outside the entry points.
func TestOnlyEntryPointsReadTheEnvironment(t *testing.T) {
	const module = "github.com/gradcam-go/gradcam"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{.Name}} {{.Dir}} {{join .GoFiles " "}}`, "./...")
	cmd.Dir = Root()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	reads := regexp.MustCompile(`\b(os\.Getenv|os\.LookupEnv|os\.Environ|syscall\.Getenv)\(`)
	scanned := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg, name, dir := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/"), f[1], f[2]
		if name == "main" || slices.Contains(readsEnvironment, pkg) {
			continue
		}
		for _, file := range f[3:] {
			src, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			scanned++
			for i, l := range strings.Split(string(src), "\n") {
				if reads.MatchString(l) {
					t.Errorf("%s/%s:%d reads the environment: take the setting as an option, read by cmd/ or notebook/ "+
						"(package environ)", pkg, file, i+1)
				}
			}
		}
	}
	if scanned < 100 {
		t.Fatalf("only %d files scanned", scanned)
	}
}

// TestNoExportedMutableState parses every non-test Go file of the module's library packages and
// fails on an exported package-level variable (issue 30): defaults and tables are functions or
// constants, settings are options. Error sentinels (ErrX = errors.New(...)) are values callers
// compare with errors.Is, and the test networks of testnets are fixtures of the tests.
func TestNoExportedMutableState(t *testing.T) {
	root := Root()
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") || p == filepath.Join(root, "testnets") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		checked++
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				for _, name := range spec.(*ast.ValueSpec).Names {
					if name.IsExported() && !strings.HasPrefix(name.Name, "Err") {
						rel, _ := filepath.Rel(root, p)
						t.Errorf("%s: exported package variable %s: make it a function, a constant or an option", rel, name.Name)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked", checked)
	}
}
