package fastdot

import "github.com/gomlx/gomlx/backends"

// RenameConvField makes the executor look for field i of simplego's convolution node under
// another name, as if simplego had changed: every ConvGeneral must then fall back. It returns
// the function that restores the name.
func RenameConvField(i int, name string) (restore func()) {
	old := convFieldNames[i]
	convFieldNames[i] = name
	return func() { convFieldNames[i] = old }
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
	panelsForTest.Store(true)
	return func() { panelsForTest.Store(false) }
}

// GatherForTest makes every convolution gather its patches, none read in place, until restore
// is called.
func GatherForTest() (restore func()) {
	gatherForTest.Store(true)
	return func() { gatherForTest.Store(false) }
}

// PackBForTest makes every convolution pack its kernel matrix, none read in place, until restore
// is called.
func PackBForTest() (restore func()) {
	packBForTest.Store(true)
	return func() { packBForTest.Store(false) }
}

// NoAffineForTest builds batch norm and ReLU from their ops, none fused, until restore is called.
func NoAffineForTest() (restore func()) {
	affineOff.Store(true)
	return func() { affineOff.Store(false) }
}

// FlippedOffForTest builds every convolution over a reversed kernel as it is asked (the Reverse
// run, the kernel copied), until restore is called.
func FlippedOffForTest() (restore func()) {
	flippedOff.Store(true)
	return func() { flippedOff.Store(false) }
}

// RangeWhereOffForTest builds every Where over a range as it is asked (the mask computed, then
// read), until restore is called.
func RangeWhereOffForTest() (restore func()) {
	rangeWhereOff.Store(true)
	return func() { rangeWhereOff.Store(false) }
}

// ConvAffineOffForTest compiles every graph as built, no convolution merged into its batch norm,
// until restore is called.
func ConvAffineOffForTest() (restore func()) {
	convAffineOff.Store(true)
	return func() { convAffineOff.Store(false) }
}

// DepthwiseRowsForTest runs 3x3 depthwise convolutions as before sgemm.Depthwise3x3, until
// restore is called; Depthwise3x3Calls counts those run on it.
func DepthwiseRowsForTest() (restore func()) {
	rowsForTest.Store(true)
	return func() { rowsForTest.Store(false) }
}

func Depthwise3x3Calls() int64 { return depthwise3x3Calls.Load() }
