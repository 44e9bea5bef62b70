// Package store finds the torchvision checkpoints on disk and downloads missing ones: search
// folders first, then a cache folder, then torchvision's address (or a mirror), verifying the
// SHA-256 prefix of the file name. Downloads resume, and concurrent loads, in this process or
// others, download once.
package store

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

	"github.com/gradcam-go/gradcam/models/zoo"
)

// Store finds model weights on disk and downloads missing ones. Its zero value searches no
// folder, caches in DefaultCacheDir and downloads from torchvision's address without a progress
// bar. A Store is safe for concurrent use; it must not be copied after first use.
type Store struct {
	// SearchDirs are searched first, in order, for a checkpoint of the model.
	SearchDirs []string
	// CacheDir holds downloaded checkpoints under their official file names; "" is
	// DefaultCacheDir().
	CacheDir string
	// Mirror is a server holding torchvision's checkpoints under their official file names,
	// downloaded from instead of torchvision's address ("" is torchvision's).
	Mirror string
	// Client downloads; nil means http.DefaultClient.
	Client *http.Client
	// Progress receives the progress bar; nil means no progress bar.
	Progress io.Writer
	// URLs overrides the download address by model name (tests).
	URLs map[string]string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// DefaultCacheDir is where downloads go when Store.CacheDir is empty: the user cache folder's
// gradcam/weights, or the temporary folder's gradcam-weights when there is no user cache folder.
func DefaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gradcam", "weights")
	}
	return filepath.Join(os.TempDir(), "gradcam-weights")
}

// Dir is the folder downloads go to: CacheDir, or DefaultCacheDir().
func (s *Store) Dir() string {
	if s.CacheDir != "" {
		return s.CacheDir
	}
	return DefaultCacheDir()
}

// hashPrefix is torchvision's convention: "name-<sha256 prefix>.pth" (torch.hub.HASH_REGEX).
var hashPrefix = regexp.MustCompile(`-([a-f0-9]*)\.`)

func (s *Store) url(a *zoo.Arch) string {
	if u, ok := s.URLs[a.Name]; ok {
		return u
	}
	if s.Mirror != "" {
		return strings.TrimSuffix(s.Mirror, "/") + "/" + path.Base(a.URL)
	}
	return a.URL
}

// Weights returns the path of a checkpoint for the architecture: a matching file in SearchDirs
// (the official file name, else a file named after the model: "<name>.pth",
// "<name>_<anything>.pth", "<name>-<anything>.safetensors", ...), else the cached download,
// else it downloads it. Concurrent calls, in this process or others, download at most once.
func (s *Store) Weights(ctx context.Context, a *zoo.Arch) (string, error) {
	file := path.Base(s.url(a))
	for _, dir := range s.SearchDirs {
		if p := findWeights(dir, a.Name, file); p != "" {
			return p, nil
		}
	}
	dst := filepath.Join(s.Dir(), file)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	lock := s.lock(dst)
	lock.Lock()
	defer lock.Unlock()
	if err := os.MkdirAll(s.Dir(), 0o755); err != nil {
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
func (s *Store) Local(a *zoo.Arch) string {
	file := path.Base(s.url(a))
	for _, dir := range s.SearchDirs {
		if p := findWeights(dir, a.Name, file); p != "" {
			return p
		}
	}
	if p := filepath.Join(s.Dir(), file); isFile(p) {
		return p
	}
	return ""
}

// missing explains what to do when weights cannot be had.
func (s *Store) missing(a *zoo.Arch, file string, cause error) error {
	where := s.Dir()
	if len(s.SearchDirs) > 0 {
		where = strings.Join(s.SearchDirs, " or ") + " (GRADCAM_WEIGHTS) or " + s.Dir()
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
