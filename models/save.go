package models

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
	"github.com/gradcam-go/gradcam/nn"
)

// Save writes the model's parameters as a .safetensors file with PyTorch's names, shapes and
// layouts (torch's safetensors.torch.load_file + load_state_dict reads it), plus batch norm's
// num_batches_tracked. When the network has labels they are written beside it, one a line, as
// LabelsPath(path), and into the file's metadata. Both files are written atomically (a
// temporary file renamed into place): an interrupted Save leaves the old files or the new
// ones, never a truncated one.
func (m *Model) Save(path string) error {
	type entry struct {
		DType   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{}
	meta := map[string]string{"format": "pt", "network": m.Name}
	if len(m.Labels) > 0 {
		b, _ := json.Marshal(m.Labels)
		meta["labels"] = string(b)
	}
	header["__metadata__"] = meta
	var body []byte
	bns := map[string]bool{}
	for _, p := range m.Params {
		t, err := m.Param(p.Key)
		if err != nil {
			return fmt.Errorf("saving %s: %w", p.Key, err)
		}
		start := int64(len(body))
		for _, v := range t.Data {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(v))
		}
		header[p.Key] = entry{DType: "F32", Shape: t.Shape, Offsets: [2]int64{start, int64(len(body))}}
		if prefix, ok := strings.CutSuffix(p.Key, ".running_var"); ok {
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
	if len(m.Labels) > 0 {
		if err := atomicfile.Write(LabelsPath(path), []byte(strings.Join(m.Labels, "\n")+"\n")); err != nil {
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

// Adapt creates a model of net taking every parameter of weights whose key and shape match
// (a pretrained body) and initializing the others as New does (a new head), deterministic from
// seed. It returns the keys it initialized. This is fine-tuning's start: an ImageNet ResNet-18's
// weights adapted to Arch.WithOutputs(10, labels), or VGG-16's features under a new GAP head.
func Adapt(net *nn.Network, weights map[string]*Tensor, seed uint64, opts ...Option) (*Model, []string, error) {
	spec, err := net.Spec()
	if err != nil {
		return nil, nil, err
	}
	all := initWeights(spec, seed)
	var initialized []string
	for _, p := range spec.Params {
		if w, ok := weights[p.Key]; ok && slices.Equal(w.Shape, p.Shape) {
			all[p.Key] = w
		} else {
			initialized = append(initialized, p.Key)
		}
	}
	if len(initialized) == len(spec.Params) {
		return nil, nil, fmt.Errorf("no parameter of the checkpoint fits %s (no key with a matching shape): is it another architecture?", net.Name)
	}
	m, err := NewModel(net, all, "adapted", opts...)
	return m, initialized, err
}
