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

// DisableForTest puts simplego's own ReduceSum executor back until restore is called (tests
// compare with it).
func DisableForTest() (restore func()) {
	op := backends.OpTypeReduceSum
	mine := nodeExecutors[op]
	nodeExecutors[op] = binaryOriginal[op]
	return func() { nodeExecutors[op] = mine }
}
