package testref

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReferenceStamp: the stamp changes with the script, a script it depends on, and the
// contents of the folders it is given (changed shared images); it ignores nothing else.
func TestReferenceStamp(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ref.py", "# depends on: lib.py\nprint(1)\n")
	write("lib.py", "X = 1\n")
	write("images/a.png", "pixels")
	images := filepath.Join(root, "images")
	stamp := func() string {
		s, err := referenceStamp(root, "ref.py", []string{images, "12"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := stamp()
	if stamp() != first {
		t.Fatal("the stamp is not deterministic")
	}
	for _, change := range []struct{ file, text string }{
		{"images/a.png", "other pixels"}, {"images/sub/b.png", "new image"}, {"lib.py", "X = 2\n"}, {"ref.py", "print(2)\n"},
	} {
		before := stamp()
		write(change.file, change.text)
		if stamp() == before {
			t.Errorf("changing %s does not change the stamp", change.file)
		}
	}
	// Another reference's output counts by its DONE stamp only.
	write("images/DONE", "abc\n")
	before := stamp()
	write("images/big.npy", "data")
	if stamp() != before {
		t.Error("a finished reference folder is hashed beyond its DONE stamp")
	}
}
