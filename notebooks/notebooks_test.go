// Package notebooks holds the GoNB notebooks; its test executes them headlessly.
package notebooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// minFigures is how many figures (PNG outputs, or PNG images inside HTML outputs) each notebook
// must show.
var minFigures = map[string]int{
	"01_gradcam_figure1.ipynb":            2,
	"02_cam_vs_gradcam.ipynb":             3,
	"03_gradcam_layers_and_classes.ipynb": 2,
	"04_cnn_visualization_lab.ipynb":      4,
	"05_your_own_network.ipynb":           30,
	"06_text_gradcam.ipynb":               0, // coloured text (HTML), no pictures
	"07_regression_activation_maps.ipynb": 6,
	"08_every_cam_method.ipynb":           20,
}

// imageNet are the notebooks that explain the default ImageNet model (offline: the embedded one).
var imageNet = map[string]bool{"01_gradcam_figure1.ipynb": true, "02_cam_vs_gradcam.ipynb": true,
	"03_gradcam_layers_and_classes.ipynb": true, "04_cnn_visualization_lab.ipynb": true, "08_every_cam_method.ipynb": true}

// mustSay is text a notebook's outputs must contain: what shows a section worked.
var mustSay = map[string]string{
	"05_your_own_network.ipynb":           "fashion_effnet (10 outputs, 52 layers; CAM at", // the ONNX model from PyTorch
	"06_text_gradcam.ipynb":               "</b>: de, probability",                         // a German text, coloured
	"07_regression_activation_maps.ipynb": "of the mass on red disks",
	"08_every_cam_method.ipynb":           "9 methods in one call", // and one backward pass
}

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
			problems, figures := scan(data)
			for _, p := range problems {
				t.Error(p)
			}
			if offline && imageNet[name] && !bytes.Contains(data, []byte("using the embedded ImageNet MobileNetV2")) {
				t.Error("offline, the notebook does not say it fell back to the embedded model")
			}
			if want, ok := mustSay[name]; ok && !bytes.Contains(data, []byte(want)) {
				t.Errorf("the outputs do not say %q", want)
			}
			if figures < minFigures[name] {
				t.Errorf("%d figures, want at least %d", figures, minFigures[name])
			}
			t.Logf("%s: %d figures", name, figures)
		})
	}
}

// scan lists what failed in an executed notebook and counts its figures.
func scan(data []byte) (problems []string, figures int) {
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
			}
		}
	}
	return problems, figures
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
