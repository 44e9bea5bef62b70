//go:build !amd64

package sgemm

// available reports whether this CPU runs the SIMD kernels (x86-64 with AVX2 and FMA).
var available = false

var hasAVX512 = false

func kernel6x16(k int, a, b, c *float32, ldc int)  { panic("sgemm: no SIMD kernel on this platform") }
func kernel12x32(k int, a, b, c *float32, ldc int) { panic("sgemm: no SIMD kernel on this platform") }
func kernel6x16s(k int, a *float32, lda int, b, c *float32, ldc int, add bool) {
	panic("sgemm: no SIMD kernel on this platform")
}
func kernel12x32s(k int, a *float32, lda int, b, c *float32, ldc int, add bool) {
	panic("sgemm: no SIMD kernel on this platform")
}
func axpy(n int, alpha float32, x, y *float32)       { panic("sgemm: no SIMD kernel on this platform") }
func dot(n int, x, y *float32) float32               { panic("sgemm: no SIMD kernel on this platform") }
func mulAcc(n int, x, w, y *float32)                 { panic("sgemm: no SIMD kernel on this platform") }
func addVV(n int, a, b, o *float32)                  { panic("sgemm: no SIMD kernel on this platform") }
func addVS(n int, a *float32, s float32, o *float32) { panic("sgemm: no SIMD kernel on this platform") }
func subVV(n int, a, b, o *float32)                  { panic("sgemm: no SIMD kernel on this platform") }
func subVS(n int, a *float32, s float32, o *float32) { panic("sgemm: no SIMD kernel on this platform") }
func mulVV(n int, a, b, o *float32)                  { panic("sgemm: no SIMD kernel on this platform") }
func mulVS(n int, a *float32, s float32, o *float32) { panic("sgemm: no SIMD kernel on this platform") }
func maxTaps16(n int, x *float32, offs *int, ntaps int, o *float32) {
	panic("sgemm: no SIMD kernel on this platform")
}
func affine16(n int, x, s, b, o *float32, lo, hi float32, mode int) {
	panic("sgemm: no SIMD kernel on this platform")
}
func maxVS(n int, a *float32, s float32, o *float32) { panic("sgemm: no SIMD kernel on this platform") }
func minVS(n int, a *float32, s float32, o *float32) { panic("sgemm: no SIMD kernel on this platform") }

type segment struct {
	a *float32
	k int
}

func kernel12x32g(segs *segment, nseg int, lda int, b *float32, ldb int, c *float32, ldc int, add bool) {
	panic("sgemm: no SIMD kernel on this platform")
}

func affineVV(n int, x, s, b, o *float32, lo, hi float32, mode int) {
	panic("sgemm: no SIMD kernel on this platform")
}

func rangeSelectVS(n int, x, t *float32, f, lo, hi float32, upper bool, o *float32) {
	panic("sgemm: no SIMD kernel on this platform")
}

func depthwise3x3(n int, in0, in1, in2 *float32, col, step int, k, out *float32, outStep int) {
	panic("sgemm: no SIMD kernel on this platform")
}
