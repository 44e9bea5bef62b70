// Command measure runs one piece of a user's work in a fresh process, as a GoNB cell runs it,
// and prints its wall time and the process's peak resident memory (VmHWM) as JSON:
//
//	measure load --model vgg16 --weights vgg16.pth
//	    loads the checkpoint (bench/load.py: load time and memory, Go against PyTorch)
//	measure notebook01 --model vgg16 --weights vgg16.pth --image ../shared/images/cat_dog.png
//	    notebook 01's heaviest cell: guided backprop, Grad-CAM, Guided Grad-CAM, occlusion and
//	    counterfactual Grad-CAM for the tiger cat and the boxer (bench/memory.sh)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/preprocess"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "load" && os.Args[1] != "notebook01") {
		fmt.Fprintln(os.Stderr, "usage: measure load|notebook01 --model NAME --weights FILE [--image FILE]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	model := fs.String("model", "vgg16", "architecture")
	weights := fs.String("weights", "", "checkpoint file")
	image := fs.String("image", "", "image (notebook01: cat_dog.png)")
	fs.Parse(os.Args[2:])
	out, err := run(os.Args[1], *model, *weights, *image)
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func run(what, model, weights, image string) (map[string]any, error) {
	st, err := os.Stat(weights)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	m, err := models.LoadFile(model, weights)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"model": model, "weights_mb": float64(st.Size()) / (1 << 20), "load_s": time.Since(start).Seconds()}
	if what == "notebook01" {
		x, _, err := preprocess.Preprocess(preprocess.Stretch, image)
		if err != nil {
			return nil, err
		}
		const tigerCat, boxer = 282, 242
		methods := []gradcam.Method{gradcam.GuidedBackprop, gradcam.GradCAM, gradcam.GuidedGradCAM, gradcam.Occlusion, gradcam.Counterfactual}
		if _, err := gradcam.New(m).Explain(x, gradcam.Request{Methods: methods, Classes: []int{tigerCat, boxer}}); err != nil {
			return nil, err
		}
	}
	out["wall_s"] = time.Since(start).Seconds()
	out["peak_mb"] = peakMB()
	return out, nil
}

// peakMB is the process's peak resident set (VmHWM), in MiB; 0 where /proc is missing.
func peakMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
