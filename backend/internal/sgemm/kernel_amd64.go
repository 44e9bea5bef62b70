package sgemm

import "golang.org/x/sys/cpu"

// available reports whether this CPU runs the SIMD kernels (x86-64 with AVX2 and FMA).
var available = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports whether the packed multiply can use the AVX-512 register kernel.
var hasAVX512 = available && cpu.X86.HasAVX512F

//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int)

//go:noescape
func kernel12x32(k int, a, b, c *float32, ldc int)

//go:noescape
func kernel6x16s(k int, a *float32, lda int, b, c *float32, ldc int, add bool)

// kernel12x32s is kernel12x32 with A read in place: row i of the sliver is a[i*lda:], not
// packed, in the same order of sums. With add false it stores A·B into C instead of adding it,
// so that C need not be cleared first. It is kernel12x32g over one run.
func kernel12x32s(k int, a *float32, lda int, b, c *float32, ldc int, add bool) {
	run := segment{a, k}
	kernel12x32g(&run, 1, lda, b, 32, c, ldc, add)
}

//go:noescape
func axpy(n int, alpha float32, x, y *float32)

//go:noescape
func dot(n int, x, y *float32) float32

//go:noescape
func mulAcc(n int, x, w, y *float32)

//go:noescape
func addVV(n int, a, b, o *float32)

//go:noescape
func addVS(n int, a *float32, s float32, o *float32)

//go:noescape
func subVV(n int, a, b, o *float32)

//go:noescape
func subVS(n int, a *float32, s float32, o *float32)

//go:noescape
func mulVV(n int, a, b, o *float32)

//go:noescape
func mulVS(n int, a *float32, s float32, o *float32)

//go:noescape
func maxVS(n int, a *float32, s float32, o *float32)

//go:noescape
func minVS(n int, a *float32, s float32, o *float32)

// segment is a run of a row sliver's reduction columns read in place (kernel12x32g).
type segment struct {
	a *float32
	k int
}

//go:noescape
func kernel12x32g(segs *segment, nseg int, lda int, b *float32, ldb int, c *float32, ldc int, add bool)

//go:noescape
func affineVV(n int, x, s, b, o *float32, lo, hi float32, mode int)

//go:noescape
func maxTaps16(n int, x *float32, offs *int, ntaps int, o *float32)

//go:noescape
func affine16(n int, x, s, b, o *float32, lo, hi float32, mode int)

//go:noescape
func rangeSelectVS(n int, x, t *float32, f, lo, hi float32, upper bool, o *float32)

//go:noescape
func depthwise3x3(n int, in0, in1, in2 *float32, col, step int, k, out *float32, outStep int)
