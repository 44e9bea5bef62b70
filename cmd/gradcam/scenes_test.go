package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenesCommand: gradcam scenes writes NNNN.png and NNNN.json per scene, the same files for
// the same seed; bad input is a usage error naming the flag.
func TestScenesCommand(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	var out, errOut bytes.Buffer
	for _, dir := range []string{a, b} {
		if err := run([]string{"scenes", "--n", "3", "--seed", "5", "--out", dir}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"0000.png", "0000.json", "0002.png", "0002.json"} {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs of seed 5", f)
		}
	}
	var desc struct {
		Objects []struct {
			Shape  string   `json:"shape"`
			Colors []string `json:"colors"`
			Box    []int    `json:"box"`
			Mask   [][2]int `json:"mask"`
		} `json:"objects"`
		Questions []struct{ Question, Answer string } `json:"questions"`
		Caption   string                              `json:"caption"`
	}
	j, _ := os.ReadFile(filepath.Join(a, "0001.json"))
	if err := json.Unmarshal(j, &desc); err != nil {
		t.Fatal(err)
	}
	if len(desc.Objects) < 2 || len(desc.Objects[0].Box) != 4 || len(desc.Objects[0].Mask) == 0 || desc.Caption == "" || len(desc.Questions) == 0 {
		t.Errorf("0001.json: %s", j)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scenes", "--n", "0", "--out", a}, "--n 0"},
		{[]string{"scenes", "--n", "2"}, "--out is required"},
		{[]string{"scenes", "--size", "8", "--out", a}, "too small"},
	} {
		err := run(tc.args, &out, &errOut)
		var ue usageError
		if err == nil || !asUsage(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}
