package backend

import (
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends/xla"
	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

func TestConfig(t *testing.T) {
	if got := chooseConfig("xla:cuda"); got != "xla:cuda" {
		t.Errorf("Config xla:cuda: chosen %q", got)
	}
	xla.EnableAutoInstall(false)
	want := Go
	if len(xla.GetAvailablePlugins()) > 0 {
		want = "xla"
	}
	if got := chooseConfig(""); got != want {
		t.Errorf("no Config: chosen %q, want %q", got, want)
	}
}

// TestSettings: Use refuses other settings once the process-wide backend exists, and
// Im2colConvolutions turns the fast convolutions off on the backend it opens, and only there.
func TestSettings(t *testing.T) {
	if err := Use(Settings{Config: Go}); err != nil {
		t.Fatal(err)
	}
	shared, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := Use(Settings{Config: Go}); err != nil {
		t.Errorf("the same settings again: %v", err)
	}
	if err := Use(Settings{Config: Go, ScalarMatmul: true}); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("other settings after first use: %v", err)
	}
	im2col, err := Open(Settings{Config: Go, Im2colConvolutions: true})
	if err != nil {
		t.Fatal(err)
	}
	if FastConvolutions(im2col) {
		t.Error("Im2colConvolutions: the backend still uses the fast convolutions")
	}
	if fastdot.Installed() && !FastConvolutions(shared) {
		t.Error("the default backend does not use the fast convolutions")
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
