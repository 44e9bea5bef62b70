// Package loadcache makes a large checkpoint's second load a plain read. Loading a checkpoint
// decodes its format (zip, pickle, safetensors), converts every kernel from PyTorch's layout to
// the graph's, and copies the result into the backend: VGG-16 took 2.5-4 s and peaked at four
// times its weights. After the first load, the parameters are written in the graph's layout,
// one aligned block each, to one file in the cache folder; later loads of the same checkpoint
// file (same path, size and modification time) read each block straight into its backend
// buffer: one copy, no decoding.
//
// Checkpoints smaller than Folder.MinSize are not cached: they load in a fraction of a second
// already.
package loadcache

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
	"unsafe"

	"github.com/gradcam-go/gradcam/internal/atomicfile"
	"github.com/gradcam-go/gradcam/models/checkpoint"
	"github.com/gradcam-go/gradcam/nn"
)

const magic = "GRADCAM-LOADED-WEIGHTS 1\n"

// header describes a cache file: the checkpoint it was made from and where each
// parameter's block starts.
type header struct {
	Source  string      `json:"source"` // absolute path of the checkpoint
	Size    int64       `json:"size"`
	ModTime int64       `json:"mtime_ns"`
	Conv    nn.ConvImpl `json:"conv"`
	Params  []param     `json:"params"`
}

type param struct {
	Key      string    `json:"key"`
	Torch    []int     `json:"torch"`
	Layout   nn.Layout `json:"layout"`
	Internal []int     `json:"internal"`
	Offset   int64     `json:"offset"`
}

// Folder is a load cache: the folder its files go to, and the checkpoint size from which loads
// are cached. The zero Folder caches nothing.
type Folder struct {
	// Dir holds the cache files; "" turns the cache off.
	Dir string
	// MinSize is the checkpoint size in bytes from which loads are cached.
	MinSize int64
}

// DefaultMinSize is the MinSize a cache should have: smaller checkpoints load fast already.
const DefaultMinSize = 64 << 20

// Cache is an open cache file that matches its checkpoint.
type Cache struct {
	path   string
	f      *os.File
	header header
	byKey  map[string]param
}

// filePath names the cache file of a checkpoint: a hash of its absolute path (so that a
// newer version of the file replaces the older one's cache) and of its size, modification time
// and the convolution layout.
func filePath(dir, abs string, st os.FileInfo, conv nn.ConvImpl) string {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:8]) }
	return filepath.Join(dir, fmt.Sprintf("%s-%s.weights", h(abs), h(fmt.Sprintf("%d|%d|%d", st.Size(), st.ModTime().UnixNano(), conv))))
}

// cacheable returns the cache folder, the checkpoint's absolute path and its file information
// when checkpoint path is one the load cache serves (the cache is on, the file large enough).
func (f Folder) cacheable(path string) (dir, abs string, st os.FileInfo, ok bool) {
	dir = f.Dir
	abs, err := filepath.Abs(path)
	if dir == "" || err != nil {
		return "", "", nil, false
	}
	st, err = os.Stat(abs)
	if err != nil || st.Size() < f.MinSize {
		return "", "", nil, false
	}
	return dir, abs, st, true
}

// Open returns the cache of checkpoint path for the convolution layout conv, or nil if there is
// none that matches it (any problem reading it is a miss: the checkpoint is read). The caller
// closes it.
func (f Folder) Open(path string, conv nn.ConvImpl) *Cache {
	dir, abs, st, ok := f.cacheable(path)
	if !ok {
		return nil
	}
	p := filePath(dir, abs, st, conv)
	file, err := os.Open(p)
	if err != nil {
		return nil
	}
	c, err := readHeader(file)
	if err != nil || c.Source != abs || c.Size != st.Size() || c.ModTime != st.ModTime().UnixNano() || c.Conv != conv {
		file.Close()
		return nil
	}
	lc := &Cache{path: p, f: file, header: c, byKey: map[string]param{}}
	for _, e := range c.Params {
		lc.byKey[e.Key] = e
	}
	return lc
}

func readHeader(f *os.File) (header, error) {
	var h header
	head := make([]byte, len(magic)+4)
	if _, err := io.ReadFull(f, head); err != nil || string(head[:len(magic)]) != magic {
		return h, fmt.Errorf("not a load cache file")
	}
	n := binary.LittleEndian.Uint32(head[len(magic):])
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

// Shapes returns the cached parameters as a state dict without values: what a check of the
// weights against a network reads.
func (c *Cache) Shapes() map[string]*checkpoint.Tensor {
	w := make(map[string]*checkpoint.Tensor, len(c.header.Params))
	for _, e := range c.header.Params {
		w[e.Key] = &checkpoint.Tensor{Shape: e.Torch}
	}
	return w
}

// Fill reads parameter p's block into dst (the graph's layout, shape internal).
func (c *Cache) Fill(p nn.ParamSpec, internal []int, dst []float32) error {
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

// Close closes the cache file.
func (c *Cache) Close() { c.f.Close() }

// Param is one parameter of a loaded model: its key, its shape and layout in the checkpoint
// (PyTorch's), and its values in the graph's layout, of shape Internal.
type Param struct {
	Key      string
	Torch    []int
	Layout   nn.Layout
	Internal []int
	Values   []float32
}

// Write writes the parameters of a model loaded from checkpoint path, with convolutions in
// layout conv, to the cache, and removes the cache files of older versions of that checkpoint
// and of checkpoints that no longer exist. Loading ignores its errors (the cache is an
// optimization); tests read them.
func (f Folder) Write(path string, conv nn.ConvImpl, params []Param) error {
	dir, abs, st, ok := f.cacheable(path)
	if !ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h := header{Source: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Conv: conv}
	var blocks [][]float32
	for _, p := range params {
		h.Params = append(h.Params, param{Key: p.Key, Torch: p.Torch, Layout: p.Layout, Internal: slices.Clone(p.Internal)})
		blocks = append(blocks, p.Values)
	}
	// Offsets depend on the header's length, which depends on the offsets' digits: lay out
	// with a header size rounded up until it is stable.
	reserve := 4096
	var hb []byte
	var err error
	for {
		off := int64(len(magic) + 4 + reserve)
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
	target := filePath(dir, abs, st, conv)
	err = atomicfile.WriteFunc(target, func(w io.Writer) error {
		var pos int64
		put := func(b []byte) error {
			n, err := w.Write(b)
			pos += int64(n)
			return err
		}
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(reserve))
		if err := put([]byte(magic)); err != nil {
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
	prune(dir, target)
	return nil
}

// prune removes the cache files (other than keep) of the same checkpoint path, and those
// whose checkpoint is gone or changed.
func prune(dir, keep string) {
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
		h, err := readHeader(f)
		f.Close()
		if err != nil {
			continue
		}
		if st, err := os.Stat(h.Source); err != nil || st.Size() != h.Size || st.ModTime().UnixNano() != h.ModTime {
			os.Remove(p)
		}
	}
}
