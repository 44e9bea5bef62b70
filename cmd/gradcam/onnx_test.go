package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestExplainONNX: "gradcam explain --onnx FILE --layer NODE --class C --method ..." on a ResNet-18
// exported from PyTorch writes the maps PyTorch computes (gradcam/testdata/reference_onnx.py).
func TestExplainONNX(t *testing.T) {
	ref := testref.Ensure(t, "gradcam/testdata/reference_onnx.py", "onnx-ref", testref.Shared())
	b, err := os.ReadFile(filepath.Join(ref, "resnet18", "layer.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err = run([]string{"explain", "--onnx", filepath.Join(ref, "resnet18.onnx"), "--image", testref.Image("cat_dog.png"),
		"--layer", strings.TrimSpace(string(b)), "--class", "243", "--method", "gradcam,guided-gradcam,cam", "--out", dir}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, name := range []string{"gradcam", "guided-gradcam", "cam"} {
		got, _ := testref.ReadNPY(t, filepath.Join(dir, name+".npy"))
		want, _ := testref.ReadNPY(t, filepath.Join(ref, "resnet18", "243", name+".npy"))
		if r, e := testref.Pearson(got, want), testref.MaxRelErr(got, want); r < 0.999 || e > 0.01 {
			t.Errorf("%s: correlation %.5f, max error %.3g", name, r, e)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--onnx", filepath.Join(ref, "resnet18.onnx"), "--model", "resnet18"}, "an ONNX file is a whole model"},
		{[]string{"--onnx", filepath.Join(ref, "resnet18.onnx"), "--layer", "layer4"}, `unknown layer "layer4"`},
		{[]string{"--onnx", filepath.Join(ref, "unsupported.onnx")}, `Resize node "/1/Resize" is an op this toolkit does not convert`},
		{[]string{"--onnx", testref.Image("cat_dog.png")}, "is not a readable ONNX model"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			args := append([]string{"explain", "--image", testref.Image("cat_dog.png"), "--out", t.TempDir()}, tc.args...)
			err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
