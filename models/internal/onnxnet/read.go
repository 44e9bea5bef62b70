// Package onnxnet reads an ONNX CNN (parsed by github.com/gomlx/onnx-gomlx) as an nn.Network.
//
// The graph is not run by onnx-gomlx's converter but rebuilt from package nn's blocks, so an
// imported network is explained like one defined in Go: Relu and Clip(0, 6) nodes are the
// rule-aware ReLU and ReLU6 (guided backprop, deconvnet), convolutions use the fast im2col path of
// the pure-Go backend, and CAM's head is found when the graph ends in global average pooling
// followed by Gemm or MatMul. Every node output is recorded under its ONNX name.
package onnxnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/onnx-gomlx/onnx"

	"github.com/gradcam-go/gradcam/internal/catch"
)

// Tensor is a constant of the ONNX file (an initializer, a Constant node, or a value computed
// from them at conversion): numbers as float64 (integer tensors hold shapes and indices, exact
// in float64), shape in ONNX's layout.
type Tensor struct {
	Shape []int
	Data  []float64
	Int   bool // an integer tensor
}

func (t *Tensor) size() int { return shapeSize(t.Shape) }

// ints returns the values as ints.
func (t *Tensor) ints() []int {
	out := make([]int, len(t.Data))
	for i, v := range t.Data {
		out[i] = int(v)
	}
	return out
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// attr is one node attribute.
type attr struct {
	f      float64
	i      int
	s      string
	ints   []int
	floats []float64
	t      *Tensor
}

// node is one ONNX node.
type node struct {
	op, name        string
	inputs, outputs []string
	attrs           map[string]attr
}

func (n *node) String() string {
	if n.name != "" {
		return fmt.Sprintf("%s node %q", n.op, n.name)
	}
	return fmt.Sprintf("%s node (output %q)", n.op, n.outputs[0])
}

func (n *node) intAttr(name string, def int) int {
	if a, ok := n.attrs[name]; ok {
		return a.i
	}
	return def
}

func (n *node) floatAttr(name string, def float64) float64 {
	if a, ok := n.attrs[name]; ok {
		return a.f
	}
	return def
}

func (n *node) intsAttr(name string) []int {
	if a, ok := n.attrs[name]; ok {
		return a.ints
	}
	return nil
}

// input returns the i-th input's name, "" when absent (ONNX's optional inputs).
func (n *node) input(i int) string {
	if i < len(n.inputs) {
		return n.inputs[i]
	}
	return ""
}

// Graph is an ONNX file's graph, read into plain Go values.
type Graph struct {
	Path string
	// Input is the graph input's name and its shape without the batch axis ([C, H, W] or [C, L]).
	Input      string
	InputShape []int
	// Output is the graph output's name and its size (classes or regression outputs).
	Output  string
	Outputs int

	nodes  []*node
	consts map[string]*Tensor // initializers and Constant nodes
	uses   map[string]int     // how many node inputs (and graph outputs) read each name
}

// Read parses an ONNX file and checks that it is a CNN this package converts: one image or
// sequence input, supported ops only. Errors name the file and what to do.
func Read(path string) (*Graph, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading ONNX model: %w", err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("reading ONNX model: %s is a directory, not an .onnx file", path)
	}
	if info.Size() == 0 {
		return nil, fmt.Errorf("%s is not an ONNX model (the file is empty): give a file written by torch.onnx.export or another ONNX exporter", path)
	}
	var m *onnx.Model
	parsed := false
	err = catch.Panic(func() (err error) {
		m, err = onnx.ReadFile(path)
		parsed = true
		return err
	})
	if err != nil && !parsed { // onnx-gomlx panics on a model without a graph
		return nil, fmt.Errorf("%s is not an ONNX model (it holds no graph): give a file written by torch.onnx.export or another ONNX exporter", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable ONNX model (%v): give a file written by torch.onnx.export or another ONNX exporter",
			path, firstLine(err))
	}
	pg := m.Proto.Graph
	if pg == nil || len(pg.Node) == 0 {
		return nil, fmt.Errorf("%s is not an ONNX model (no graph nodes): give a file written by torch.onnx.export or another ONNX exporter", path)
	}
	g := &Graph{Path: path, consts: map[string]*Tensor{}, uses: map[string]int{}}
	for _, init := range pg.Initializer {
		t, err := decodeTensor(init, int32(init.GetDataType()), init.GetDataLocation() == 1)
		if err != nil {
			return nil, fmt.Errorf("%s: initializer %q: %w", path, init.GetName(), err)
		}
		g.consts[init.GetName()] = t
	}
	for i, name := range m.InputsNames {
		if _, isInit := g.consts[name]; isInit {
			continue
		}
		if g.Input != "" {
			return nil, fmt.Errorf("%s has several inputs (%s, %s): only networks with one image or sequence input can be explained",
				path, g.Input, name)
		}
		g.Input = name
		dims := m.InputsShapes[i].Dimensions
		if len(dims) != 3 && len(dims) != 4 {
			return nil, fmt.Errorf("%s: input %q has shape %v; an image input [N, C, H, W] or a sequence input [N, C, L] is needed",
				path, name, dims)
		}
		g.InputShape = slices.Clone(dims[1:])
		if g.InputShape[0] < 1 {
			return nil, fmt.Errorf("%s: input %q has no fixed number of channels (%v)", path, name, dims)
		}
		for j := 1; j < len(g.InputShape); j++ {
			if g.InputShape[j] < 1 {
				g.InputShape[j] = 224 // a dynamic size: the usual ImageNet size is where shapes are declared
			}
		}
	}
	if g.Input == "" {
		return nil, fmt.Errorf("%s has no input besides its weights", path)
	}
	if len(m.OutputsNames) == 0 {
		return nil, fmt.Errorf("%s has no output", path)
	}
	g.Output = m.OutputsNames[0]
	if d := m.OutputsShapes[0].Dimensions; len(d) == 2 && d[1] > 0 {
		g.Outputs = d[1]
	}
	for _, pn := range pg.Node {
		n := &node{op: pn.GetOpType(), name: pn.GetName(), inputs: pn.GetInput(), outputs: pn.GetOutput(), attrs: map[string]attr{}}
		if d := pn.GetDomain(); d != "" && d != "ai.onnx" {
			return nil, fmt.Errorf("%s: %s is in operator set %q; only the standard ONNX operators are supported", path, n, d)
		}
		for _, pa := range pn.GetAttribute() {
			a := attr{f: float64(pa.GetF()), i: int(pa.GetI()), s: string(pa.GetS())}
			for _, v := range pa.GetInts() {
				a.ints = append(a.ints, int(v))
			}
			for _, v := range pa.GetFloats() {
				a.floats = append(a.floats, float64(v))
			}
			if pt := pa.GetT(); pt != nil {
				t, err := decodeTensor(pt, int32(pt.GetDataType()), pt.GetDataLocation() == 1)
				if err != nil {
					return nil, fmt.Errorf("%s: %s, attribute %s: %w", path, n, pa.GetName(), err)
				}
				a.t = t
			}
			n.attrs[pa.GetName()] = a
		}
		if len(n.outputs) == 0 {
			continue
		}
		if _, ok := converters[n.op]; !ok {
			return nil, fmt.Errorf("%s: %s is an op this toolkit does not convert; supported ops: %s", path, n, strings.Join(SupportedOps(), ", "))
		}
		for _, in := range n.inputs {
			g.uses[in]++
		}
		g.nodes = append(g.nodes, n)
	}
	g.uses[g.Output]++
	return g, nil
}

// firstLine keeps error messages to one line.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Layers lists the node outputs in graph order.
func (g *Graph) Layers() []string {
	var out []string
	for _, n := range g.nodes {
		out = append(out, n.outputs...)
	}
	return out
}

// tensorProto is what decodeTensor reads of onnx-gomlx's (internal) TensorProto type.
type tensorProto interface {
	GetDims() []int64
	GetRawData() []byte
	GetFloatData() []float32
	GetDoubleData() []float64
	GetInt32Data() []int32
	GetInt64Data() []int64
}

// ONNX TensorProto data types this package reads.
const (
	dtFloat   = 1
	dtUint8   = 2
	dtInt8    = 3
	dtInt32   = 6
	dtInt64   = 7
	dtBool    = 9
	dtFloat16 = 10
	dtDouble  = 11
)

// decodeTensor converts a TensorProto's data.
func decodeTensor(p tensorProto, dtype int32, external bool) (*Tensor, error) {
	if external {
		return nil, errors.New("its data is stored outside the .onnx file; save the model with all weights inside it " +
			"(onnx.save_model(m, path, save_as_external_data=False))")
	}
	t := &Tensor{}
	for _, d := range p.GetDims() {
		t.Shape = append(t.Shape, int(d))
	}
	n := t.size()
	raw := p.GetRawData()
	var width int
	switch dtype {
	case dtFloat, dtInt32:
		width = 4
	case dtInt64, dtDouble:
		width = 8
	case dtFloat16:
		width = 2
	case dtUint8, dtInt8, dtBool:
		width = 1
	default:
		return nil, fmt.Errorf("ONNX data type %d is not supported (float, double, float16, int8/32/64, uint8, bool are)", dtype)
	}
	t.Int = dtype != dtFloat && dtype != dtDouble && dtype != dtFloat16
	t.Data = make([]float64, n)
	if len(raw) > 0 {
		if len(raw) != n*width {
			return nil, fmt.Errorf("holds %d bytes for %d values of %d bytes: the file is damaged", len(raw), n, width)
		}
		for i := range n {
			b := raw[i*width:]
			switch dtype {
			case dtFloat:
				t.Data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case dtInt32:
				t.Data[i] = float64(int32(binary.LittleEndian.Uint32(b)))
			case dtInt64:
				t.Data[i] = float64(int64(binary.LittleEndian.Uint64(b)))
			case dtDouble:
				t.Data[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			case dtFloat16:
				t.Data[i] = float64(halfToFloat(binary.LittleEndian.Uint16(b)))
			case dtInt8:
				t.Data[i] = float64(int8(b[0]))
			default:
				t.Data[i] = float64(b[0])
			}
		}
		return t, nil
	}
	var got int
	switch dtype {
	case dtFloat:
		v := p.GetFloatData()
		got = len(v)
		for i := range min(n, got) {
			t.Data[i] = float64(v[i])
		}
	case dtDouble:
		v := p.GetDoubleData()
		got = len(v)
		for i := range min(n, got) {
			t.Data[i] = v[i]
		}
	case dtInt64:
		v := p.GetInt64Data()
		got = len(v)
		for i := range min(n, got) {
			t.Data[i] = float64(v[i])
		}
	default: // int32_data holds int32, int8, uint8, bool and float16 bits
		v := p.GetInt32Data()
		got = len(v)
		for i := range min(n, got) {
			if dtype == dtFloat16 {
				t.Data[i] = float64(halfToFloat(uint16(v[i])))
			} else {
				t.Data[i] = float64(v[i])
			}
		}
	}
	if got != n {
		return nil, fmt.Errorf("holds %d values for shape %v: the file is damaged", got, t.Shape)
	}
	return t, nil
}

// halfToFloat converts IEEE 754 half precision bits to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
