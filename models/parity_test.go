package models

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/gradcam-go/gradcam/internal/testref"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/models/zoo"
	"github.com/gradcam-go/gradcam/nn"
	"github.com/gradcam-go/gradcam/preprocess"
)

// parityTolerance is the largest error relative to the reference's magnitude accepted between Go
// and PyTorch float32 results (the 1e-4).
const parityTolerance = 1e-4

// reference returns the directory written by testdata/reference.py.
func reference(t testing.TB) string {
	return testref.Ensure(t, "models/testdata/reference.py", "models-ref", filepath.Join(testref.Shared(), "images"))
}

// TestParityWithPyTorch loads the random-weight checkpoint of every architecture, runs the
// PyTorch test batch through it, and compares the logits and chosen activations with PyTorch's.
func TestParityWithPyTorch(t *testing.T) {
	ref := reference(t)
	inputData, inputShape := testref.ReadNPY(t, filepath.Join(ref, "input.npy"))

	// The Go preprocessing must give PyTorch's input.
	x, _, err := preprocess.Preprocess(preprocess.Stretch, testref.Image("cat_dog.png"), testref.Image("snake.png"))
	if err != nil {
		t.Fatal(err)
	}
	if e := testref.MaxRelErr(tensors.MustCopyFlatData[float32](x), inputData); e > 1e-6 {
		t.Errorf("preprocessing differs from PyTorch's: relative error %g", e)
	}
	input := tensors.FromFlatDataAndDimensions(inputData, inputShape...)

	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "resnet18" && name != "squeezenet1_0" && name != "mobilenet_v2" {
				t.Skip("short mode: only resnet18, squeezenet1_0 and mobilenet_v2")
			}
			m, err := LoadFile(name, filepath.Join(ref, name+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(filepath.Join(ref, name))
			if err != nil {
				t.Fatal(err)
			}
			var taps []string
			for _, e := range entries {
				if n, ok := strings.CutPrefix(e.Name(), "act__"); ok {
					taps = append(taps, strings.TrimSuffix(n, ".npy"))
				}
			}
			if len(taps) == 0 {
				t.Fatal("no reference activations")
			}
			exec, err := context.NewExec(m.Backend(), m.Context(), func(ctx *context.Context, x *Node) []*Node {
				fw := m.Forward(ctx, x)
				outs := []*Node{fw.Output}
				for _, tap := range taps {
					a, err := fw.Tap(tap)
					if err != nil {
						panic(err)
					}
					outs = append(outs, a)
				}
				return outs
			})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := exec.Exec(input)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got *tensors.Tensor, file string) {
				want, shape := testref.ReadNPY(t, filepath.Join(ref, name, file))
				if !equalInts(got.Shape().Dimensions, shape) {
					t.Errorf("%s: shape %v, PyTorch %v", what, got.Shape().Dimensions, shape)
					return
				}
				e := testref.MaxRelErr(tensors.MustCopyFlatData[float32](got), want)
				if !(e <= parityTolerance) {
					t.Errorf("%s: relative error %.3g > %g", what, e, parityTolerance)
				} else {
					t.Logf("%s: relative error %.2g", what, e)
				}
			}
			check("logits", outs[0], "logits.npy")
			for i, tap := range taps {
				check(tap, outs[i+1], "act__"+tap+".npy")
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestNativeConvolutionMatchesIm2col runs the formulation used on XLA (graph.Convolve, grouped
// for depthwise) on the pure-Go backend and compares it with the im2col one, so the XLA path is
// tested where no PJRT plugin is installed.
func TestNativeConvolutionMatchesIm2col(t *testing.T) {
	ref := reference(t)
	data, shape := testref.ReadNPY(t, filepath.Join(ref, "input.npy"))
	input := tensors.FromFlatDataAndDimensions(data, shape...)
	for _, name := range []string{"squeezenet1_1", "mobilenet_v2"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadFile(name, filepath.Join(ref, name+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Logits(input)
			if err != nil {
				t.Fatal(err)
			}
			w, err := checkpoint.Read(filepath.Join(ref, name+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			native := nn.Native
			mn, err := newModel(m.Network, w, name, m.Backend(), &native)
			if err != nil {
				t.Fatal(err)
			}
			got, err := mn.Logits(input)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if e := testref.MaxRelErr(got[i], want[i]); !(e < 1e-5) {
					t.Errorf("image %d: native convolution logits differ from im2col: %.3g", i, e)
				}
			}
		})
	}
}
