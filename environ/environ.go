// Package environ reads the toolkit's environment variables, for the entry points: the commands
// (cmd/) and the notebooks' package (notebook/) call it and pass what it reads down as settings
// and options, so that a library package computes the same whatever the environment. A program
// of one's own can call it to honour the same variables.
//
//	GOMLX_BACKEND       the backend ("go", "xla:cpu", ...; default: XLA if a PJRT plugin is installed)
//	GRADCAM_SIMD=off    the pure-Go backend's scalar matrix multiply instead of the SIMD kernels
//	GRADCAM_CONV=im2col convolutions as strided slices and one matrix multiply (changes the last bits)
//	GRADCAM_WEIGHTS     folders searched first for torchvision checkpoints (separated like PATH)
//	GRADCAM_CACHE       where downloaded checkpoints go (default: the user cache folder's gradcam/weights)
//	GRADCAM_MODELS_URL  a mirror of torchvision's checkpoints, under their official file names
//	GRADCAM_LOAD_CACHE=off  no load cache of large checkpoints
//	GRADCAM_MODEL       the model explained when none is named
//	GRADCAM_FASHION_MNIST   the Fashion-MNIST folder (default: Debian's dataset-fashion-mnist)
//	GRADCAM_FORTUNES    the fortune files folder (default: Debian's)
//	GRADCAM_DEBUG       stack traces with the errors caught from panics
package environ

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/gradcam-go/gradcam/backend"
	"github.com/gradcam-go/gradcam/models"
	"github.com/gradcam-go/gradcam/models/loadcache"
	"github.com/gradcam-go/gradcam/models/store"
)

// Backend is the backend's settings: GOMLX_BACKEND, GRADCAM_SIMD and GRADCAM_CONV. The backend
// announces itself on stderr, except in a GoNB notebook cell (GONB_DIR set), where stderr shows
// as a warning box on every cell.
func Backend() backend.Settings {
	s := backend.Settings{
		Config:             os.Getenv(backends.ConfigEnvVar),
		ScalarMatmul:       os.Getenv("GRADCAM_SIMD") == "off",
		Im2colConvolutions: os.Getenv("GRADCAM_CONV") == "im2col",
		Announce:           os.Stderr,
	}
	if os.Getenv("GONB_DIR") != "" {
		s.Announce = nil
	}
	return s
}

// UseBackend gives the process-wide backend the environment's settings (backend.Use).
func UseBackend() error { return backend.Use(Backend()) }

// Store is where torchvision checkpoints are found and downloaded to: GRADCAM_WEIGHTS,
// GRADCAM_CACHE and GRADCAM_MODELS_URL, with the progress bar on progress (nil: none).
func Store(progress io.Writer) *store.Store {
	s := &store.Store{CacheDir: os.Getenv("GRADCAM_CACHE"), Mirror: os.Getenv("GRADCAM_MODELS_URL"), Progress: progress}
	if dirs := os.Getenv("GRADCAM_WEIGHTS"); dirs != "" {
		s.SearchDirs = filepath.SplitList(dirs)
	}
	return s
}

// ModelOptions are the options of every model load: the environment's store (progress on
// stderr) and its load cache (GRADCAM_LOAD_CACHE=off turns it off).
func ModelOptions() []models.Option {
	s := Store(os.Stderr)
	cache := loadcache.Folder{Dir: filepath.Join(s.Dir(), "loaded"), MinSize: loadcache.DefaultMinSize}
	if strings.EqualFold(os.Getenv("GRADCAM_LOAD_CACHE"), "off") {
		cache = loadcache.Folder{}
	}
	return []models.Option{models.FromStore(s), models.WithLoadCache(cache)}
}

// Model is the model explained when none is named (GRADCAM_MODEL), or "".
func Model() string { return os.Getenv("GRADCAM_MODEL") }

// FashionMNIST is the Fashion-MNIST folder GRADCAM_FASHION_MNIST names, or "" for the default.
func FashionMNIST() string { return os.Getenv("GRADCAM_FASHION_MNIST") }

// Fortunes is the fortune files folder GRADCAM_FORTUNES names, or "" for the default.
func Fortunes() string { return os.Getenv("GRADCAM_FORTUNES") }

// Debug reports whether errors caught from panics should carry their stack (GRADCAM_DEBUG).
func Debug() bool { return os.Getenv("GRADCAM_DEBUG") != "" }
