package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWrite: both ways replace an existing file with the whole new content and leave no other
// file in the folder.
func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(string, []byte) error
	}{{"Write", Write}, {"named", func(p string, data []byte) error {
		return writeNamed(p, func(w io.Writer) error { _, err := w.Write(data); return err })
	}}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "map.npy")
			for _, content := range []string{"first version", "second"} {
				if err := tc.write(p, []byte(content)); err != nil {
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(p); string(got) != content {
					t.Errorf("content %q, want %q", got, content)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("files left: %v", entries)
			}
		})
	}
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "dir", "x"), []byte("x")); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

// TestWriteNewFileUnderItsName: on Linux a file that does not exist yet gets its name in one step,
// never a temporary name a kill could leave behind; replacing a file goes through one.
func TestWriteNewFileUnderItsName(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("O_TMPFILE is Linux's")
	}
	named := 0
	defer func(f func(string) string) { tempName = f }(tempName)
	tempName = func(path string) string { named++; return path + ".tmp" }
	p := filepath.Join(t.TempDir(), "batch.gob")
	for i, want := range []int{0, 1} {
		if err := Write(p, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); len(got) != 1 || got[0] != byte(i) {
			t.Errorf("write %d: content %v", i, got)
		}
		if named != want {
			t.Errorf("write %d: %d temporary names, want %d", i, named, want)
		}
	}
}

// TestWriteFuncFailing: a writer that fails midway leaves the old file as it was and no other file.
func TestWriteFuncFailing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "weights")
	if err := Write(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := WriteFunc(p, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the writer's", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("content %q after a failed write, want the old one", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}
