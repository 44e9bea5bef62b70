// Command loadtime measures what loading a model costs a fresh process, as a GoNB cell pays it:
// it loads an architecture's checkpoint once and prints the load's wall time and the process's
// peak resident memory (VmHWM) as JSON. bench/load.sh runs it beside PyTorch's equivalent.
//
//	go run ./bench/loadtime --model vgg16 --weights vgg16.safetensors
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gradcam-go/gradcam/models"
)

func main() {
	model := flag.String("model", "vgg16", "architecture")
	weights := flag.String("weights", "", "checkpoint file")
	flag.Parse()
	if *weights == "" {
		fmt.Fprintln(os.Stderr, "loadtime: --weights is required")
		os.Exit(2)
	}
	st, err := os.Stat(*weights)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtime:", err)
		os.Exit(1)
	}
	start := time.Now()
	m, err := models.LoadFile(*model, *weights, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtime:", err)
		os.Exit(1)
	}
	elapsed := time.Since(start)
	out := map[string]any{"model": *model, "weights_mb": float64(st.Size()) / (1 << 20),
		"load_s": elapsed.Seconds(), "peak_mb": peakMB(), "source": m.Source}
	json.NewEncoder(os.Stdout).Encode(out)
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
