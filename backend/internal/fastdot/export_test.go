package fastdot

import (
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
)

// RenameConvField makes the executor look for field i of simplego's convolution node under
// another name, as if simplego had changed: every ConvGeneral must then fall back. It returns
// the function that restores the name.
func RenameConvField(i int, name string) (restore func()) {
	old := convFieldNames[i]
	convFieldNames[i] = name
	return func() { convFieldNames[i] = old }
}

// Float64OffForTest hands float64 DotGenerals to simplego's own executor until restore is called.
func Float64OffForTest() (restore func()) { return set(&float64Off) }

// set sets flag until the function it returns is called.
func set(flag *atomic.Bool) (restore func()) {
	flag.Store(true)
	return func() { flag.Store(false) }
}

// DisableForTest puts simplego's own executors back for every op handled in binary.go
// (element-wise ops, comparisons, Where, ReduceSum, Slice, BroadcastInDim, Sign) until restore is called: tests
// compare with them.
func DisableForTest() (restore func()) {
	mine := map[backends.OpType]executor{}
	for op, original := range binaryOriginal {
		mine[op] = nodeExecutors[op]
		nodeExecutors[op] = original
	}
	return func() {
		for op, e := range mine {
			nodeExecutors[op] = e
		}
	}
}

// PanelsForTest makes kernel gradients multiply as their panels' products, not transposed,
// until restore is called.
func PanelsForTest() (restore func()) {
	return set(&panelsForTest)
}

// GatherForTest makes every convolution gather its patches, none read in place, until restore
// is called.
func GatherForTest() (restore func()) {
	return set(&gatherForTest)
}

// PackBForTest makes every convolution pack its kernel matrix, none read in place, until restore
// is called.
func PackBForTest() (restore func()) {
	return set(&packBForTest)
}

// NoAffineForTest builds batch norm and ReLU from their ops, none fused, until restore is called.
func NoAffineForTest() (restore func()) {
	return set(&affineOff)
}

// FlippedOffForTest builds every convolution over a reversed kernel as it is asked (the Reverse
// run, the kernel copied), until restore is called.
func FlippedOffForTest() (restore func()) {
	return set(&flippedOff)
}

// RescaleOffForTest compiles every graph with DeepLift's rescale rule as built (a dozen ops), until
// restore is called.
func RescaleOffForTest() (restore func()) {
	return set(&rescaleOff)
}

// RangeWhereOffForTest builds every Where over a range as it is asked (the mask computed, then
// read), until restore is called.
func RangeWhereOffForTest() (restore func()) {
	return set(&rangeWhereOff)
}

// ConvAffineOffForTest compiles every graph as built, no convolution merged into its batch norm,
// until restore is called.
func ConvAffineOffForTest() (restore func()) {
	return set(&convAffineOff)
}

// DepthwiseRowsForTest runs 3x3 depthwise convolutions as before sgemm.Depthwise3x3, until
// restore is called; Depthwise3x3Calls counts those run on it.
func DepthwiseRowsForTest() (restore func()) {
	return set(&rowsForTest)
}

func Depthwise3x3Calls() int64 { return depthwise3x3Calls.Load() }
