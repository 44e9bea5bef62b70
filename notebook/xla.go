//go:build xla

package notebook

// Built with the xla tag (the Docker image's kernel), notebooks compute on XLA where a PJRT
// plugin is installed; without it they do not link XLA's cgo bindings, and a cell links faster.
import _ "github.com/gradcam-go/gradcam/backend/xla"
