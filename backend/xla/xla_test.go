package xla_test

import (
	"testing"

	gomlxla "github.com/gomlx/gomlx/backends/xla"
	"github.com/gradcam-go/gradcam/backend"
	_ "github.com/gradcam-go/gradcam/backend/xla"
)

// TestLinked: with the package imported, no configuration chooses XLA exactly when a PJRT plugin
// is installed, and XLA without a plugin is an error, not a download.
func TestLinked(t *testing.T) {
	gomlxla.EnableAutoInstall(false)
	plugin := len(gomlxla.GetAvailablePlugins()) > 0
	want := backend.Go
	if plugin {
		want = "xla"
	}
	if got := backend.Config(); got != want {
		t.Errorf("no configuration: chosen %q, want %q", got, want)
	}
	if plugin {
		t.Skip("a PJRT plugin is installed; XLA is available here")
	}
	if _, err := backend.NewWithConfig("xla:cpu"); err == nil {
		t.Fatal("no error without a PJRT plugin")
	} else {
		t.Log(err)
	}
}
