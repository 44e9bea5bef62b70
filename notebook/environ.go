package notebook

import (
	"fmt"
	"os"

	"github.com/gradcam-go/gradcam/environ"
	"github.com/gradcam-go/gradcam/internal/catch"
)

// A notebook reads its settings from the environment the kernel was started with, as the command
// line does (package environ): the backend's (GOMLX_BACKEND, GRADCAM_SIMD, GRADCAM_CONV) before
// any model is made, and GRADCAM_DEBUG's stack traces.
func init() {
	catch.WithStacks(environ.Debug())
	if err := environ.UseBackend(); err != nil {
		fmt.Fprintln(os.Stderr, "notebook:", err)
	}
}
