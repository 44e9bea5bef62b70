package fastdot

// RenameConvField makes the executor look for field i of simplego's convolution node under
// another name, as if simplego had changed: every ConvGeneral must then fall back. It returns
// the function that restores the name.
func RenameConvField(i int, name string) (restore func()) {
	old := convFieldNames[i]
	convFieldNames[i] = name
	return func() { convFieldNames[i] = old }
}
