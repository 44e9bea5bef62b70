package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/nn"
)

// The load cache makes a large checkpoint's second load a plain read. Loading a checkpoint
// decodes its format (zip, pickle, safetensors), converts every kernel from PyTorch's layout to
// the graph's, and copies the result into the backend: VGG-16 took 2.5-4 s and peaked at four
// times its weights. After the first load, the parameters are written in the graph's layout,
// one aligned block each, to one file in the cache folder; later loads of the same checkpoint
// file (same path, size and modification time) read each block straight into its backend
// buffer: one copy, no decoding.
//
// GRADCAM_LOAD_CACHE=off turns it off. Checkpoints smaller than loadCacheMin are not cached:
// they load in a fraction of a second already.

// loadCacheMin is the checkpoint size from which loads are cached (a variable: tests lower it).
var loadCacheMin int64 = 64 << 20

// loadCacheHits counts loads served by the cache (tests read it).
var loadCacheHits atomic.Int64

const loadCacheMagic = "GRADCAM-LOADED-WEIGHTS 1\n"

// loadCacheHeader describes a cache file: the checkpoint it was made from and where each
// parameter's block starts.
type loadCacheHeader struct {
	Source  string           `json:"source"` // absolute path of the checkpoint
	Size    int64            `json:"size"`
	ModTime int64            `json:"mtime_ns"`
	Conv    nn.ConvImpl      `json:"conv"`
	Params  []loadCacheParam `json:"params"`
}

type loadCacheParam struct {
	Key      string    `json:"key"`
	Torch    []int     `json:"torch"`
	Layout   nn.Layout `json:"layout"`
	Internal []int     `json:"internal"`
	Offset   int64     `json:"offset"`
}

// loadCache is an open cache file that matches its checkpoint.
type loadCache struct {
	path   string
	f      *os.File
	header loadCacheHeader
	byKey  map[string]loadCacheParam
}

func loadCacheEnabled() bool { return !strings.EqualFold(os.Getenv("GRADCAM_LOAD_CACHE"), "off") }

// loadCacheDir is where cache files go: $GRADCAM_CACHE/loaded, else the user's cache folder.
func loadCacheDir() string {
	dir := NewStoreFromEnv().CacheDir
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "loaded")
}

// loadCachePath names the cache file of a checkpoint: a hash of its absolute path (so that a
// newer version of the file replaces the older one's cache) and of its size, modification time
// and the convolution layout.
func loadCachePath(dir, abs string, st os.FileInfo, conv nn.ConvImpl) string {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:8]) }
	return filepath.Join(dir, fmt.Sprintf("%s-%s.weights", h(abs), h(fmt.Sprintf("%d|%d|%d", st.Size(), st.ModTime().UnixNano(), conv))))
}

// cacheable returns the cache folder, the checkpoint's absolute path and its file information
// when checkpoint path is one the load cache serves (the cache is on, the file large enough).
func cacheable(path string) (dir, abs string, st os.FileInfo, ok bool) {
	if !loadCacheEnabled() {
		return "", "", nil, false
	}
	dir = loadCacheDir()
	abs, err := filepath.Abs(path)
	if dir == "" || err != nil {
		return "", "", nil, false
	}
	st, err = os.Stat(abs)
	if err != nil || st.Size() < loadCacheMin {
		return "", "", nil, false
	}
	return dir, abs, st, true
}

// openLoadCache returns the cache of checkpoint path for the convolution layout conv, or nil if
// there is none that matches it (any problem reading it is a miss: the checkpoint is read).
func openLoadCache(path string, conv nn.ConvImpl) *loadCache {
	dir, abs, st, ok := cacheable(path)
	if !ok {
		return nil
	}
	p := loadCachePath(dir, abs, st, conv)
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	c, err := readLoadCacheHeader(f)
	if err != nil || c.Source != abs || c.Size != st.Size() || c.ModTime != st.ModTime().UnixNano() || c.Conv != conv {
		f.Close()
		return nil
	}
	lc := &loadCache{path: p, f: f, header: c, byKey: map[string]loadCacheParam{}}
	for _, e := range c.Params {
		lc.byKey[e.Key] = e
	}
	return lc
}

func readLoadCacheHeader(f *os.File) (loadCacheHeader, error) {
	var h loadCacheHeader
	head := make([]byte, len(loadCacheMagic)+4)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(loadCacheMagic)]) != loadCacheMagic {
		return h, fmt.Errorf("not a load cache file")
	}
	n := binary.LittleEndian.Uint32(head[len(loadCacheMagic):])
	if n > 64<<20 {
		return h, fmt.Errorf("load cache header of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(f, buf); err != nil {
		return h, err
	}
	err := json.Unmarshal(buf, &h)
	return h, err
}

// shapes returns the cached parameters as a state dict without values: what checkWeights and
// the architecture's head check read.
func (c *loadCache) shapes() map[string]*Tensor {
	w := make(map[string]*Tensor, len(c.header.Params))
	for _, e := range c.header.Params {
		w[e.Key] = &Tensor{Shape: e.Torch}
	}
	return w
}

// fill reads parameter p's block into dst (the graph's layout).
func (c *loadCache) fill(p nn.ParamSpec, internal []int, dst []float32) error {
	e, ok := c.byKey[p.Key]
	if !ok || !slices.Equal(e.Torch, p.Shape) || e.Layout != p.Layout || !slices.Equal(e.Internal, internal) {
		return fmt.Errorf("load cache %s does not hold %s as the network needs it", c.path, p.Key)
	}
	if len(dst) == 0 {
		return nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(dst)*4)
	if _, err := c.f.ReadAt(b, e.Offset); err != nil {
		return fmt.Errorf("reading %s from load cache %s: %w", p.Key, c.path, err)
	}
	return nil
}

func (c *loadCache) close() { c.f.Close() }

// writeLoadCache writes model m's parameters, loaded from checkpoint path, to the cache, and
// removes the cache files of older versions of that checkpoint and of checkpoints that no longer
// exist. Errors are returned for tests; loading ignores them (the cache is an optimization).
func writeLoadCache(path string, m *Model) error {
	dir, abs, st, ok := cacheable(path)
	if !ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h := loadCacheHeader{Source: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Conv: m.conv}
	var blocks [][]float32
	for _, p := range m.Params {
		v := m.ctx.GetVariableByScopeAndName("/", p.Key)
		if v == nil {
			return fmt.Errorf("model has no variable %s", p.Key)
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		var flat []float32
		if err := t.ConstFlatData(func(f any) { flat, _ = f.([]float32) }); err != nil {
			return err
		}
		if flat == nil {
			return nil // not float32 (a Float64 model): nothing to cache
		}
		h.Params = append(h.Params, loadCacheParam{Key: p.Key, Torch: p.Shape, Layout: p.Layout,
			Internal: slices.Clone(t.Shape().Dimensions)})
		blocks = append(blocks, flat)
	}
	// Offsets depend on the header's length, which depends on the offsets' digits: lay out
	// with a header size rounded up until it is stable.
	reserve := 4096
	var hb []byte
	var err error
	for {
		off := int64(len(loadCacheMagic) + 4 + reserve)
		for i := range h.Params {
			off = (off + 63) &^ 63
			h.Params[i].Offset = off
			off += int64(len(blocks[i]) * 4)
		}
		if hb, err = json.Marshal(h); err != nil {
			return err
		}
		if len(hb) <= reserve {
			break
		}
		reserve = (len(hb) + 4095) &^ 4095
	}
	target := loadCachePath(dir, abs, st, m.conv)
	err = atomicfile.WriteFunc(target, func(w io.Writer) error {
		var pos int64
		put := func(b []byte) error {
			n, err := w.Write(b)
			pos += int64(n)
			return err
		}
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(reserve))
		if err := put([]byte(loadCacheMagic)); err != nil {
			return err
		}
		if err := put(n[:]); err != nil {
			return err
		}
		if err := put(append(hb, bytes.Repeat([]byte{' '}, reserve-len(hb))...)); err != nil {
			return err
		}
		for i, e := range h.Params {
			if err := put(make([]byte, e.Offset-pos)); err != nil {
				return err
			}
			if len(blocks[i]) > 0 {
				if err := put(unsafe.Slice((*byte)(unsafe.Pointer(&blocks[i][0])), len(blocks[i])*4)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	pruneLoadCache(dir, target)
	return nil
}

// pruneLoadCache removes the cache files (other than keep) of the same checkpoint path, and those
// whose checkpoint is gone or changed.
func pruneLoadCache(dir, keep string) {
	prefix, _, _ := strings.Cut(filepath.Base(keep), "-")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == keep || !strings.HasSuffix(e.Name(), ".weights") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if strings.HasPrefix(e.Name(), prefix+"-") {
			os.Remove(p)
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		h, err := readLoadCacheHeader(f)
		f.Close()
		if err != nil {
			continue
		}
		if st, err := os.Stat(h.Source); err != nil || st.Size() != h.Size || st.ModTime().UnixNano() != h.ModTime {
			os.Remove(p)
		}
	}
}
