// Package backend chooses the GoMLX backend the toolkit computes on.
//
// Settings.Config chooses it ("go" for the pure-Go backend, "xla:cpu", "xla:cuda", ...); when it
// is empty, XLA is used if the program links it (package backend/xla, which the gradcam command
// imports) and a PJRT plugin is installed on this machine, otherwise the pure-Go backend ("go",
// simplego). Nothing is ever downloaded: GoMLX's automatic PJRT plugin installation is turned
// off unless the configuration asks for XLA explicitly. A program that does not import
// backend/xla does not link XLA's cgo bindings: a GoNB cell links in about 0.6 s instead of 1 s.
// The commands and notebooks read the settings from the environment (GOMLX_BACKEND,
// GRADCAM_SIMD, GRADCAM_CONV) and pass them to Use.
//
// The pure-Go backend of gomlx v0.26.0 lacks ops that gradients of convolutions, slices and
// pooling need (Pad, Reverse, SelectAndScatter); Open wraps it with polyfills for them, and
// replaces graph's gradient of DotGeneral with one that does not materialize huge temporaries.
// On x86-64 CPUs with AVX2 and FMA it also runs the pure-Go backend's float32 matrix multiplies
// (DotGeneral, where convolutions spend their time) with SIMD kernels (internal/fastdot), unless
// Settings.ScalarMatmul keeps simplego's own scalar loops.
package backend

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
	"github.com/gradcam-go/gradcam/backend/internal/fastdot"
	"github.com/gradcam-go/gradcam/backend/internal/fastvjp" // DotGeneral and ConvGeneral gradients (installed on import)
	"github.com/gradcam-go/gradcam/backend/internal/sgemm"
	"github.com/gradcam-go/gradcam/backend/internal/sgpoly"
)

// Go is the configuration name of GoMLX's pure-Go backend.
const Go = "go"

// Settings choose the backend and how it computes. The zero value is the default: XLA when a
// PJRT plugin is installed, else the pure-Go backend with its SIMD kernels and fast convolutions.
type Settings struct {
	// Config is GoMLX's backend configuration ("go", "xla:cpu", ...); "" chooses as the package
	// doc says.
	Config string
	// ScalarMatmul keeps the pure-Go backend's own scalar matrix multiply instead of
	// internal/fastdot's AVX2/FMA kernels (for comparisons and debugging; about 50 times slower).
	ScalarMatmul bool
	// Im2colConvolutions builds convolutions on the pure-Go backend as strided slices and one
	// matrix multiply (the formulation before the fast convolution executor). It changes
	// numbers: the same values are added in another order, so results differ in the last bits
	// (the shipped demo networks were trained this way and retrain byte for byte with it).
	Im2colConvolutions bool
	// Announce receives the one line saying which backend was chosen when the process-wide
	// backend is created; nil says nothing.
	Announce io.Writer
}

var (
	mu       sync.Mutex
	shared   backends.Backend
	settings Settings
	// im2col holds the pure-Go backends that build convolutions by im2col.
	im2col sync.Map
)

// Use sets the settings the process-wide backend (New) is created with. It is for a program's
// start (the commands and notebooks call it with what they read from the environment): once
// the backend exists, other settings are an error.
func Use(s Settings) error {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil && s != settings {
		return fmt.Errorf("the backend is already in use with other settings: choose them before the first model is made")
	}
	settings = s
	return nil
}

// Config returns the backend configuration New will use: the settings' Config if set, else
// "xla" when a PJRT plugin is installed, else "go".
func Config() string {
	mu.Lock()
	c := settings.Config
	mu.Unlock()
	return chooseConfig(c)
}

func chooseConfig(c string) string {
	if c != "" {
		return c
	}
	if plugins := xlaPlugins.Load(); plugins != nil && (*plugins)() {
		return "xla"
	}
	return Go
}

// xlaPlugins reports whether a PJRT plugin is installed (GoMLX's automatic installation turned
// off first); nil while XLA is not linked into the program (RegisterXLA).
var xlaPlugins atomic.Pointer[func() bool]

// RegisterXLA is how package backend/xla, imported for its side effect, makes XLA available:
// plugins reports whether a PJRT plugin is installed, without installing one.
func RegisterXLA(plugins func() bool) { xlaPlugins.Store(&plugins) }

// New returns the process-wide backend, creating it on first use with the settings given to Use
// (see the package doc for the choice). Backends hold device state, so one is shared by every
// model and explainer.
func New() (backends.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared, nil
	}
	s := settings
	s.Config = chooseConfig(s.Config)
	b, err := Open(s)
	if err != nil {
		return nil, err
	}
	if s.Announce != nil {
		fmt.Fprintf(s.Announce, "gradcam: using backend %s\n", Summary(b))
	}
	shared = b
	return shared, nil
}

// NewWithConfig creates a new backend from a GoMLX configuration string ("go", "xla:cpu", ...)
// with the default settings otherwise (Open).
func NewWithConfig(config string) (backends.Backend, error) { return Open(Settings{Config: config}) }

// Open creates a new backend with settings s (Config "" chooses as New does), adding the
// pure-Go backend's missing gradient ops where needed.
func Open(s Settings) (b backends.Backend, err error) {
	config := chooseConfig(s.Config)
	if strings.HasPrefix(config, "xla") && xlaPlugins.Load() == nil {
		return nil, fmt.Errorf("backend %q: XLA is not linked into this program: import _ %q (the gradcam command does), "+
			"or set GOMLX_BACKEND=go for the pure-Go backend", config, "github.com/gradcam-go/gradcam/backend/xla")
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("backend %q: %v (set GOMLX_BACKEND=go for the pure-Go backend)", config, r)
		}
	}()
	b, err = backends.NewWithConfig(withSequentialOps(config))
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w (set GOMLX_BACKEND=go for the pure-Go backend)", config, err)
	}
	if needsPolyfill(b) {
		b = sgpoly.Wrap(b)
	}
	if IsPureGo(b) {
		why := fmt.Errorf("scalar matrix multiply asked for (GRADCAM_SIMD=off)")
		if !s.ScalarMatmul {
			why = fastdot.Install()
		}
		if s.Im2colConvolutions {
			im2col.Store(b, true)
		}
		// With fastdot's convolutions, a zero Pad (the gradient of max pooling's strided
		// windows) is one depthwise convolution.
		sgpoly.UseConvolutionPad(fastdot.Installed())
		// With fastdot, max pooling's gradient is one op of its own, a batch norm at inference
		// with the ReLU after it one pass, an input gradient reads the forward kernel reversed
		// where it lies (no copies), a ReLU rule's Where tests its mask as it reads, a
		// convolution read only by its batch norm applies it to its output as it writes it, and
		// DeepLift's rescale rule is one pass.
		if fastdot.Installed() {
			sgpoly.UseSelectAndScatter(fastdot.NewSelectAndScatterMax)
			sgpoly.UseAffine(&sgpoly.AffineBuilders{New: fastdot.NewAffine, Clamp: fastdot.ClampAffine})
			sgpoly.UseFlippedKernelConv(fastdot.FlippedKernelConv)
			sgpoly.UseRangeWhere(fastdot.RangeWhere)
			sgpoly.UseCompileRewrite(fastdot.Fuse)
		}
		simdMu.Lock()
		simdErr = why
		simdMu.Unlock()
	}
	return b, nil
}

// FastConvolutions reports whether convolutions on b should be graph convolutions run by the
// fast executor (internal/fastdot): the pure-Go backend with the kernels installed, unless b was
// opened with Settings.Im2colConvolutions. The convolution path is chosen here, where the
// executors are installed.
func FastConvolutions(b backends.Backend) bool {
	_, byIm2col := im2col.Load(b)
	return IsPureGo(b) && fastdot.Installed() && !byIm2col
}

// simdErr says why the pure-Go backend does not use the SIMD kernels (guarded by simdMu:
// NewWithConfig may run in several goroutines).
var (
	simdMu  sync.Mutex
	simdErr error
)

// Summary is one line saying what b computes with: the backend, and on the pure-Go backend which
// matrix multiply runs ("go" (Simple Go Portable Backend); matrix multiply: AVX-512), or that it
// is simplego's scalar loops and why (about 50 times slower).
func Summary(b backends.Backend) string {
	return fmt.Sprintf("%q (%s)%s", b.String(), b.Description(), simdNote(b))
}

// Report is what `gradcam backend` prints: the backend, GoMLX's version, the matrix-multiply
// kernel, and whether the fast executors (internal/fastdot) and gradients (internal/fastvjp) are
// installed, one "name: value" line each.
func Report(b backends.Backend) string {
	gomlx := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/gomlx/gomlx" {
				gomlx = d.Version
				if d.Replace != nil {
					gomlx += " (replaced by " + d.Replace.Path + " " + d.Replace.Version + ")"
				}
			}
		}
	}
	kernel, fast := sgemm.Kernel(), "no: not the pure-Go backend"
	if IsPureGo(b) {
		simdMu.Lock()
		why := simdErr
		simdMu.Unlock()
		switch {
		case fastdot.Installed():
			fast = "yes"
		case why != nil:
			fast = fmt.Sprintf("no: %v (simplego's scalar loops, about 50 times slower)", why)
		default:
			fast = "no"
		}
	}
	vjp := "no: GoMLX's own gradients (its convolution gradient is wrong for even kernel sizes)"
	if fastvjp.Installed() {
		vjp = "yes"
	}
	if !fastdot.Installed() && sgemm.Available() {
		kernel += " (available, not used)"
	}
	return fmt.Sprintf("backend: %s (%s)\ngomlx: %s\nmatrix multiply kernel: %s\nfastdot: %s\nfastvjp: %s\n",
		b.String(), b.Description(), gomlx, kernel, fast, vjp)
}

// simdNote says whether the pure-Go backend multiplies matrices with SIMD kernels.
func simdNote(b backends.Backend) string {
	switch {
	case !IsPureGo(b):
		return ""
	case fastdot.Installed():
		return "; matrix multiply: " + sgemm.Kernel()
	default:
		simdMu.Lock()
		defer simdMu.Unlock()
		return fmt.Sprintf("; matrix multiply: scalar Go (%v)", simdErr)
	}
}

// withSequentialOps adds "ops_sequential" to a pure-Go backend configuration that does not choose
// an execution mode. simplego v0.26.0's parallel op scheduler holds a worker slot for every running
// op while large DotGenerals inside ops wait for more slots: graphs with several independent
// branches (e.g. an explanation's backward passes) deadlock on a 2-core machine. Sequential op
// execution keeps the parallelism inside each op, which is where the time goes.
func withSequentialOps(config string) string {
	name, opts, _ := strings.Cut(config, ":")
	if name != Go || strings.Contains(opts, "ops_") {
		return config
	}
	if opts == "" {
		return Go + ":ops_sequential"
	}
	return config + ",ops_sequential"
}

// needsPolyfill reports whether b lacks an op that CNN gradients need.
func needsPolyfill(b backends.Backend) bool {
	ops := b.Capabilities().Operations
	for _, op := range []backends.OpType{backends.OpTypePad, backends.OpTypeReverse, backends.OpTypeSelectAndScatterMax} {
		if !ops[op] {
			return true
		}
	}
	return false
}

// IsPureGo reports whether b is GoMLX's pure-Go backend (possibly wrapped).
func IsPureGo(b backends.Backend) bool { return b.String() == Go }

// PanicInWorkersForTest makes the next tasks of the matrix multiply's worker goroutines panic
// while on: tests use it to show that such a panic becomes an error of the call that ran it.
func PanicInWorkersForTest(on bool) { sgemm.PanicInWorkersForTest(on) }
