package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVisualizeCommand makes the trouser class model of the demo network and checks the PNG and
// what the command says.
func TestVisualizeCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "trouser.png")
	var stdout, stderr bytes.Buffer
	err := run([]string{"visualize", "--model", "fashion-gap", "--class", "1", "--steps", "40", "--jitter", "2", "--blur-sigma", "0.5", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 { // 64x64, enlarged 4 times to reach 224
		t.Errorf("image %v, want 256x256", b)
	}
	for _, want := range []string{"class 1 (Trouser) of fashion-gap: score", "in 40 steps", "classifies it as 1 (Trouser)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output %q does not say %q", stdout.String(), want)
		}
	}
}

// TestVisualizeBadInput checks one-line errors.
func TestVisualizeBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.png")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no objective", []string{"--model", "fashion-gap", "--out", out}, "either --class C or --layer NAME"},
		{"both objectives", []string{"--model", "fashion-gap", "--class", "1", "--layer", "block1.relu", "--out", out}, "either --class C or --layer NAME"},
		{"class out of range", []string{"--model", "fashion-gap", "--class", "10", "--out", out}, "class 10 is out of range"},
		{"unknown layer", []string{"--model", "fashion-gap", "--layer", "block9", "--out", out}, `no spatial layer "block9"`},
		{"no --out", []string{"--model", "fashion-gap", "--class", "1"}, "--out is required"},
		{"unknown model", []string{"--model", "fashion-xl", "--class", "1", "--out", out}, "fashion-gap, fashion-fc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"visualize"}, c.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line saying %q", err, c.want)
			}
			if _, statErr := os.Stat(out); statErr == nil {
				t.Error("a file was written")
			}
		})
	}
}
