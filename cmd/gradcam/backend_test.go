package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestBackendCommand: gradcam backend names the backend, GoMLX's version, the kernel and whether
// the fast executors and gradients are installed (here: the pure-Go backend with both).
func TestBackendCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"backend"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`(?m)^backend: go \(`, `(?m)^gomlx: v0\.26\.0$`, `(?m)^matrix multiply kernel: (AVX-512|AVX2/FMA|none)`,
		`(?m)^fastdot: (yes|no: .+)$`, `(?m)^fastvjp: yes$`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("gradcam backend does not say %s:\n%s", want, out.String())
		}
	}
	if err := run([]string{"backend", "extra"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no arguments") {
		t.Errorf("gradcam backend extra: %v", err)
	}
}
