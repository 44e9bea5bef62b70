//go:build !amd64

package sgemm

// Available reports whether this CPU runs the SIMD kernels (x86-64 with AVX2 and FMA).
var Available = false

func kernel6x16(k int, a, b, c *float32, ldc int) { panic("sgemm: no SIMD kernel on this platform") }
func axpy(n int, alpha float32, x, y *float32)    { panic("sgemm: no SIMD kernel on this platform") }
func dot(n int, x, y *float32) float32            { panic("sgemm: no SIMD kernel on this platform") }
func mulAcc(n int, x, w, y *float32)              { panic("sgemm: no SIMD kernel on this platform") }
