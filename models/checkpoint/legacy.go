package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// storageBytes are the element sizes of PyTorch's storage classes.
var storageBytes = map[string]int64{"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
	"LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// anyClass stands for every class the pickled object names (tensor rebuilders, storage types):
// calling it gives itself, which is all a walk over the file needs.
type anyClass struct{ name string }

func (c *anyClass) Call(...any) (any, error) { return c, nil }

// checkLegacyStorages walks a legacy-format .pth file the way gopickle's loader reads it (the
// pickled magic number, protocol version and system information, the pickled object, the list
// of storage keys, then each storage as an 8-byte element count and its data) without loading
// anything, and refuses a storage whose declared size is larger than what is left of the file, or
// a file that ends inside a storage's size: gopickle allocates the declared size before reading,
// so a corrupt count would exhaust memory (a fatal error, not a panic). Where the pickles before
// the storages do not parse (gopickle may even panic on them), the loader reports the problem
// itself, under its own recover.
func checkLegacyStorages(path string) (err error) {
	defer func() {
		if recover() != nil {
			err = nil // a pickle gopickle cannot walk: readPth says what is wrong with it
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	r := &countingReader{r: f}
	load := func() (any, error) {
		u := pickle.NewUnpickler(r)
		return u.Load()
	}
	for range 3 { // magic number, protocol version, system information
		if _, err := load(); err != nil {
			return nil
		}
	}
	elem := map[string]int64{}
	u := pickle.NewUnpickler(r)
	u.FindClass = func(module, name string) (any, error) { return &anyClass{name: name}, nil }
	u.PersistentLoad = func(id any) (any, error) {
		if t, ok := id.(*types.Tuple); ok && t.Len() >= 6 {
			if kind, _ := t.Get(0).(string); kind == "storage" {
				key, _ := t.Get(2).(string)
				if c, ok := t.Get(1).(*anyClass); ok {
					elem[key] = storageBytes[c.name]
				}
			}
		}
		return &anyClass{name: "storage"}, nil
	}
	if _, err := u.Load(); err != nil {
		return nil
	}
	keys, err := load()
	if err != nil {
		return nil
	}
	list, ok := keys.(*types.List)
	if !ok {
		return nil
	}
	for _, k := range *list {
		key, _ := k.(string)
		var size [8]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			// gopickle reads the count with one Read: a partial count would be taken as a
			// huge size.
			return fmt.Errorf("the file ends inside the size of storage %q: it is truncated or corrupt; delete it and download it again", key)
		}
		n, es := binary.LittleEndian.Uint64(size[:]), max(elem[key], 1)
		left := st.Size() - r.n
		if n > uint64(left)/uint64(es) {
			return fmt.Errorf("storage %q declares %d elements of %d bytes but %d bytes are left in the file: the file is truncated or corrupt; delete it and download it again",
				key, n, es, left)
		}
		// Past the data without reading it (the size was checked against the file above).
		if _, err := f.Seek(int64(n)*es, io.SeekCurrent); err != nil {
			return fmt.Errorf("skipping storage %q: %w", key, err)
		}
		r.n += int64(n) * es
	}
	return nil
}

// checkLegacy wraps checkLegacyStorages' refusal as readPth reports errors.
func checkLegacy(path string) error {
	if err := checkLegacyStorages(path); err != nil {
		return fmt.Errorf("reading legacy-format checkpoint %s: %w", filepath.Base(path), err)
	}
	return nil
}
