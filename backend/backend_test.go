package backend

import (
	"strings"
	"sync"
	"testing"

	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
)

// TestConfig: a configuration given is kept; none chooses XLA only where XLA is linked in
// (backend/xla registers it) and reports a PJRT plugin, else the pure-Go backend.
func TestConfig(t *testing.T) {
	defer xlaPlugins.Store(xlaPlugins.Load())
	for _, tc := range []struct {
		name    string
		plugins func() bool // nil: XLA not linked
		config  string
		want    string
	}{
		{"given", nil, "xla:cuda", "xla:cuda"},
		{"not linked", nil, "", Go},
		{"linked, no plugin", func() bool { return false }, "", Go},
		{"linked, a plugin", func() bool { return true }, "", "xla"},
	} {
		xlaPlugins.Store(nil)
		if tc.plugins != nil {
			RegisterXLA(tc.plugins)
		}
		if got := chooseConfig(tc.config); got != tc.want {
			t.Errorf("%s: chosen %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestXLANotLinkedIsAnError: asking for XLA in a program that does not link it is a one-line
// error naming the import that does.
func TestXLANotLinkedIsAnError(t *testing.T) {
	defer xlaPlugins.Store(xlaPlugins.Load())
	xlaPlugins.Store(nil)
	_, err := Open(Settings{Config: "xla:cpu"})
	if err == nil || !strings.Contains(err.Error(), "github.com/gradcam-go/gradcam/backend/xla") || strings.Contains(err.Error(), "\n") {
		t.Errorf("XLA not linked: %v", err)
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
