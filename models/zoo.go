package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/schollz/progressbar/v3"

	"github.com/gradcam-go/gradcam/nn"
)

// LoadFile builds the named architecture with the weights in a checkpoint file (.pth or
// .safetensors). A fine-tuned checkpoint (its head has
// another number of outputs than ImageNet's 1000) gets the labels saved beside it
// (LabelsPath), or in its metadata, or none. A large checkpoint's later loads are served by
// the load cache (one read into the backend's buffers; GRADCAM_LOAD_CACHE=off turns it off).
func LoadFile(name, weightsPath string, opts ...Option) (*Model, error) {
	a, err := LookupArch(name)
	if err != nil {
		return nil, err
	}
	return loadCached(weightsPath, opts, func(w map[string]*Tensor) (*nn.Network, error) { return archNetwork(a, w, weightsPath) })
}

// archNetwork is architecture a with the head the checkpoint's weights w have (a fine-tuned
// checkpoint may have other outputs than ImageNet's 1000) and its labels, if any are found.
func archNetwork(a *Arch, w map[string]*Tensor, weightsPath string) (*nn.Network, error) {
	net := a.Network
	head := w[a.Head+".weight"]
	var labels []string
	var err error
	if p := LabelsPath(weightsPath); fileExists(p) {
		if labels, err = ReadLabels(p); err != nil {
			return nil, err
		}
	} else if meta := checkpointLabels(weightsPath); meta != nil {
		labels = meta
	}
	if head != nil && len(head.Shape) > 0 && (head.Shape[0] != NumClasses || labels != nil) {
		outputs := head.Shape[0]
		if labels != nil && len(labels) != outputs {
			return nil, fmt.Errorf("%s: its head (%s) has %d outputs but its labels (%s) name %d classes: the checkpoint and "+
				"its labels do not belong together", weightsPath, a.Head, outputs, LabelsPath(weightsPath), len(labels))
		}
		if net, err = a.WithOutputs(outputs, labels); err != nil {
			return nil, err
		}
	}
	return net, nil
}

// LoadNetwork binds a network defined with package nn to the weights of a checkpoint file
// (.safetensors as Model.Save writes it, or a PyTorch .pth of the same network).
func LoadNetwork(net *nn.Network, path string, opts ...Option) (*Model, error) {
	return loadCached(path, opts, func(map[string]*Tensor) (*nn.Network, error) { return net, nil })
}

// loadCached loads checkpoint path into the network that network returns for its state dict's
// shapes: from the load cache when it holds this checkpoint (see loadcache.go), else from the
// checkpoint, then writing the cache.
func loadCached(path string, opts []Option, network func(map[string]*Tensor) (*nn.Network, error)) (*Model, error) {
	b, err := backendOf(opts)
	if err != nil {
		return nil, err
	}
	if c := openLoadCache(path, convFor(b)); c != nil {
		defer c.close()
		shapes := c.shapes()
		if net, err := network(shapes); err == nil {
			if m, err := buildModel(net, shapes, path, b, nil, c.fill); err == nil {
				loadCacheHits.Add(1)
				return m, nil
			}
		}
		// Any mismatch: the checkpoint itself decides (and words the error).
	}
	w, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	net, err := network(w)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(net, w, path, OnBackend(b))
	if err != nil {
		return nil, err
	}
	w = nil
	_ = writeLoadCache(path, m) // an optimization: a failure only means the next load reads the checkpoint
	return m, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Load builds the named architecture with its pretrained ImageNet weights, found or downloaded
// by the store the environment configures (see NewStoreFromEnv).
func Load(name string, opts ...Option) (*Model, error) {
	a, err := LookupArch(name)
	if err != nil {
		return nil, err
	}
	p, err := NewStoreFromEnv().Weights(context.Background(), a)
	if err != nil {
		return nil, err
	}
	return LoadFile(name, p, opts...)
}

// Store finds model weights on disk and downloads missing ones.
type Store struct {
	// SearchDirs are searched first, in order, for a checkpoint of the model (GRADCAM_WEIGHTS).
	SearchDirs []string
	// CacheDir holds downloaded checkpoints under their official file names.
	CacheDir string
	// Client downloads; nil means http.DefaultClient.
	Client *http.Client
	// Progress receives the progress bar; nil means no progress bar.
	Progress io.Writer
	// URLs overrides the download address by model name (tests, mirrors).
	URLs map[string]string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// NewStoreFromEnv configures a store from the environment: GRADCAM_WEIGHTS (a list of
// directories, separated like PATH) is searched first; downloads go to $GRADCAM_CACHE, by
// default the user cache directory's gradcam/weights, from torchvision's address or, with
// GRADCAM_MODELS_URL set, from that mirror (the same file names); the progress bar goes to stderr.
func NewStoreFromEnv() *Store {
	s := &Store{Progress: os.Stderr}
	if dirs := os.Getenv("GRADCAM_WEIGHTS"); dirs != "" {
		s.SearchDirs = filepath.SplitList(dirs)
	}
	s.CacheDir = os.Getenv("GRADCAM_CACHE")
	if s.CacheDir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			s.CacheDir = filepath.Join(d, "gradcam", "weights")
		} else {
			s.CacheDir = filepath.Join(os.TempDir(), "gradcam-weights")
		}
	}
	if mirror := os.Getenv("GRADCAM_MODELS_URL"); mirror != "" {
		s.URLs = map[string]string{}
		for name, a := range archs {
			s.URLs[name] = strings.TrimSuffix(mirror, "/") + "/" + path.Base(a.URL)
		}
	}
	return s
}

// hashPrefix is torchvision's convention: "name-<sha256 prefix>.pth" (torch.hub.HASH_REGEX).
var hashPrefix = regexp.MustCompile(`-([a-f0-9]*)\.`)

func (s *Store) url(a *Arch) string {
	if u, ok := s.URLs[a.Name]; ok {
		return u
	}
	return a.URL
}

// Weights returns the path of a checkpoint for the architecture: a matching file in SearchDirs
// (the official file name, else a file named after the model: "<name>.pth",
// "<name>_<anything>.pth", "<name>-<anything>.safetensors", ...), else the cached download,
// else it downloads it. Concurrent calls, in this process or others, download at most once.
func (s *Store) Weights(ctx context.Context, a *Arch) (string, error) {
	file := path.Base(s.url(a))
	for _, dir := range s.SearchDirs {
		if p := findWeights(dir, a.Name, file); p != "" {
			return p, nil
		}
	}
	dst := filepath.Join(s.CacheDir, file)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	lock := s.lock(dst)
	lock.Lock()
	defer lock.Unlock()
	if err := os.MkdirAll(s.CacheDir, 0o755); err != nil {
		return "", s.missing(a, file, err)
	}
	unlock, err := lockFile(dst + ".lock")
	if err != nil {
		return "", s.missing(a, file, err)
	}
	defer unlock()
	if _, err := os.Stat(dst); err == nil { // another process finished it meanwhile.
		return dst, nil
	}
	if err := s.download(ctx, s.url(a), dst); err != nil {
		return "", s.missing(a, file, err)
	}
	return dst, nil
}

// Local returns the architecture's weights if they are on this machine (the search folders or the
// cache), without downloading: "" otherwise.
func (s *Store) Local(a *Arch) string {
	file := path.Base(s.url(a))
	for _, dir := range s.SearchDirs {
		if p := findWeights(dir, a.Name, file); p != "" {
			return p
		}
	}
	if p := filepath.Join(s.CacheDir, file); isFile(p) {
		return p
	}
	return ""
}

// missing explains what to do when weights cannot be had.
func (s *Store) missing(a *Arch, file string, cause error) error {
	where := s.CacheDir
	if len(s.SearchDirs) > 0 {
		where = strings.Join(s.SearchDirs, " or ") + " (GRADCAM_WEIGHTS) or " + s.CacheDir
	}
	return fmt.Errorf("%w for %s: put %s (from %s) in %s, or pass a weights file explicitly; download failed: %w",
		ErrNoWeights, a.Name, file, s.url(a), where, cause)
}

// ErrNoWeights is returned when a model's weights are neither on disk nor downloadable (offline).
var ErrNoWeights = errors.New("no weights")

func (s *Store) lock(p string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks == nil {
		s.locks = map[string]*sync.Mutex{}
	}
	if s.locks[p] == nil {
		s.locks[p] = &sync.Mutex{}
	}
	return s.locks[p]
}

// FindWeights returns a checkpoint in dir named after the model ("<name>.pth",
// "<name>_<anything>.pth", "<name>-<anything>.safetensors", ...), or "" when there is none.
func FindWeights(dir, name string) string { return findWeights(dir, name, "") }

// findWeights looks in dir for the official file, then for files named after the model.
func findWeights(dir, name, official string) string {
	if p := filepath.Join(dir, official); official != "" && isFile(p) {
		return p
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var found []string
	for _, e := range entries {
		n := e.Name()
		ext := filepath.Ext(n)
		if e.IsDir() || (ext != ".pth" && ext != ".pt" && ext != ".safetensors") {
			continue
		}
		rest, ok := strings.CutPrefix(n, name)
		// "_bn" is torchvision's batch-norm variant of VGG, another architecture (vgg16_bn).
		if ok && !strings.HasPrefix(rest, "_bn") && (rest == ext || strings.HasPrefix(rest, "_") || strings.HasPrefix(rest, "-")) {
			found = append(found, filepath.Join(dir, n))
		}
	}
	sort.Strings(found)
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// download fetches url into dst: into dst+".part" first, resuming a previous partial download
// with an HTTP Range request, then verifying the SHA-256 prefix in the file name (as torch.hub's
// check_hash does) and renaming into place. A file that fails the check is deleted.
func (s *Store) download(ctx context.Context, url, dst string) error {
	part := dst + ".part"
	var offset int64
	if st, err := os.Stat(part); err == nil {
		offset = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		offset = 0 // the server ignored the range: start over.
		flags |= os.O_TRUNC
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// The partial file is complete already (or bad); verify below, restart if bad.
		resp.Body.Close()
		if err := verifyHash(part, dst); err == nil {
			return os.Rename(part, dst)
		}
		os.Remove(part)
		return s.download(ctx, url, dst)
	default:
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	var w io.Writer = f
	if s.Progress != nil {
		total := int64(-1)
		if resp.ContentLength >= 0 {
			total = offset + resp.ContentLength
		}
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(s.Progress),
			progressbar.OptionSetDescription("downloading "+filepath.Base(dst)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionThrottle(100_000_000), // at most ~10 updates a second
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(s.Progress) }))
		_ = bar.Set64(offset)
		w = io.MultiWriter(f, bar)
	}
	_, copyErr := io.Copy(w, resp.Body)
	closeErr := f.Close()
	if copyErr != nil {
		return fmt.Errorf("download interrupted (run again to resume): %w", copyErr)
	}
	if closeErr != nil {
		return closeErr
	}
	if err := verifyHash(part, dst); err != nil {
		os.Remove(part)
		return err
	}
	return os.Rename(part, dst)
}

// ErrHashMismatch reports a downloaded file whose SHA-256 does not start with the prefix in its
// official name.
var ErrHashMismatch = errors.New("hash mismatch")

// verifyHash checks file against the hash prefix in name's base (no prefix: nothing to check).
func verifyHash(file, name string) error {
	m := hashPrefix.FindStringSubmatch(filepath.Base(name))
	if m == nil || m[1] == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	digest := hex.EncodeToString(h.Sum(nil))
	if !strings.HasPrefix(digest, m[1]) {
		return fmt.Errorf("%w: %s has SHA-256 %s..., expected a digest starting with %s; the file was deleted",
			ErrHashMismatch, filepath.Base(name), digest[:16], m[1])
	}
	return nil
}
