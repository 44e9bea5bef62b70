package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gradcam-go/gradcam/internal/atomicfile"
)

// Write writes parameters as a .safetensors file with PyTorch's names, shapes and layouts
// (torch's safetensors.torch.load_file + load_state_dict reads it), in the order of keys, plus
// batch norm's num_batches_tracked (for each key ending in .running_var). The metadata names the
// network; when labels are given they are written beside it, one a line, as LabelsPath(path),
// and into the file's metadata. Both files are written atomically (a temporary file renamed into
// place): an interrupted Write leaves the old files or the new ones, never a truncated one.
func Write(path, network string, labels []string, keys []string, params map[string]*Tensor) error {
	type entry struct {
		DType   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{}
	meta := map[string]string{"format": "pt", "network": network}
	if len(labels) > 0 {
		b, _ := json.Marshal(labels)
		meta["labels"] = string(b)
	}
	header["__metadata__"] = meta
	var body []byte
	bns := map[string]bool{}
	for _, key := range keys {
		t, ok := params[key]
		if !ok {
			return fmt.Errorf("writing %s: no parameter %s", path, key)
		}
		start := int64(len(body))
		for _, v := range t.Data {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
		}
		header[key] = entry{DType: "F32", Shape: t.Shape, Offsets: [2]int64{start, int64(len(body))}}
		if prefix, ok := strings.CutSuffix(key, ".running_var"); ok {
			bns[prefix] = true
		}
	}
	// PyTorch's BatchNorm state: a step counter, unused in inference. Sorted: the file's bytes
	// depend only on the weights (map order would shuffle them between two saves).
	for _, prefix := range slices.Sorted(maps.Keys(bns)) {
		start := int64(len(body))
		body = binary.LittleEndian.AppendUint64(body, 0)
		header[prefix+".num_batches_tracked"] = entry{DType: "I64", Shape: []int{}, Offsets: [2]int64{start, int64(len(body))}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), body...)
	if len(labels) > 0 {
		if err := atomicfile.Write(LabelsPath(path), []byte(strings.Join(labels, "\n")+"\n")); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, out)
}

// LabelsPath is where the labels of the checkpoint at path are kept: FILE.safetensors ->
// FILE.labels.txt.
func LabelsPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".labels.txt"
}

// ReadLabels reads a labels file: one label a line (empty lines at the end ignored).
func ReadLabels(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading labels: %w", err)
	}
	labels := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	if len(labels) == 1 && labels[0] == "" {
		return nil, fmt.Errorf("labels file %s is empty", path)
	}
	return labels, nil
}
