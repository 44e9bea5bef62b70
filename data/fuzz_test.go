package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadIDX: no file makes the IDX reader panic or allocate more than the header's bounded
// size; what it accepts holds the declared number of bytes. Seeds: Debian's Fashion-MNIST test
// labels and a small gzipped image file.
func FuzzReadIDX(f *testing.F) {
	labels, err := os.ReadFile(filepath.Join(FashionMNISTDir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		f.Fatalf("the seed needs Debian's dataset-fashion-mnist: %v", err)
	}
	f.Add(labels, 1)
	var small bytes.Buffer
	z := gzip.NewWriter(&small)
	z.Write([]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8})
	z.Close()
	f.Add(small.Bytes(), 3)
	f.Fuzz(func(t *testing.T, data []byte, rank int) {
		if rank < 1 || rank > 4 {
			t.Skip()
		}
		p := filepath.Join(t.TempDir(), "x.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readIDX(p, rank)
		if err != nil {
			return
		}
		n := 1
		for _, d := range got.dims {
			n *= d
		}
		if len(got.dims) != rank || len(got.data) != n {
			t.Errorf("dims %v with %d bytes", got.dims, len(got.data))
		}
	})
}
