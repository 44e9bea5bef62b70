// Package atomicfile writes files so that readers, and a process killed midway, see the old file
// or the whole new one: never a truncated file under the final name, and (on Linux) no partial
// temporary file left behind either.
package atomicfile

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Write writes data to path atomically. On Linux the data goes to an unnamed file in path's
// folder (O_TMPFILE), which gets a name only once it is complete and synced; a kill before that
// leaves nothing. Elsewhere (or where the file system lacks O_TMPFILE) it writes a hidden
// temporary file beside path and renames it.
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for content too large to hold in memory at once: write streams it to the
// file. If write returns an error, nothing is left at path (an older file there stays).
func WriteFunc(path string, write func(io.Writer) error) error {
	err := writeUnnamed(path, write)
	if err == errUnsupported {
		err = writeNamed(path, write)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// tempName is a hidden name beside path that keeps path's extension, so that the (complete)
// file is recognizable if a process dies between naming it and renaming it.
var tempName = func(path string) string {
	return filepath.Join(filepath.Dir(path), fmt.Sprintf(".tmp-%08x-%s", rand.Uint32(), filepath.Base(path)))
}

func writeNamed(path string, write func(io.Writer) error) error {
	tmp := tempName(path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
