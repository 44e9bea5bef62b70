package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExplainVQACommand: gradcam explain-vqa prints ANSWER<TAB>PROBABILITY lines, best first,
// and writes each method's map for the best answer or the one asked; a 64-pixel scene is resized
// to the model's 48. Bad questions and answers are usage errors naming the problem, and leave no
// output folder.
func TestExplainVQACommand(t *testing.T) {
	scenes := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"scenes", "--n", "1", "--seed", "11", "--out", scenes}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Questions []struct{ Question, Answer string } `json:"questions"`
	}
	j, _ := os.ReadFile(filepath.Join(scenes, "0000.json"))
	if err := json.Unmarshal(j, &desc); err != nil || len(desc.Questions) == 0 {
		t.Fatalf("0000.json: %v %s", err, j)
	}
	img := filepath.Join(scenes, "0000.png")
	q := desc.Questions[0]
	dir := filepath.Join(t.TempDir(), "out")
	out.Reset()
	if err := run([]string{"explain-vqa", "--image", img, "--question", q.Question, "--top", "3", "--out", dir}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := 2.0
	for _, l := range lines[:3] {
		f := strings.Split(l, "\t")
		p, err := strconv.ParseFloat(f[len(f)-1], 64)
		if len(f) != 2 || err != nil || p > last {
			t.Fatalf("answer lines %q are not ANSWER<TAB>PROBABILITY, best first", lines[:3])
		}
		last = p
	}
	for _, f := range []string{"gradcam.npy", "gradcam.png", "guided-backprop.npy", "guided-gradcam.png", "figure.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	dir2 := filepath.Join(t.TempDir(), "answer")
	if err := run([]string{"explain-vqa", "--image", img, "--question", q.Question, "--answer", "yellow and red", "--method", "gradcam",
		"--out", dir2}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--question", "what colour is the circle?"}, `"colour"`},
		{[]string{"--question", "?"}, "empty"},
		{[]string{"--question", "what color is the circle and the square and the red cross"}, "at most"},
		{[]string{"--question", "what color is the circle?", "--answer", "orange"}, "orange"},
	} {
		bad := filepath.Join(t.TempDir(), "bad")
		err := run(append([]string{"explain-vqa", "--image", img, "--out", bad}, tc.args...), &out, &errOut)
		var ue usageError
		if err == nil || !asUsage(err, &ue) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want a one-line usage error naming %s", tc.args, err, tc.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%v: the output folder was created", tc.args)
		}
	}
}
