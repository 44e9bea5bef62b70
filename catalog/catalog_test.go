package catalog

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradcam-go/gradcam/internal/testref"
)

// TestLoadResolvesEveryKind: the same references load whoever asks (a demo network, a
// torchvision architecture with a checkpoint), and the bad ones are usage errors naming the
// problem.
func TestLoadResolvesEveryKind(t *testing.T) {
	for _, tc := range []struct {
		ref  Ref
		name string
	}{
		{Ref{Name: "fashion-gap"}, "fashion-gap"},
		{Ref{Name: "fashion-fc"}, "fashion-fc"},
		{Ref{Name: "squeezenet1_0", Weights: filepath.Join(testref.Shared(), "weights", "squeezenet1_0_deepcompression.pth")}, "squeezenet1_0"},
	} {
		m, err := Load(tc.ref, io.Discard)
		if err != nil {
			t.Errorf("%+v: %v", tc.ref, err)
			continue
		}
		if m.Name != tc.name {
			t.Errorf("%+v loaded %s", tc.ref, m.Name)
		}
	}
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{Ref{Name: "lenet"}, `unknown model "lenet"; the models are alexnet`},
		{Ref{Name: "fashion-xl"}, "fashion-gap, fashion-fc"},
		{Ref{Weights: "x.pth"}, "a checkpoint needs the architecture"},
		{Ref{ONNX: "x.onnx", Name: "resnet18"}, "an ONNX file is a whole model"},
	} {
		_, err := Load(tc.ref, io.Discard)
		var refErr *RefError
		if !errors.As(err, &refErr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error containing %q", tc.ref, err, tc.want)
		}
	}
}
