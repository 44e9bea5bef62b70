package data

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs the IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses returns Fashion-MNIST's ten class names, in label order.
func FashionMNISTClasses() []string { return slices.Clone(fashionMNISTClasses) }

var fashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
	"Sneaker", "Bag", "Ankle boot"}

// FashionMNIST reads the "train" (60,000 images) or "test" (10,000) split from FashionMNISTDir
// (FashionMNISTIn).
func FashionMNIST(split string) (*Set, error) { return FashionMNISTIn(FashionMNISTDir, split) }

// FashionMNISTIn reads the "train" (60,000 images) or "test" (10,000) split from the IDX files
// in dir: 1x28x28 gray images as pixel/255 in [0, 1] (torchvision's ToTensor), with their class
// labels.
func FashionMNISTIn(dir, split string) (*Set, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("Fashion-MNIST has the splits train and test, not %q", split)
	}
	images, err := readIDX(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"), 3)
	if err != nil {
		return nil, err
	}
	labels, err := readIDX(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"), 1)
	if err != nil {
		return nil, err
	}
	if images.dims[0] != labels.dims[0] || images.dims[1] != 28 || images.dims[2] != 28 {
		return nil, fmt.Errorf("Fashion-MNIST %s: %v images for %d labels (want N x 28 x 28 and N labels)", split, images.dims, labels.dims[0])
	}
	s := &Set{Name: "fashion-mnist-" + split, Shape: []int{1, 28, 28}, Classes: FashionMNISTClasses(),
		Inputs: make([]float32, len(images.data)), Labels: make([]int32, len(labels.data))}
	for i, p := range images.data {
		s.Inputs[i] = float32(p) / 255
	}
	for i, l := range labels.data {
		s.Labels[i] = int32(l)
	}
	return s, s.Check()
}

// idx is an IDX file of unsigned bytes.
type idx struct {
	dims []int
	data []byte
}

// maxIDX bounds what an IDX file may declare (Fashion-MNIST's training images are 47 MB).
const maxIDX = 256 << 20

// readIDX reads a gzipped IDX file of unsigned bytes with the given number of dimensions.
func readIDX(path string, rank int) (*idx, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("Fashion-MNIST is not installed: %s is missing (apt-get install dataset-fashion-mnist, "+
			"or read a folder with the IDX files with data.FashionMNISTIn)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Fashion-MNIST: %w", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a gzipped IDX file: %w", path, err)
	}
	head := make([]byte, 4+4*rank)
	if _, err := io.ReadFull(z, head); err != nil {
		return nil, fmt.Errorf("%s: truncated IDX header: %w", path, err)
	}
	if head[0] != 0 || head[1] != 0 || head[2] != 0x08 || int(head[3]) != rank {
		return nil, fmt.Errorf("%s is not an IDX file of %d-dimensional unsigned bytes (magic % x)", path, rank, head[:4])
	}
	out := &idx{dims: make([]int, rank)}
	n := 1
	for i := range rank {
		out.dims[i] = int(binary.BigEndian.Uint32(head[4+4*i:]))
		n *= out.dims[i]
		if out.dims[i] == 0 || n > maxIDX {
			return nil, fmt.Errorf("%s declares dimensions %v: empty or larger than %d MB", path, out.dims[:i+1], maxIDX>>20)
		}
	}
	// Read what is there (memory grows with the data, not with what the header claims).
	if out.data, err = io.ReadAll(io.LimitReader(z, int64(n))); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out.data) != n {
		return nil, fmt.Errorf("%s: truncated, %v declared (%d bytes) but %d bytes of data", path, out.dims, n, len(out.data))
	}
	return out, nil
}
