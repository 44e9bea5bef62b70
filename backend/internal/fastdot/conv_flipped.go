package fastdot

import (
	"fmt"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// A convolution's input gradient correlates the output gradient with the kernel reversed along
// its spatial axes. internal/sgpoly builds the Reverse from a slice per tap and a
// concatenation: two copies of every kernel on every call (ResNet-50: 44 MB of 3x3 kernels, 7%
// of a saliency map's time at batch 1). FlippedKernelConv builds the convolution instead as a
// node of its own that reads the kernel where it lies, its taps in reverse order: the same
// values in the same sums, so the same bits; the Reverse is left unused, and simplego does not
// run unused nodes.

// flippedConvOp is the op type of those nodes: Reverse, which simplego does not implement
// (sgpoly builds it from other ops), so no other node of that type reaches its executor. Their
// data is the ConvGeneral's they replace.
const flippedConvOp = backends.OpTypeReverse

// flippedCalls counts the convolutions run with their kernel reversed in place; flippedOff
// (tests) builds none.
var (
	flippedCalls atomic.Int64
	flippedOff   atomic.Bool
	flippedReady atomic.Bool // Install registered the executor
)

func installFlipped() {
	if nodeExecutors[flippedConvOp] == nil {
		nodeExecutors[flippedConvOp] = guarded(flippedConvOp, execFlipped)
		flippedReady.Store(true)
	}
}

// FlippedKernelConv rebuilds conv, a float32 ConvGeneral of rank-4 operands just built, as one
// that reads its kernel reversed along both spatial axes: conv(x, k) becomes conv(x, reverse(k)).
// ok is false, adding nothing, where the executor here could not run it.
func FlippedKernelConv(b backends.Builder, conv backends.Op) (op backends.Op, ok bool) {
	sb, ok1 := b.(*simplego.Builder)
	n, ok2 := conv.(*simplego.Node)
	if !installed.Load() || !flippedReady.Load() || flippedOff.Load() || !ok1 || !ok2 || nodeOp(n) != backends.OpTypeConvGeneral {
		return nil, false
	}
	in := nodeInputs(n)
	if len(in) != 2 {
		return nil, false
	}
	for _, x := range in {
		if s := nodeShape(x); s.DType != dtypes.Float32 || s.Rank() != 4 {
			return nil, false
		}
	}
	p, ok := convNodeParams(n)
	if !ok || p.batchGrp > 1 || len(p.axes.InputSpatial) != 2 || len(p.axes.KernelSpatial) != 2 || len(p.axes.OutputSpatial) != 2 {
		return nil, false
	}
	data, ok := nodeValue(n)
	if !ok {
		return nil, false
	}
	f := newNode(sb, flippedConvOp, nodeShape(n), in...)
	setNodeData(f, data)
	return f, true
}

func execFlipped(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, _ []bool) (*simplego.Buffer, error) {
	out, handled, err := tryConvGeneral(backend, node, inputs, true)
	if !handled {
		return nil, fmt.Errorf("fastdot: a convolution built to read its kernel reversed (FlippedKernelConv) cannot run here")
	}
	flippedCalls.Add(1)
	return out, err
}
