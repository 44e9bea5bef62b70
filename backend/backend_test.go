package backend

import (
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends/xla"
)

func TestConfig(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "xla:cuda")
	if got := Config(); got != "xla:cuda" {
		t.Errorf("GOMLX_BACKEND=xla:cuda: Config() = %q", got)
	}
	t.Setenv("GOMLX_BACKEND", "")
	xla.EnableAutoInstall(false)
	want := Go
	if len(xla.GetAvailablePlugins()) > 0 {
		want = "xla"
	}
	if got := Config(); got != want {
		t.Errorf("GOMLX_BACKEND unset: Config() = %q, want %q", got, want)
	}
}

func TestPureGoHasGradientOps(t *testing.T) {
	b, err := NewWithConfig(Go)
	if err != nil {
		t.Fatal(err)
	}
	if !IsPureGo(b) {
		t.Errorf("IsPureGo(%s) = false", b)
	}
	if needsPolyfill(b) {
		t.Error("the pure-Go backend still lacks Pad/Reverse/SelectAndScatter after wrapping")
	}
}

func TestXLAWithoutPluginIsAnError(t *testing.T) {
	xla.EnableAutoInstall(false)
	if len(xla.GetAvailablePlugins()) > 0 {
		t.Skip("a PJRT plugin is installed; XLA is available here")
	}
	t.Setenv("GOMLX_BACKEND", "")
	_, err := NewWithConfig("xla:cpu")
	if err == nil {
		t.Fatal("no error without a PJRT plugin")
	}
	t.Log(err)
}

func TestWithSequentialOps(t *testing.T) {
	for in, want := range map[string]string{
		"go":                "go:ops_sequential",
		"go:parallelism=4":  "go:parallelism=4,ops_sequential",
		"go:ops_parallel":   "go:ops_parallel",
		"xla:cpu":           "xla:cpu",
		"go:ops_sequential": "go:ops_sequential",
	} {
		if got := withSequentialOps(in); got != want {
			t.Errorf("withSequentialOps(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewWithConfigConcurrent: backends are created, and the SIMD note read, from several
// goroutines at once (run with -race).
func TestNewWithConfigConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := NewWithConfig(Go)
			if err != nil {
				t.Error(err)
				return
			}
			if note := simdNote(b); !strings.Contains(note, "matrix multiply") {
				t.Errorf("note %q", note)
			}
		}()
	}
	wg.Wait()
}
