// Package notebooks holds the GoNB notebooks; its test executes them headlessly.
package notebooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// minFigures is how many figures (PNG outputs, or PNG images inside HTML outputs) each notebook
// must show.
var minFigures = map[string]int{
	"01_gradcam_figure1.ipynb":                     40, // Figure 1 (3 rows of 5), panels f/l, Figure 3, the seeds' figures on two networks
	"02_cam_vs_gradcam.ipynb":                      3,
	"03_gradcam_layers_and_classes.ipynb":          2,
	"04_cnn_visualization_lab.ipynb":               4,
	"05_your_own_network.ipynb":                    42, // ... and the GoMLX-layers network's three rows of four
	"06_text_gradcam.ipynb":                        0,  // coloured text (HTML), no pictures
	"07_regression_activation_maps.ipynb":          6,
	"08_every_cam_method.ipynb":                    20,
	"09_cam_vs_gradcam_measured.ipynb":             5,  // maps with boxes, two curves, the sanity check, the families
	"10_what_a_cnn_learned.ipynb":                  18, // class models, a unit, the flipbook, patches, neighbours, two maps, the explorer
	"11_gradcam_by_hand.ipynb":                     10, // without/with the ReLU, the three panels, five layers
	"12_failure_modes_and_adversarial_noise.ipynb": 30, // four photos x two classes x three pictures, the attack, six maps
	"13_faithfulness_and_localization.ipynb":       0,  // tables
	"14_finetuning_like_the_blog.ipynb":            20, // five pictures, input and Grad-CAM, two models
	"15_finding_bias.ipynb":                        24, // eight pictures, two networks x four pictures x (input, map)
	"16_vqa_and_captioning.ipynb":                  20, // four scenes, three answers x four pictures, two failure rows, the caption's words
	"17_beyond_gradients.ipynb":                    20, // the composites' row, the rules' two rows, DeepLift against IG, the samplers
}

// imageNet are the notebooks that explain the default ImageNet model (offline: the embedded one).
var imageNet = map[string]bool{"02_cam_vs_gradcam.ipynb": true,
	"03_gradcam_layers_and_classes.ipynb": true, "08_every_cam_method.ipynb": true,
	"10_what_a_cnn_learned.ipynb": true, "17_beyond_gradients.ipynb": true}

// mustSay is text a notebook's outputs must contain: what shows a section worked.
var mustSay = map[string][]string{
	"01_gradcam_figure1.ipynb": {"in the tiger cat box"}, // the measured masses under the figures
	"05_your_own_network.ipynb": {"fashion_effnet (10 outputs, 52 layers; CAM at", // the ONNX model from PyTorch
		"gomlx-fashion, GoMLX layers: test accuracy"}, // the GoMLX-layers network, trained and explained
	"16_vqa_and_captioning.ipynb":         {"| answer accuracy |", "| greedy captions equal to the truth |"},
	"06_text_gradcam.ipynb":               {"</b>: de, probability"}, // a German text, coloured
	"07_regression_activation_maps.ipynb": {"of the mass on red disks"},
	"08_every_cam_method.ipynb":           {"9 methods in one call"},                                          // and one backward pass
	"09_cam_vs_gradcam_measured.ipynb":    {"| fashion-gap | cam |", "| fashion-gap | input-x-gradient | 0."}, // the committed tables, and the live one
	"10_what_a_cnn_learned.ipynb":         {"nearest neighbour of the same class:"},
	"17_beyond_gradients.ipynb":           {"of the logit"},
}

// expectedErrors are the errors a notebook shows on purpose (notebook.Error's red box): any
// other red box is a failed cell.
var expectedErrors = map[string][]string{
	"05_your_own_network.ipynb": {"CAM does not apply to fashion-fc"},
}

// errorBox is how notebook.Error shows an error in a cell.
var errorBox = regexp.MustCompile(`<pre style="color:#b00;white-space:pre-wrap">([^<]*)</pre>`)

// failure marks what GoNB prints when a cell panics or exits non-zero (nbconvert itself does not
// fail then); on stderr, any error at all.
var (
	failure       = regexp.MustCompile(`(?m)^panic: |exit status \d+|^goroutine \d+ \[|\.go:\d+:\d+: `)
	stderrFailure = regexp.MustCompile(`(?i)\berror\b|\bfatal\b`)
)

type notebookJSON struct {
	Cells []struct {
		CellType       string `json:"cell_type"`
		ExecutionCount *int   `json:"execution_count"`
		Outputs        []struct {
			OutputType string                     `json:"output_type"`
			Name       string                     `json:"name"`
			Text       json.RawMessage            `json:"text"`
			Data       map[string]json.RawMessage `json:"data"`
			EName      string                     `json:"ename"`
			EValue     string                     `json:"evalue"`
		} `json:"outputs"`
	} `json:"cells"`
}

// text joins a notebook string field (a string or a list of strings).
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []string
	_ = json.Unmarshal(raw, &parts)
	return strings.Join(parts, "")
}

// TestNotebooks executes every notebook with the GoNB kernel, fails on any cell error, panic or
// non-zero exit, and counts the figures. By default it runs them as on a machine without
// internet: no weights on disk, downloads pointed at a closed port, so the notebooks' default
// model (VGG-16) falls back to the embedded MobileNetV2, which every notebook must then say.
// With GRADCAM_MODEL set it runs that model (GRADCAM_WEIGHTS, GRADCAM_CACHE as given).
func TestNotebooks(t *testing.T) {
	nbconvert := "/usr/bin/jupyter-nbconvert"
	if _, err := os.Stat(nbconvert); err != nil {
		t.Fatalf("%s is needed (apt-get install jupyter-nbconvert python3-nbclient), and the GoNB kernel "+
			"(bash kernelspec/install.sh): %v", nbconvert, err)
	}
	notebooks, _ := filepath.Glob("[0-9]*.ipynb")
	if len(notebooks) != len(minFigures) {
		t.Fatalf("found notebooks %v, expected %d", notebooks, len(minFigures))
	}
	out := t.TempDir()
	offline := os.Getenv("GRADCAM_MODEL") == ""
	for _, name := range notebooks {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(nbconvert, "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=1800",
				"--ExecutePreprocessor.kernel_name=gonb", "--output-dir", out, name)
			cmd.Env = append(os.Environ(), "GRADCAM_IMAGES="+filepath.Join(testref.Shared(), "images"), "GOWORK=off")
			if offline {
				cmd.Env = append(cmd.Env, "GRADCAM_MODEL=", "GRADCAM_WEIGHTS=", "GRADCAM_CACHE="+t.TempDir(),
					"GRADCAM_MODELS_URL=http://127.0.0.1:1/")
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("nbconvert: %v\n%s", err, lastLines(stderr.String(), 40))
			}
			data, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			problems, figures := scan(data, expectedErrors[name]...)
			for _, p := range problems {
				t.Error(p)
			}
			if offline && imageNet[name] && !bytes.Contains(data, []byte("using the embedded ImageNet MobileNetV2")) {
				t.Error("offline, the notebook does not say it fell back to the embedded model")
			}
			for _, want := range mustSay[name] {
				if !bytes.Contains(data, []byte(want)) {
					t.Errorf("the outputs do not say %q", want)
				}
			}
			if figures < minFigures[name] {
				t.Errorf("%d figures, want at least %d", figures, minFigures[name])
			}
			t.Logf("%s: %d figures", name, figures)
		})
	}
}

// scan lists what failed in an executed notebook (errors it shows, except the expected ones) and
// counts its figures.
func scan(data []byte, expected ...string) (problems []string, figures int) {
	var nb notebookJSON
	if err := json.Unmarshal(data, &nb); err != nil {
		return []string{"not a notebook: " + err.Error()}, 0
	}
	for i, c := range nb.Cells {
		if c.CellType != "code" {
			continue
		}
		if c.ExecutionCount == nil {
			problems = append(problems, fmt.Sprintf("cell %d did not run", i))
		}
		for _, o := range c.Outputs {
			switch {
			case o.OutputType == "error":
				problems = append(problems, fmt.Sprintf("cell %d: %s: %s", i, o.EName, o.EValue))
			case o.OutputType == "stream" && (failure.MatchString(text(o.Text)) ||
				o.Name == "stderr" && stderrFailure.MatchString(text(o.Text))):
				problems = append(problems, fmt.Sprintf("cell %d failed:\n%s", i, lastLines(text(o.Text), 20)))
			}
			if _, ok := o.Data["image/png"]; ok {
				figures++
			}
			if h, ok := o.Data["text/html"]; ok {
				figures += strings.Count(text(h), `src="data:image/png`)
				for _, m := range errorBox.FindAllStringSubmatch(text(h), -1) {
					if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(m[1], e) }) {
						problems = append(problems, fmt.Sprintf("cell %d shows an error: %s", i, m[1]))
					}
				}
			}
		}
	}
	return problems, figures
}

// ownHelpers are what a notebook must not write for itself (issue 30): the toolkit has them
// (notebook.Must, metrics.Pearson, notebook.Load and notebook.Images, the models' own
// transforms), and the environment is the notebook package's to read.
var ownHelpers = regexp.MustCompile(`func (must|must2|pearson|correlation|load|model|gapModel)\b|os\.Getenv\(|\.Preprocess\(`)

// TestNotebooksUseTheToolkit reads every notebook's code: its first Go cell (after the module
// line) is imports only, and no cell defines a helper the toolkit has or reads the environment.
func TestNotebooksUseTheToolkit(t *testing.T) {
	notebooks, _ := filepath.Glob("[0-9]*.ipynb")
	if len(notebooks) != len(minFigures) {
		t.Fatalf("found notebooks %v, expected %d", notebooks, len(minFigures))
	}
	for _, name := range notebooks {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			Cells []struct {
				CellType string          `json:"cell_type"`
				Source   json.RawMessage `json:"source"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(data, &nb); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		first := true
		for i, c := range nb.Cells {
			src := text(c.Source)
			if c.CellType != "code" || strings.HasPrefix(src, "!") {
				continue
			}
			if first && !regexp.MustCompile(`^import \([^)]*\)\s*$`).MatchString(src) {
				t.Errorf("%s: the first Go cell (%d) is not only imports:\n%s", name, i, src)
			}
			first = false
			for _, m := range ownHelpers.FindAllString(src, -1) {
				t.Errorf("%s cell %d: %q: use the toolkit's (package notebook)", name, i, m)
			}
		}
		if first {
			t.Errorf("%s has no Go cell", name)
		}
	}
}

// TestScanFindsFailures: what GoNB leaves in a notebook when a cell panics, exits non-zero or
// raises is reported; ordinary output is not.
func TestScanFindsFailures(t *testing.T) {
	cell := func(outputs string) string {
		return `{"cell_type": "code", "execution_count": 1, "outputs": [` + outputs + `]}`
	}
	nb := func(cells ...string) []byte { return []byte(`{"cells": [` + strings.Join(cells, ",") + `]}`) }
	tests := []struct {
		name     string
		data     []byte
		problems int
		figures  int
	}{
		{"panic", nb(cell(`{"output_type": "stream", "name": "stderr", "text": ["panic: boom\n", "\n", "goroutine 1 [running]:\n"]}`)), 1, 0},
		{"exit status", nb(cell(`{"output_type": "stream", "name": "stderr", "text": "exit status 3\n"}`)), 1, 0},
		{"error output", nb(cell(`{"output_type": "error", "ename": "Error", "evalue": "failed"}`)), 1, 0},
		{"not run", nb(`{"cell_type": "code", "execution_count": null, "outputs": []}`), 1, 0},
		{"error shown", nb(cell(`{"output_type": "display_data", "data": {"text/html": "<pre style=\"color:#b00;white-space:pre-wrap\">image 0 is 112x112</pre>"}}`)), 1, 0},
		{"fine", nb(cell(`{"output_type": "stream", "name": "stdout", "text": "CAM does not apply to vgg16\n"}`),
			cell(`{"output_type": "display_data", "data": {"image/png": "iVBOR"}}`),
			cell(`{"output_type": "display_data", "data": {"text/html": "<img src=\"data:image/png;base64,AA\"/><img src=\"data:image/png;base64,BB\"/>"}}`)), 0, 3},
	}
	for _, tc := range tests {
		problems, figures := scan(tc.data)
		if len(problems) != tc.problems || figures != tc.figures {
			t.Errorf("%s: %d problems %q, %d figures; want %d, %d", tc.name, len(problems), problems, figures, tc.problems, tc.figures)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestExplorerInBrowser runs the explorer cell of notebook 10 in a real browser: a Jupyter server
// with the GoNB kernel, headless Chromium driven by Selenium (testdata/browser.py), the layer
// slider moved, and the picture checked to change. Screenshots before and after are kept in
// .cache/browser-test/. It skips, saying so, only where Chromium or its driver is not installed
// (.ci/deps.sh installs them).
func TestExplorerInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test takes a minute")
	}
	for _, f := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromedriver", "/usr/bin/jupyter-notebook"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("no browser test: %s is missing (apt-get install chromium chromium-driver python3-selenium jupyter-notebook)", f)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import selenium").Run(); err != nil {
		t.Skipf("no browser test: python3-selenium is missing (apt-get install python3-selenium): %v", err)
	}
	// A copy beside the notebooks (GoNB finds the module from the notebook's folder), removed
	// after; the page's autosave is turned off, so the committed notebook is never written.
	src, err := os.ReadFile("10_what_a_cnn_learned.ipynb")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("browser-test-%d.ipynb", os.Getpid()) // not a hidden file: Jupyter refuses those
	if err := os.WriteFile(name, src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(name) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	here, _ := os.Getwd()
	server := exec.Command("/usr/bin/jupyter-notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
		fmt.Sprintf("--port=%d", port), "--NotebookApp.token=", "--NotebookApp.password=", "--notebook-dir="+here)
	server.Env = append(os.Environ(), "GRADCAM_IMAGES="+filepath.Join(testref.Shared(), "images"), "GOWORK=off",
		"GRADCAM_MODEL=", "GRADCAM_WEIGHTS=", "GRADCAM_CACHE="+t.TempDir(), "GRADCAM_MODELS_URL=http://127.0.0.1:1/")
	var serverLog bytes.Buffer
	server.Stdout, server.Stderr = &serverLog, &serverLog
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		_ = server.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for start := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		if resp, err := http.Get(url + "/api"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the Jupyter server did not answer in a minute:\n%s", lastLines(serverLog.String(), 30))
		}
	}

	shots := filepath.Join(testref.Root(), ".cache", "browser-test")
	drive := exec.Command("/usr/bin/python3", filepath.Join("testdata", "browser.py"), url, name, shots)
	var stdout, stderr bytes.Buffer
	drive.Stdout, drive.Stderr = &stdout, &stderr
	err = drive.Run()
	t.Logf("browser: %s\n%s", strings.TrimSpace(stdout.String()), lastLines(stderr.String(), 20))
	if err != nil {
		t.Fatalf("the explorer did not work in the browser (%v); screenshots in %s; Jupyter's log:\n%s", err, shots, lastLines(serverLog.String(), 30))
	}
	var res struct {
		Before, After    string
		Changed, Stopped bool
	}
	if err := json.Unmarshal([]byte(lastLines(stdout.String(), 1)), &res); err != nil {
		t.Fatalf("browser.py printed %q: %v", stdout.String(), err)
	}
	if !res.Changed || !res.Stopped || res.Before == res.After || !strings.Contains(res.Before, "layer") {
		t.Errorf("explorer: before %q, after %q, changed %v, stopped %v", res.Before, res.After, res.Changed, res.Stopped)
	}
	for _, f := range []string{"before.png", "after.png"} {
		if st, err := os.Stat(filepath.Join(shots, f)); err != nil || st.Size() < 10000 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
}
