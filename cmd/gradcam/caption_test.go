package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainCaptionCommand: gradcam explain-caption prints the caption with its log-probability
// and a line per word (WORD<TAB>PROBABILITY<TAB>PNG, the end mark last), and writes the whole
// caption's map and one per word; a 64-pixel scene is resized to the model's 48. A caption with a
// word outside the vocabulary, an empty --caption and a missing image are errors that leave no
// output folder.
func TestExplainCaptionCommand(t *testing.T) {
	scenes := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"scenes", "--n", "1", "--seed", "12", "--out", scenes}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(scenes, "0000.png")
	dir := filepath.Join(t.TempDir(), "out")
	out.Reset()
	if err := run([]string{"explain-caption", "--image", img, "--caption", "a red circle and a blue square", "--out", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "caption\ta red circle and a blue square\t-") {
		t.Errorf("first line %q, want the caption and its (negative) log-probability", lines[0])
	}
	// caption, whole, 7 words, the end mark, figure
	if len(lines) != 11 || !strings.HasPrefix(lines[9], "<end>\t") {
		t.Fatalf("output:\n%s", out.String())
	}
	for _, f := range []string{"caption.npy", "caption.png", "00-a.npy", "02-circle.png", "07-end.npy", "figure.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The model's own caption.
	out.Reset()
	if err := run([]string{"explain-caption", "--image", img, "--out", filepath.Join(t.TempDir(), "own")}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "caption\ta ") {
		t.Errorf("greedy caption: %s", out.String())
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image", img, "--caption", "a crimson circle"}, `"crimson"`},
		{[]string{"--image", img, "--caption", "   "}, "empty"},
		{[]string{"--image", filepath.Join(scenes, "missing.png")}, "missing.png"},
	} {
		bad := filepath.Join(t.TempDir(), "bad")
		err := run(append([]string{"explain-caption", "--out", bad}, tc.args...), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want a one-line error naming %s", tc.args, err, tc.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%v: the output folder was created", tc.args)
		}
	}
}
