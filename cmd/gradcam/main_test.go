package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/gradcam-go/gradcam/environ"
)

// TestMain gives the backend the environment's settings before any test makes a model, as run
// does: tests that load models themselves and then call run see the settings run would choose,
// whichever test runs first.
func TestMain(m *testing.M) {
	if err := environ.UseBackend(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
