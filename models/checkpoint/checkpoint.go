// Package checkpoint reads and writes the checkpoint formats: PyTorch's .pth (the zip format of
// torch.save and the legacy format) and .safetensors, with the labels file kept beside a
// checkpoint.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
	"github.com/x448/float16"

	"github.com/gradcam-go/gradcam/internal/catch"
)

// Tensor is a host float32 tensor in torchvision's layout, as read from a checkpoint.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Read reads a state_dict from a PyTorch .pth file (the zip format of torch.save, or
// the legacy format of _use_new_zipfile_serialization=False, in which the official VGG and
// AlexNet weights are stored) or a .safetensors file. The format is recognized from the
// content. A checkpoint saved as {"state_dict": ...} or {"model": ...} is unwrapped.
func Read(path string) (map[string]*Tensor, error) {
	head := make([]byte, 16)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	n, readErr := io.ReadFull(f, head)
	info, statErr := f.Stat()
	f.Close()
	if statErr != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, statErr)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("checkpoint %s is a folder, not a file: give the checkpoint file inside it", path)
	}
	if readErr != nil && readErr != io.EOF && readErr != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, readErr)
	}
	head = head[:n]
	var w map[string]*Tensor
	switch {
	case n == 0:
		return nil, fmt.Errorf("checkpoint %s is empty", path)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		w, err = readPth(path, "zip")
	case n >= 9 && head[8] == '{':
		w, err = readSafetensors(path, info.Size())
	case head[0] == 0x80: // a pickle stream: the legacy format starts with the pickled magic number.
		if err = checkLegacy(path); err == nil {
			w, err = readPth(path, "legacy")
		}
	default:
		return nil, fmt.Errorf("%s is not a PyTorch checkpoint (.pth zip or legacy format) nor a .safetensors file", path)
	}
	if err != nil {
		return nil, err
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("checkpoint %s holds no tensors", path)
	}
	return w, nil
}

func readPth(path, format string) (w map[string]*Tensor, err error) {
	var obj any
	err = catch.Panic(func() (err error) { obj, err = pytorch.Load(path); return err })
	if err != nil {
		reason := err.Error()
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || format == "zip" {
			reason = "the file is truncated or corrupt (" + reason + "); delete it and download it again"
		}
		return nil, fmt.Errorf("reading %s-format checkpoint %s: %s", format, filepath.Base(path), reason)
	}
	dict, err := stateDict(obj)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, err)
	}
	w = map[string]*Tensor{}
	for k, v := range dict {
		t, ok := v.(*pytorch.Tensor)
		if !ok {
			continue // non-tensor entries (e.g. _metadata) are not weights.
		}
		if w[k], err = denseFloat32(t); err != nil {
			return nil, fmt.Errorf("reading checkpoint %s, tensor %s: %w", path, k, err)
		}
	}
	return w, nil
}

// stateDict extracts a name -> value map from an unpickled object.
func stateDict(obj any) (map[string]any, error) {
	out := map[string]any{}
	switch d := obj.(type) {
	case *types.OrderedDict:
		for k, e := range d.Map {
			if ks, ok := k.(string); ok {
				out[ks] = e.Value
			}
		}
	case *types.Dict:
		for _, e := range *d {
			if ks, ok := e.Key.(string); ok {
				out[ks] = e.Value
			}
		}
	default:
		return nil, fmt.Errorf("expected a state_dict (a dict of tensors), found %T; save model.state_dict(), not the model", obj)
	}
	for _, wrapper := range []string{"state_dict", "model"} {
		if inner, ok := out[wrapper]; ok {
			if _, isTensor := inner.(*pytorch.Tensor); !isTensor {
				return stateDict(inner)
			}
		}
	}
	return out, nil
}

// denseFloat32 copies a (possibly strided) PyTorch tensor into a dense float32 slice.
func denseFloat32(t *pytorch.Tensor) (*Tensor, error) {
	var get func(i int) float32
	var size int
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		get, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.HalfStorage:
		get, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.BFloat16Storage:
		get, size = func(i int) float32 { return s.Data[i] }, len(s.Data)
	case *pytorch.DoubleStorage:
		get, size = func(i int) float32 { return float32(s.Data[i]) }, len(s.Data)
	case *pytorch.LongStorage:
		get, size = func(i int) float32 { return float32(s.Data[i]) }, len(s.Data)
	case *pytorch.IntStorage:
		get, size = func(i int) float32 { return float32(s.Data[i]) }, len(s.Data)
	default:
		return nil, fmt.Errorf("unsupported storage type %T", t.Source)
	}
	if len(t.Stride) != len(t.Size) {
		return nil, fmt.Errorf("tensor of shape %v has %d strides: corrupt file", t.Size, len(t.Stride))
	}
	n := 1
	for _, d := range t.Size {
		if d < 0 || (d > 0 && n > size/d) {
			return nil, fmt.Errorf("shape %v needs more values than the tensor's storage holds (%d): corrupt file", t.Size, size)
		}
		n *= d
	}
	out := &Tensor{Shape: slices.Clone(t.Size), Data: make([]float32, n)}
	if n == 0 {
		return out, nil
	}
	idx := make([]int, len(t.Size))
	for i := range n {
		off := t.StorageOffset
		for a, v := range idx {
			off += v * t.Stride[a]
		}
		if off < 0 || off >= size {
			return nil, fmt.Errorf("storage too small (%d elements) for shape %v: truncated or corrupt file", size, t.Size)
		}
		out.Data[i] = get(off)
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < t.Size[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out, nil
}

// safetensorsEntry is one tensor of a safetensors header.
type safetensorsEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// readSafetensors reads the safetensors format: an 8-byte little-endian header size, a JSON
// header of name -> {dtype, shape, data_offsets}, then the little-endian data.
func readSafetensors(path string, fileSize int64) (map[string]*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadSafetensors(f, fileSize, filepath.Base(path))
}

// ReadSafetensors reads a .safetensors checkpoint of size bytes from r (a file, or bytes
// embedded in a program); name says what it is in errors.
func ReadSafetensors(r io.ReaderAt, fileSize int64, name string) (map[string]*Tensor, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("reading safetensors checkpoint %s: %s", name, fmt.Sprintf(format, args...))
	}
	f := io.NewSectionReader(r, 0, fileSize)
	var hlen uint64
	if err := binary.Read(f, binary.LittleEndian, &hlen); err != nil {
		return nil, bad("%v", err)
	}
	if hlen > uint64(fileSize)-8 {
		return nil, bad("header of %d bytes in a %d-byte file: the file is truncated or corrupt", hlen, fileSize)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, bad("%v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, bad("invalid header: %v", err)
	}
	dataStart := 8 + int64(hlen)
	names := make([]string, 0, len(raw))
	for k := range raw {
		if k != "__metadata__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	w := map[string]*Tensor{}
	for _, name := range names {
		var e safetensorsEntry
		if err := json.Unmarshal(raw[name], &e); err != nil {
			return nil, bad("tensor %s: %v", name, err)
		}
		n := 1
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > int(fileSize)/d) {
				return nil, bad("tensor %s has shape %v, larger than the %d-byte file", name, e.Shape, fileSize)
			}
			n *= d
		}
		width := map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8}[e.DType]
		if width == 0 {
			return nil, bad("tensor %s has unsupported dtype %s", name, e.DType)
		}
		if e.Offsets[0] < 0 || e.Offsets[1]-e.Offsets[0] != int64(n*width) {
			return nil, bad("tensor %s: %d bytes for shape %v of %s", name, e.Offsets[1]-e.Offsets[0], e.Shape, e.DType)
		}
		if dataStart+e.Offsets[1] > fileSize {
			return nil, bad("tensor %s ends past the end of the file: the file is truncated", name)
		}
		buf := make([]byte, n*width)
		if _, err := f.ReadAt(buf, dataStart+e.Offsets[0]); err != nil {
			return nil, bad("tensor %s: %v", name, err)
		}
		t := &Tensor{Shape: slices.Clone(e.Shape), Data: make([]float32, n)}
		for i := range n {
			b := buf[i*width : (i+1)*width]
			switch e.DType {
			case "F32":
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b))
			case "F16":
				t.Data[i] = float16.Frombits(binary.LittleEndian.Uint16(b)).Float32()
			case "BF16":
				t.Data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
			case "F64":
				t.Data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
			case "I64":
				t.Data[i] = float32(int64(binary.LittleEndian.Uint64(b)))
			}
		}
		w[name] = t
	}
	return w, nil
}

// Labels returns the labels a .safetensors checkpoint written by Write carries in its metadata,
// or nil.
func Labels(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var hlen uint64
	info, err := f.Stat()
	if err != nil || binary.Read(f, binary.LittleEndian, &hlen) != nil || hlen > uint64(info.Size())-8 || hlen > 64<<20 {
		return nil
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if json.Unmarshal(header, &h) != nil || h.Meta["labels"] == "" {
		return nil
	}
	var labels []string
	if json.Unmarshal([]byte(h.Meta["labels"]), &labels) != nil {
		return nil
	}
	return labels
}
