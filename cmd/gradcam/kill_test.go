package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestKilledExplainLeavesCompleteFiles runs "gradcam explain" 20 times into the same folder
// and kills it with SIGKILL at random points: half at a random time of the run, half just after
// it has written its k-th file (while it writes the others). Every file in the folder must be
// complete (a .npy holding its declared shape, a .png that decodes) and nothing else may be left.
func TestKilledExplainLeavesCompleteFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: builds the command and runs it 21 times")
	}
	bin := filepath.Join(t.TempDir(), "gradcam")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := t.TempDir()
	args := []string{"explain", "--model", "mobilenet_v2", "--image", testref.Image("cat_dog.png"), "--class", "243",
		"--method", "gradcam,guided-gradcam,saliency,guided-backprop", "--out", out}
	env := append(os.Environ(), "GRADCAM_WEIGHTS="+filepath.Join(testref.Shared(), "weights"), "GRADCAM_CACHE="+t.TempDir())

	start := time.Now()
	full := exec.Command(bin, args...)
	full.Env = env
	if b, err := full.CombinedOutput(); err != nil {
		t.Fatalf("a full run failed: %v\n%s", err, b)
	}
	duration := time.Since(start)
	checkComplete(t, out, 10)

	rng := rand.New(rand.NewPCG(5, 6))
	for run := range 20 {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if run%2 == 0 { // a random moment of the run
			time.Sleep(time.Duration(rng.Int64N(int64(duration))))
		} else { // just after the k-th file is written
			k, lines := 1+rng.IntN(4), bufio.NewScanner(stdout)
			for seen := 0; seen < k && lines.Scan(); {
				if strings.Contains(lines.Text(), out) {
					seen++
				}
			}
			time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Millisecond))))
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		checkComplete(t, out, 0)
	}
}

var npyShape = regexp.MustCompile(`'shape': \(([0-9, ]*)\)`)

// checkComplete fails on any file in dir that is not a complete .npy or .png; at least n must
// be there.
func checkComplete(t *testing.T, dir string, n int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < n {
		t.Fatalf("%d files, want at least %d", len(entries), n)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(e.Name()) {
		case ".png":
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Errorf("%s is not a complete PNG: %v", e.Name(), err)
			}
		case ".npy":
			if len(data) < 10 || !bytes.HasPrefix(data, []byte("\x93NUMPY")) {
				t.Errorf("%s is not a NumPy file", e.Name())
				continue
			}
			hlen := int(binary.LittleEndian.Uint16(data[8:10]))
			m := npyShape.FindSubmatch(data[10:min(len(data), 10+hlen)])
			if m == nil {
				t.Errorf("%s has no complete header", e.Name())
				continue
			}
			size := 4
			for _, d := range strings.Split(string(m[1]), ",") {
				if d = strings.TrimSpace(d); d != "" {
					v, _ := strconv.Atoi(d)
					size *= v
				}
			}
			if len(data) != 10+hlen+size {
				t.Errorf("%s holds %d bytes of data, its shape needs %d", e.Name(), len(data)-10-hlen, size)
			}
		default:
			t.Errorf("%s left in the output folder", e.Name())
		}
	}
}
