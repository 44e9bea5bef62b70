// Package xla links GoMLX's XLA backend (PJRT, through cgo) into a program, for its side effect:
//
//	import _ "github.com/gradcam-go/gradcam/backend/xla"
//
// Then the toolkit computes on XLA when GOMLX_BACKEND (backend.Settings.Config) asks for it
// ("xla:cpu", "xla:cuda"), or, with no configuration, when a PJRT plugin is installed on the
// machine (`go run ./cmd/install-pjrt` installs the CPU one). Nothing is downloaded unless the
// configuration asks for XLA explicitly. The gradcam command imports it; notebooks do when the
// kernel builds with the xla tag (GRADCAM_KERNEL_TAGS=xla bash kernelspec/install.sh, as the
// Docker image's kernel does): without it a cell's program links in about 0.6 s instead of 1 s.
package xla

import (
	gomlxla "github.com/gomlx/gomlx/backends/xla"
	"github.com/gradcam-go/gradcam/backend"
)

func init() {
	backend.RegisterXLA(func() bool {
		gomlxla.EnableAutoInstall(false)
		return len(gomlxla.GetAvailablePlugins()) > 0
	})
}
