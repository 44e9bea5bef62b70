package models

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSaveIsDeterministic saves one model three times: the files must be byte for byte the same
// (ResNet-18 has 20 batch norms, whose step counters were once written in map order), so that
// retraining with the same code and data reproduces a shipped checkpoint exactly.
func TestSaveIsDeterministic(t *testing.T) {
	m, err := New(lookup("resnet18").Network, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var first []byte
	for i := range 3 {
		p := filepath.Join(dir, "m.safetensors")
		if err := m.Save(p); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Fatalf("save %d differs from the first", i+1)
		}
	}
}
