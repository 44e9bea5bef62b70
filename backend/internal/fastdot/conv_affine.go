package fastdot

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// A convolution followed by a batch norm at inference (and its ReLU) writes its output, then the
// affine node reads it all and writes it again: at MobileNetV2's batch 8, 400 MB a call, the
// largest op. Fuse, as a graph is compiled, rewrites each affine node whose activation
// is a convolution used by nothing else into a node that convolves and applies the affine map
// to each tile of the output as it is finished, still in cache. Only what the compiled graph
// uses counts: where the convolution's output is used elsewhere too (a method reads that layer,
// or DeepLift the batch norm's output before its ReLU) nothing is rewritten, so no convolution
// ever runs twice. The map is the affine node's own (sgemm.Affine), so the bits are the same.

// convAffine is the data of a rewritten affine node: inputs the convolution's input and kernel,
// then scale and shift.
type convAffine struct {
	affine
	conv reflect.Value // the convolution node's data struct
}

// convAffineCalls counts the rewritten nodes run; convAffineOff (tests) rewrites none.
var (
	convAffineCalls atomic.Int64
	convAffineOff   atomic.Bool
)

// fuseConvAffine rewrites, among the nodes the outputs use, each affine node whose activation is
// a float32 convolution with no other use (and not an output) into one node computing both.
func fuseConvAffine(outputs []backends.Op) {
	if !installed.Load() || convAffineOff.Load() {
		return
	}
	order, uses, ok := graphUses(outputs)
	if !ok {
		return
	}
	for _, n := range order {
		if nodeOp(n) != affineOp {
			continue
		}
		data, _ := nodeValue(n)
		a, ok := data.(*affine)
		in := nodeInputs(n)
		if !ok || len(in) != 3 {
			continue
		}
		conv := in[0]
		if nodeOp(conv) != backends.OpTypeConvGeneral || uses[conv] != 1 {
			continue
		}
		cin := nodeInputs(conv)
		d, found := nodeData(conv)
		if len(cin) != 2 || !found || !float32Rank4(cin[0]) || !float32Rank4(cin[1]) || !float32Rank4(conv) {
			continue
		}
		if p, ok := convParamsOf(d); !ok || p.batchGrp > 1 || len(p.axes.InputSpatial) != 2 || len(p.axes.KernelSpatial) != 2 || len(p.axes.OutputSpatial) != 2 {
			continue
		}
		setNodeInputs(n, []*simplego.Node{cin[0], cin[1], in[1], in[2]})
		setNodeData(n, &convAffine{affine: *a, conv: d})
	}
}

func float32Rank4(n *simplego.Node) bool {
	s := nodeShape(n)
	return s.DType == dtypes.Float32 && s.Rank() == 4
}

// setNodeInputs sets a node's inputs (before the graph is compiled).
func setNodeInputs(n *simplego.Node, in []*simplego.Node) {
	*(*[]*simplego.Node)(unsafe.Pointer(reflect.ValueOf(n).Elem().FieldByName("inputs").UnsafeAddr())) = in
}

// exec runs a rewritten node: the convolution with the affine map as its epilogue.
func (ca *convAffine) exec(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer) (*simplego.Buffer, error) {
	p, ok := convParamsOf(ca.conv)
	if !ok || len(inputs) != 4 {
		return nil, fmt.Errorf("fastdot: a convolution with a batch norm not made by fuseConvAffine")
	}
	s, ok1 := flat(inputs[2]).([]float32)
	sh, ok2 := flat(inputs[3]).([]float32)
	if !ok1 || !ok2 || len(s) != ca.channels || len(sh) != ca.channels {
		return nil, fmt.Errorf("fastdot: the scale and shift of a convolution's batch norm are not %d float32 values", ca.channels)
	}
	out, handled, err := convolve(backend, p, nodeShape(node), inputs[:2], false, newEpilogue(s, sh, ca.clamp))
	if !handled {
		return nil, fmt.Errorf("fastdot: a convolution with a batch norm (fuseConvAffine) cannot run here")
	}
	convAffineCalls.Add(1)
	return out, err
}
