package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCommandLine: no command line makes the command panic. It runs in an empty folder, with
// no weights to be found and downloads pointed at a closed port, so every path ends in an error
// or a listing, never in real work. train-demo, evaluate and visualize are left out: they work
// on the shipped networks and data, which need no file, so a valid line runs for minutes
// (their flags have tests of their own).
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"predict --model resnet18 --image x.png --top 3",
		"explain --model mobilenet_v2 --image a.png --class 3 --method gradcam,cam --out o --colormap turbo",
		"explain --model vgg16 --image a.png --occlusion-patch 10 --occlusion-stride 30 --method occlusion --out o",
		"finetune --model resnet18 --data d --out f.safetensors --epochs 2 --lr 0.1",
		"models", "--help", "predict --crop", "explain --class -7", "finetune --out x.pth",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "/") || strings.Contains(line, "..") || strings.Contains(line, "~") {
			t.Skip("paths outside the test's folder")
		}
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "train-demo" || f[0] == "evaluate" || f[0] == "visualize") {
			t.Skip("real work on shipped networks")
		}
		t.Chdir(t.TempDir())
		t.Setenv("GRADCAM_WEIGHTS", ".")
		t.Setenv("GRADCAM_CACHE", "cache")
		t.Setenv("GRADCAM_MODELS_URL", "http://127.0.0.1:1/")
		var out, errOut bytes.Buffer
		_ = run(strings.Fields(line), &out, &errOut) // an error is fine; a panic fails the fuzzer
	})
}
