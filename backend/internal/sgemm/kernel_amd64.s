#include "textflag.h"

// func kernel6x16(k int, a, b, c *float32, ldc int)
//
// c[i*ldc+j] += sum_p a[p*6+i] * b[p*16+j] for i < 6, j < 16: the AVX2/FMA micro-kernel of the
// packed matrix multiply. a is a packed 6-row sliver, b a packed 16-column sliver.
TEXT ·kernel6x16(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	TESTQ CX, CX
	JEQ   store

loop:
	VMOVUPS      (DI), Y0
	VMOVUPS      32(DI), Y1
	VBROADCASTSS (SI), Y2
	VFMADD231PS  Y0, Y2, Y4
	VFMADD231PS  Y1, Y2, Y5
	VBROADCASTSS 4(SI), Y3
	VFMADD231PS  Y0, Y3, Y6
	VFMADD231PS  Y1, Y3, Y7
	VBROADCASTSS 8(SI), Y2
	VFMADD231PS  Y0, Y2, Y8
	VFMADD231PS  Y1, Y2, Y9
	VBROADCASTSS 12(SI), Y3
	VFMADD231PS  Y0, Y3, Y10
	VFMADD231PS  Y1, Y3, Y11
	VBROADCASTSS 16(SI), Y2
	VFMADD231PS  Y0, Y2, Y12
	VFMADD231PS  Y1, Y2, Y13
	VBROADCASTSS 20(SI), Y3
	VFMADD231PS  Y0, Y3, Y14
	VFMADD231PS  Y1, Y3, Y15
	ADDQ         $24, SI
	ADDQ         $64, DI
	DECQ         CX
	JNE          loop

store:
	VADDPS  (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	VADDPS  32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	VADDPS  32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y8, Y8
	VMOVUPS Y8, (DX)
	VADDPS  32(DX), Y9, Y9
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y10, Y10
	VMOVUPS Y10, (DX)
	VADDPS  32(DX), Y11, Y11
	VMOVUPS Y11, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y12, Y12
	VMOVUPS Y12, (DX)
	VADDPS  32(DX), Y13, Y13
	VMOVUPS Y13, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y14, Y14
	VMOVUPS Y14, (DX)
	VADDPS  32(DX), Y15, Y15
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

// func axpy(n int, alpha float32, x, y *float32)
//
// y[i] += alpha * x[i] for i < n.
TEXT ·axpy(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	VBROADCASTSS alpha+8(FP), Y0
	MOVQ         x+16(FP), SI
	MOVQ         y+24(FP), DI

axpy32:
	CMPQ        CX, $32
	JLT         axpy8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         axpy32

axpy8:
	CMPQ        CX, $8
	JLT         axpy1
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axpy8

axpy1:
	TESTQ       CX, CX
	JEQ         axpydone
	VMOVSS      (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS      X1, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         axpy1

axpydone:
	VZEROUPPER
	RET

// func dot(n int, x, y *float32) float32
//
// sum_i x[i]*y[i] for i < n.
TEXT ·dot(SB), NOSPLIT, $0-28
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	MOVQ   y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ        CX, $32
	JLT         dot8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dot8:
	CMPQ        CX, $8
	JLT         dotreduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dot1:
	TESTQ       CX, CX
	JEQ         dotdone
	VMOVSS      (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         dot1

dotdone:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func mulAcc(n int, x, w, y *float32)
//
// y[i] += x[i] * w[i] for i < n.
TEXT ·mulAcc(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DX
	MOVQ y+24(FP), DI

mulacc32:
	CMPQ        CX, $32
	JLT         mulacc8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VMOVUPS     (DX), Y5
	VMOVUPS     32(DX), Y6
	VMOVUPS     64(DX), Y7
	VMOVUPS     96(DX), Y8
	VFMADD231PS (SI), Y5, Y1
	VFMADD231PS 32(SI), Y6, Y2
	VFMADD231PS 64(SI), Y7, Y3
	VFMADD231PS 96(SI), Y8, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DX
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         mulacc32

mulacc8:
	CMPQ        CX, $8
	JLT         mulacc1
	VMOVUPS     (DI), Y1
	VMOVUPS     (DX), Y5
	VFMADD231PS (SI), Y5, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         mulacc8

mulacc1:
	TESTQ       CX, CX
	JEQ         mulaccdone
	VMOVSS      (DI), X1
	VMOVSS      (DX), X5
	VFMADD231SS (SI), X5, X1
	VMOVSS      X1, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DX
	ADDQ        $4, DI
	DECQ        CX
	JMP         mulacc1

mulaccdone:
	VZEROUPPER
	RET

// func addVV(n int, a, b, o *float32)
//
// o[i] = a[i] add b[i] for i < n.
TEXT ·addVV(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ o+24(FP), DI

addvv32:
	CMPQ    CX, $32
	JLT     addvv8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VADDPS  (DX), Y1, Y1
	VADDPS  32(DX), Y2, Y2
	VADDPS  64(DX), Y3, Y3
	VADDPS  96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     addvv32

addvv8:
	CMPQ    CX, $8
	JLT     addvv1
	VMOVUPS (SI), Y1
	VADDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     addvv8

addvv1:
	TESTQ   CX, CX
	JEQ     addvvdone
	VMOVSS  (SI), X1
	VADDSS  (DX), X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $4, DI
	DECQ    CX
	JMP     addvv1

addvvdone:
	VZEROUPPER
	RET

// func addVS(n int, a *float32, s float32, o *float32)
//
// o[i] = a[i] add s for i < n.
TEXT ·addVS(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ         o+24(FP), DI

addvs32:
	CMPQ    CX, $32
	JLT     addvs8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VADDPS  Y0, Y1, Y1
	VADDPS  Y0, Y2, Y2
	VADDPS  Y0, Y3, Y3
	VADDPS  Y0, Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     addvs32

addvs8:
	CMPQ    CX, $8
	JLT     addvs1
	VMOVUPS (SI), Y1
	VADDPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     addvs8

addvs1:
	TESTQ   CX, CX
	JEQ     addvsdone
	VMOVSS  (SI), X1
	VADDSS  X0, X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     addvs1

addvsdone:
	VZEROUPPER
	RET

// func subVV(n int, a, b, o *float32)
//
// o[i] = a[i] sub b[i] for i < n.
TEXT ·subVV(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ o+24(FP), DI

subvv32:
	CMPQ    CX, $32
	JLT     subvv8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VSUBPS  (DX), Y1, Y1
	VSUBPS  32(DX), Y2, Y2
	VSUBPS  64(DX), Y3, Y3
	VSUBPS  96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     subvv32

subvv8:
	CMPQ    CX, $8
	JLT     subvv1
	VMOVUPS (SI), Y1
	VSUBPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     subvv8

subvv1:
	TESTQ   CX, CX
	JEQ     subvvdone
	VMOVSS  (SI), X1
	VSUBSS  (DX), X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $4, DI
	DECQ    CX
	JMP     subvv1

subvvdone:
	VZEROUPPER
	RET

// func subVS(n int, a *float32, s float32, o *float32)
//
// o[i] = a[i] sub s for i < n.
TEXT ·subVS(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ         o+24(FP), DI

subvs32:
	CMPQ    CX, $32
	JLT     subvs8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VSUBPS  Y0, Y1, Y1
	VSUBPS  Y0, Y2, Y2
	VSUBPS  Y0, Y3, Y3
	VSUBPS  Y0, Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     subvs32

subvs8:
	CMPQ    CX, $8
	JLT     subvs1
	VMOVUPS (SI), Y1
	VSUBPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     subvs8

subvs1:
	TESTQ   CX, CX
	JEQ     subvsdone
	VMOVSS  (SI), X1
	VSUBSS  X0, X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     subvs1

subvsdone:
	VZEROUPPER
	RET

// func mulVV(n int, a, b, o *float32)
//
// o[i] = a[i] mul b[i] for i < n.
TEXT ·mulVV(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ o+24(FP), DI

mulvv32:
	CMPQ    CX, $32
	JLT     mulvv8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VMULPS  (DX), Y1, Y1
	VMULPS  32(DX), Y2, Y2
	VMULPS  64(DX), Y3, Y3
	VMULPS  96(DX), Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     mulvv32

mulvv8:
	CMPQ    CX, $8
	JLT     mulvv1
	VMOVUPS (SI), Y1
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mulvv8

mulvv1:
	TESTQ   CX, CX
	JEQ     mulvvdone
	VMOVSS  (SI), X1
	VMULSS  (DX), X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DX
	ADDQ    $4, DI
	DECQ    CX
	JMP     mulvv1

mulvvdone:
	VZEROUPPER
	RET

// func mulVS(n int, a *float32, s float32, o *float32)
//
// o[i] = a[i] mul s for i < n.
TEXT ·mulVS(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ         o+24(FP), DI

mulvs32:
	CMPQ    CX, $32
	JLT     mulvs8
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VMULPS  Y0, Y1, Y1
	VMULPS  Y0, Y2, Y2
	VMULPS  Y0, Y3, Y3
	VMULPS  Y0, Y4, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     mulvs32

mulvs8:
	CMPQ    CX, $8
	JLT     mulvs1
	VMOVUPS (SI), Y1
	VMULPS  Y0, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mulvs8

mulvs1:
	TESTQ   CX, CX
	JEQ     mulvsdone
	VMOVSS  (SI), X1
	VMULSS  X0, X1, X1
	VMOVSS  X1, (DI)
	ADDQ    $4, SI
	ADDQ    $4, DI
	DECQ    CX
	JMP     mulvs1

mulvsdone:
	VZEROUPPER
	RET

// func maxVS(n int, a *float32, s float32, o *float32)
//
// o[i] = max(a[i], s) for i < n, with a NaN a[i] kept (the caller rules out the signed-zero
// case where this differs from Go's max).
TEXT ·maxVS(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ         o+24(FP), DI

maxvs8:
	CMPQ      CX, $8
	JLT       maxvs1
	VMOVUPS   (SI), Y1
	VMAXPS    Y0, Y1, Y2
	VCMPPS    $3, Y1, Y1, Y3
	VBLENDVPS Y3, Y1, Y2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       maxvs8

maxvs1:
	TESTQ     CX, CX
	JEQ       maxvsdone
	VMOVSS    (SI), X1
	VMAXPS    X0, X1, X2
	VCMPSS    $3, X1, X1, X3
	VBLENDVPS X3, X1, X2, X2
	VMOVSS    X2, (DI)
	ADDQ      $4, SI
	ADDQ      $4, DI
	DECQ      CX
	JMP       maxvs1

maxvsdone:
	VZEROUPPER
	RET

// func minVS(n int, a *float32, s float32, o *float32)
//
// o[i] = min(a[i], s) for i < n, with a NaN a[i] kept (the caller rules out the signed-zero
// case where this differs from Go's min).
TEXT ·minVS(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         a+8(FP), SI
	VBROADCASTSS s+16(FP), Y0
	MOVQ         o+24(FP), DI

minvs8:
	CMPQ      CX, $8
	JLT       minvs1
	VMOVUPS   (SI), Y1
	VMINPS    Y0, Y1, Y2
	VCMPPS    $3, Y1, Y1, Y3
	VBLENDVPS Y3, Y1, Y2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       minvs8

minvs1:
	TESTQ     CX, CX
	JEQ       minvsdone
	VMOVSS    (SI), X1
	VMINPS    X0, X1, X2
	VCMPSS    $3, X1, X1, X3
	VBLENDVPS X3, X1, X2, X2
	VMOVSS    X2, (DI)
	ADDQ      $4, SI
	ADDQ      $4, DI
	DECQ      CX
	JMP       minvs1

minvsdone:
	VZEROUPPER
	RET

// func kernel12x32(k int, a, b, c *float32, ldc int)
//
// c[i*ldc+j] += sum_p a[p*12+i] * b[p*32+j] for i < 12, j < 32: the AVX-512 micro-kernel (24
// accumulators of 16 lanes), used where the CPU has AVX-512F. Each element's sum runs over p in
// the same order as kernel6x16's, so the two give the same bits.
TEXT ·kernel12x32(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27

	TESTQ CX, CX
	JEQ   store512

loop512:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VBROADCASTSS 0(SI), Z2
	VFMADD231PS  Z0, Z2, Z4
	VFMADD231PS  Z1, Z2, Z5
	VBROADCASTSS 4(SI), Z3
	VFMADD231PS  Z0, Z3, Z6
	VFMADD231PS  Z1, Z3, Z7
	VBROADCASTSS 8(SI), Z2
	VFMADD231PS  Z0, Z2, Z8
	VFMADD231PS  Z1, Z2, Z9
	VBROADCASTSS 12(SI), Z3
	VFMADD231PS  Z0, Z3, Z10
	VFMADD231PS  Z1, Z3, Z11
	VBROADCASTSS 16(SI), Z2
	VFMADD231PS  Z0, Z2, Z12
	VFMADD231PS  Z1, Z2, Z13
	VBROADCASTSS 20(SI), Z3
	VFMADD231PS  Z0, Z3, Z14
	VFMADD231PS  Z1, Z3, Z15
	VBROADCASTSS 24(SI), Z2
	VFMADD231PS  Z0, Z2, Z16
	VFMADD231PS  Z1, Z2, Z17
	VBROADCASTSS 28(SI), Z3
	VFMADD231PS  Z0, Z3, Z18
	VFMADD231PS  Z1, Z3, Z19
	VBROADCASTSS 32(SI), Z2
	VFMADD231PS  Z0, Z2, Z20
	VFMADD231PS  Z1, Z2, Z21
	VBROADCASTSS 36(SI), Z3
	VFMADD231PS  Z0, Z3, Z22
	VFMADD231PS  Z1, Z3, Z23
	VBROADCASTSS 40(SI), Z2
	VFMADD231PS  Z0, Z2, Z24
	VFMADD231PS  Z1, Z2, Z25
	VBROADCASTSS 44(SI), Z3
	VFMADD231PS  Z0, Z3, Z26
	VFMADD231PS  Z1, Z3, Z27
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNE  loop512

store512:
	VADDPS  (DX), Z4, Z4
	VMOVUPS Z4, (DX)
	VADDPS  64(DX), Z5, Z5
	VMOVUPS Z5, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z6, Z6
	VMOVUPS Z6, (DX)
	VADDPS  64(DX), Z7, Z7
	VMOVUPS Z7, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z8, Z8
	VMOVUPS Z8, (DX)
	VADDPS  64(DX), Z9, Z9
	VMOVUPS Z9, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z10, Z10
	VMOVUPS Z10, (DX)
	VADDPS  64(DX), Z11, Z11
	VMOVUPS Z11, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z12, Z12
	VMOVUPS Z12, (DX)
	VADDPS  64(DX), Z13, Z13
	VMOVUPS Z13, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z14, Z14
	VMOVUPS Z14, (DX)
	VADDPS  64(DX), Z15, Z15
	VMOVUPS Z15, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z16, Z16
	VMOVUPS Z16, (DX)
	VADDPS  64(DX), Z17, Z17
	VMOVUPS Z17, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z18, Z18
	VMOVUPS Z18, (DX)
	VADDPS  64(DX), Z19, Z19
	VMOVUPS Z19, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z20, Z20
	VMOVUPS Z20, (DX)
	VADDPS  64(DX), Z21, Z21
	VMOVUPS Z21, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z22, Z22
	VMOVUPS Z22, (DX)
	VADDPS  64(DX), Z23, Z23
	VMOVUPS Z23, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z24, Z24
	VMOVUPS Z24, (DX)
	VADDPS  64(DX), Z25, Z25
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z26, Z26
	VMOVUPS Z26, (DX)
	VADDPS  64(DX), Z27, Z27
	VMOVUPS Z27, 64(DX)
	VZEROUPPER
	RET


// func kernel6x16s(k int, a *float32, lda int, b, c *float32, ldc int, add bool)
//
// kernel6x16 with A read in place: row i of the sliver is a[i*lda:], not packed. The sums run
// in the same order as kernel6x16's. With add false it stores A·B into C instead of adding it,
// so that C need not be cleared first.
TEXT ·kernel6x16s(SB), NOSPLIT, $0-49
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	MOVBQZX add+48(FP), R13
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	TESTQ CX, CX
	JEQ   kernel6x16sstore

kernel6x16sloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VBROADCASTSS (SI), Y2
	VFMADD231PS  Y0, Y2, Y4
	VFMADD231PS  Y1, Y2, Y5
	VBROADCASTSS (SI)(R9*1), Y3
	VFMADD231PS  Y0, Y3, Y6
	VFMADD231PS  Y1, Y3, Y7
	VBROADCASTSS (SI)(R9*2), Y2
	VFMADD231PS  Y0, Y2, Y8
	VFMADD231PS  Y1, Y2, Y9
	VBROADCASTSS (R10), Y3
	VFMADD231PS  Y0, Y3, Y10
	VFMADD231PS  Y1, Y3, Y11
	VBROADCASTSS (R10)(R9*1), Y2
	VFMADD231PS  Y0, Y2, Y12
	VFMADD231PS  Y1, Y2, Y13
	VBROADCASTSS (R10)(R9*2), Y3
	VFMADD231PS  Y0, Y3, Y14
	VFMADD231PS  Y1, Y3, Y15
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $64, DI
	DECQ CX
	JNE  kernel6x16sloop

kernel6x16sstore:
	TESTQ R13, R13
	JEQ   kernel6x16soverwrite
	VADDPS  (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	VADDPS  32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	VADDPS  32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y8, Y8
	VMOVUPS Y8, (DX)
	VADDPS  32(DX), Y9, Y9
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y10, Y10
	VMOVUPS Y10, (DX)
	VADDPS  32(DX), Y11, Y11
	VMOVUPS Y11, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y12, Y12
	VMOVUPS Y12, (DX)
	VADDPS  32(DX), Y13, Y13
	VMOVUPS Y13, 32(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Y14, Y14
	VMOVUPS Y14, (DX)
	VADDPS  32(DX), Y15, Y15
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

kernel6x16soverwrite:
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y12, (DX)
	VMOVUPS Y13, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y14, (DX)
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET

// func kernel12x32g(segs *segment, nseg int, lda int, b *float32, ldb int, c *float32, ldc int, add bool)
//
// kernel12x32 with A read in place, over a row sliver whose reduction columns come in nseg runs:
// run s has segs[s].k columns, row i of it at segs[s].a + i*lda. The sums continue from one run
// to the next, in the order of kernel12x32's over the runs' columns side by side (so a sliver of
// patches read where they lie, an implicit im2col, gives the gathered sliver's bits). B's rows of
// 32 columns are ldb apart: 32 in a packed sliver, a matrix's row stride where B is read where it
// lies. With add false it stores A·B into C instead of adding it, so that C need not be cleared
// first. kernel12x32s is its one-run case.
TEXT ·kernel12x32g(SB), NOSPLIT, $0-57
	MOVQ segs+0(FP), AX
	MOVQ nseg+8(FP), BX
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R13
	SHLQ $2, R13
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27

	TESTQ BX, BX
	JEQ   kernel12x32gstore

kernel12x32gseg:
	MOVQ 0(AX), SI
	MOVQ 8(AX), CX
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10
	LEAQ (R10)(R9*2), R11
	ADDQ R9, R11
	LEAQ (R11)(R9*2), R12
	ADDQ R9, R12
	TESTQ CX, CX
	JEQ   kernel12x32gnext

kernel12x32gloop:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VBROADCASTSS (SI), Z2
	VFMADD231PS  Z0, Z2, Z4
	VFMADD231PS  Z1, Z2, Z5
	VBROADCASTSS (SI)(R9*1), Z3
	VFMADD231PS  Z0, Z3, Z6
	VFMADD231PS  Z1, Z3, Z7
	VBROADCASTSS (SI)(R9*2), Z2
	VFMADD231PS  Z0, Z2, Z8
	VFMADD231PS  Z1, Z2, Z9
	VBROADCASTSS (R10), Z3
	VFMADD231PS  Z0, Z3, Z10
	VFMADD231PS  Z1, Z3, Z11
	VBROADCASTSS (R10)(R9*1), Z2
	VFMADD231PS  Z0, Z2, Z12
	VFMADD231PS  Z1, Z2, Z13
	VBROADCASTSS (R10)(R9*2), Z3
	VFMADD231PS  Z0, Z3, Z14
	VFMADD231PS  Z1, Z3, Z15
	VBROADCASTSS (R11), Z2
	VFMADD231PS  Z0, Z2, Z16
	VFMADD231PS  Z1, Z2, Z17
	VBROADCASTSS (R11)(R9*1), Z3
	VFMADD231PS  Z0, Z3, Z18
	VFMADD231PS  Z1, Z3, Z19
	VBROADCASTSS (R11)(R9*2), Z2
	VFMADD231PS  Z0, Z2, Z20
	VFMADD231PS  Z1, Z2, Z21
	VBROADCASTSS (R12), Z3
	VFMADD231PS  Z0, Z3, Z22
	VFMADD231PS  Z1, Z3, Z23
	VBROADCASTSS (R12)(R9*1), Z2
	VFMADD231PS  Z0, Z2, Z24
	VFMADD231PS  Z1, Z2, Z25
	VBROADCASTSS (R12)(R9*2), Z3
	VFMADD231PS  Z0, Z3, Z26
	VFMADD231PS  Z1, Z3, Z27
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ R13, DI
	DECQ CX
	JNE  kernel12x32gloop

kernel12x32gnext:
	ADDQ $16, AX
	DECQ BX
	JNE  kernel12x32gseg

kernel12x32gstore:
	MOVBQZX add+56(FP), R13
	TESTQ R13, R13
	JEQ   kernel12x32goverwrite
	VADDPS  (DX), Z4, Z4
	VMOVUPS Z4, (DX)
	VADDPS  64(DX), Z5, Z5
	VMOVUPS Z5, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z6, Z6
	VMOVUPS Z6, (DX)
	VADDPS  64(DX), Z7, Z7
	VMOVUPS Z7, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z8, Z8
	VMOVUPS Z8, (DX)
	VADDPS  64(DX), Z9, Z9
	VMOVUPS Z9, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z10, Z10
	VMOVUPS Z10, (DX)
	VADDPS  64(DX), Z11, Z11
	VMOVUPS Z11, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z12, Z12
	VMOVUPS Z12, (DX)
	VADDPS  64(DX), Z13, Z13
	VMOVUPS Z13, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z14, Z14
	VMOVUPS Z14, (DX)
	VADDPS  64(DX), Z15, Z15
	VMOVUPS Z15, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z16, Z16
	VMOVUPS Z16, (DX)
	VADDPS  64(DX), Z17, Z17
	VMOVUPS Z17, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z18, Z18
	VMOVUPS Z18, (DX)
	VADDPS  64(DX), Z19, Z19
	VMOVUPS Z19, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z20, Z20
	VMOVUPS Z20, (DX)
	VADDPS  64(DX), Z21, Z21
	VMOVUPS Z21, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z22, Z22
	VMOVUPS Z22, (DX)
	VADDPS  64(DX), Z23, Z23
	VMOVUPS Z23, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z24, Z24
	VMOVUPS Z24, (DX)
	VADDPS  64(DX), Z25, Z25
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VADDPS  (DX), Z26, Z26
	VMOVUPS Z26, (DX)
	VADDPS  64(DX), Z27, Z27
	VMOVUPS Z27, 64(DX)
	VZEROUPPER
	RET

kernel12x32goverwrite:
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z6, (DX)
	VMOVUPS Z7, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z10, (DX)
	VMOVUPS Z11, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z12, (DX)
	VMOVUPS Z13, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z14, (DX)
	VMOVUPS Z15, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z16, (DX)
	VMOVUPS Z17, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z18, (DX)
	VMOVUPS Z19, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z20, (DX)
	VMOVUPS Z21, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z22, (DX)
	VMOVUPS Z23, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z24, (DX)
	VMOVUPS Z25, 64(DX)
	ADDQ    R8, DX
	VMOVUPS Z26, (DX)
	VMOVUPS Z27, 64(DX)
	VZEROUPPER
	RET

// func affineVV(n int, x, s, b, o *float32, lo, hi float32, mode int)
//
// o[i] = x[i]*s[i] + b[i] for i < n, the product and the sum rounded apart (no fused
// multiply-add: Mul then Add's bits), then, with mode bit 0, max(o[i], lo) and, with bit 1,
// min(o[i], hi), each keeping a NaN as maxVS and minVS do (the caller rules out lo = -0 and
// hi = +0, where the instructions' choice between zeros differs from Go's).
TEXT ·affineVV(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         s+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         o+32(FP), DI
	VBROADCASTSS lo+40(FP), Y14
	VBROADCASTSS hi+44(FP), Y15
	MOVQ         mode+48(FP), R9

affine8:
	CMPQ      CX, $8
	JLT       affine1
	VMOVUPS   (SI), Y1
	VMULPS    (DX), Y1, Y1
	VADDPS    (R8), Y1, Y1
	TESTQ     $1, R9
	JEQ       affinehi8
	VMAXPS    Y14, Y1, Y2
	VCMPPS    $3, Y1, Y1, Y3
	VBLENDVPS Y3, Y1, Y2, Y1

affinehi8:
	TESTQ     $2, R9
	JEQ       affinestore8
	VMINPS    Y15, Y1, Y2
	VCMPPS    $3, Y1, Y1, Y3
	VBLENDVPS Y3, Y1, Y2, Y1

affinestore8:
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     affine8

affine1:
	TESTQ     CX, CX
	JEQ       affinedone
	VMOVSS    (SI), X1
	VMULSS    (DX), X1, X1
	VADDSS    (R8), X1, X1
	TESTQ     $1, R9
	JEQ       affinehi1
	VMAXPS    X14, X1, X2
	VCMPSS    $3, X1, X1, X3
	VBLENDVPS X3, X1, X2, X1

affinehi1:
	TESTQ     $2, R9
	JEQ       affinestore1
	VMINPS    X15, X1, X2
	VCMPSS    $3, X1, X1, X3
	VBLENDVPS X3, X1, X2, X1

affinestore1:
	VMOVSS X1, (DI)
	ADDQ   $4, SI
	ADDQ   $4, DX
	ADDQ   $4, R8
	ADDQ   $4, DI
	DECQ   CX
	JMP    affine1

affinedone:
	VZEROUPPER
	RET

// func rangeSelectVS(n int, x, t *float32, f, lo, hi float32, upper bool, o *float32)
//
// o[i] = t[i] where lo < x[i] (and x[i] < hi with upper), else f, for i < n a multiple of 8:
// ordered comparisons (false for NaN, as Go's), then a blend of the bits.
TEXT ·rangeSelectVS(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         t+16(FP), DX
	VBROADCASTSS f+24(FP), Y13
	VBROADCASTSS lo+28(FP), Y14
	VBROADCASTSS hi+32(FP), Y15
	MOVBQZX      upper+36(FP), R9
	MOVQ         o+40(FP), DI

rangesel8:
	CMPQ      CX, $8
	JLT       rangeseldone
	VMOVUPS   (SI), Y1
	VCMPPS    $1, Y1, Y14, Y2
	TESTQ     R9, R9
	JEQ       rangeselblend
	VCMPPS    $1, Y15, Y1, Y3
	VANDPS    Y3, Y2, Y2

rangeselblend:
	VBLENDVPS Y2, (DX), Y13, Y4
	VMOVUPS   Y4, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       rangesel8

rangeseldone:
	VZEROUPPER
	RET

// func depthwise3x3(n int, in0, in1, in2 *float32, col, step int, k, out *float32, outStep int)
//
// A 3x3 depthwise convolution over 16 channels of n output positions, every tap inside the
// input: out = sum over (ky, kx) of in_ky[kx*col] * k[3*ky+kx], from +0, fused multiply-adds in
// that order (MulAcc's, tap after tap, so the same bits). in_ky is the first position's input
// row ky at kx = 0; positions are step bytes apart in the input and outStep in the output; k is
// the 9 taps' 16 weights, contiguous.
TEXT ·depthwise3x3(SB), NOSPLIT, $0-72
	MOVQ    n+0(FP), CX
	MOVQ    in0+8(FP), R10
	MOVQ    in1+16(FP), R11
	MOVQ    in2+24(FP), R12
	MOVQ    col+32(FP), R13
	MOVQ    step+40(FP), BX
	MOVQ    k+48(FP), SI
	MOVQ    out+56(FP), DI
	MOVQ    outStep+64(FP), R8
	VMOVUPS 0(SI), Z1
	VMOVUPS 64(SI), Z2
	VMOVUPS 128(SI), Z3
	VMOVUPS 192(SI), Z4
	VMOVUPS 256(SI), Z5
	VMOVUPS 320(SI), Z6
	VMOVUPS 384(SI), Z7
	VMOVUPS 448(SI), Z8
	VMOVUPS 512(SI), Z9

dw3x3loop:
	TESTQ       CX, CX
	JEQ         dw3x3done
	VPXORD      Z0, Z0, Z0
	VFMADD231PS (R10), Z1, Z0
	VFMADD231PS (R10)(R13*1), Z2, Z0
	VFMADD231PS (R10)(R13*2), Z3, Z0
	VFMADD231PS (R11), Z4, Z0
	VFMADD231PS (R11)(R13*1), Z5, Z0
	VFMADD231PS (R11)(R13*2), Z6, Z0
	VFMADD231PS (R12), Z7, Z0
	VFMADD231PS (R12)(R13*1), Z8, Z0
	VFMADD231PS (R12)(R13*2), Z9, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        BX, R10
	ADDQ        BX, R11
	ADDQ        BX, R12
	ADDQ        R8, DI
	DECQ        CX
	JMP         dw3x3loop

dw3x3done:
	VZEROUPPER
	RET

// func affine16(n int, x, s, b, o *float32, lo, hi float32, mode int)
//
// affineVV's map with AVX-512, for n a multiple of 16: NaN lanes (an unordered self-comparison)
// are left out of the max and min by a mask, so they stay NaN as Go's max and min keep them.
TEXT ·affine16(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         s+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         o+32(FP), DI
	VBROADCASTSS lo+40(FP), Z14
	VBROADCASTSS hi+44(FP), Z15
	MOVQ         mode+48(FP), R9

affine16loop:
	CMPQ    CX, $16
	JLT     affine16done
	VMOVUPS (SI), Z1
	VMULPS  (DX), Z1, Z1
	VADDPS  (R8), Z1, Z1
	VCMPPS  $7, Z1, Z1, K1 // ordered: not NaN
	TESTQ   $1, R9
	JEQ     affine16hi
	VMAXPS  Z14, Z1, K1, Z1

affine16hi:
	TESTQ  $2, R9
	JEQ    affine16store
	VMINPS Z15, Z1, K1, Z1

affine16store:
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     affine16loop

affine16done:
	VZEROUPPER
	RET

// func maxTaps16(n int, x *float32, offs *int, ntaps int, o *float32)
//
// o[i] = max(...max(max(x[offs[0]+i], x[offs[1]+i]), ...), x[offs[ntaps-1]+i]) for i < n, a
// multiple of 16, with Go's max at each step as the compiler emits it on amd64 (sign bits
// flipped, two MINSS and an OR: the same lanes, NaN payloads and zeros included). The running max
// is kept with its sign bits flipped between taps.
TEXT ·maxTaps16(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         offs+16(FP), DX
	MOVQ         ntaps+24(FP), R8
	MOVQ         o+32(FP), DI
	XORQ         R9, R9 // the block's byte offset
	MOVL         $0x80000000, AX
	VPBROADCASTD AX, Z7

maxtapsblock:
	CMPQ    CX, $16
	JLT     maxtapsdone
	MOVQ    (DX), R10
	LEAQ    (SI)(R10*4), R11
	VPXORD  (R11)(R9*1), Z7, Z0 // x' = x ^ sign
	MOVQ    $1, R12

maxtapstap:
	CMPQ   R12, R8
	JGE    maxtapsstore
	MOVQ   (DX)(R12*8), R10
	LEAQ   (SI)(R10*4), R11
	VPXORD (R11)(R9*1), Z7, Z1 // y' = y ^ sign
	VMINPS Z1, Z0, Z3          // t = x' < y' ? x' : y'
	VMINPS Z0, Z3, Z4          // t2 = t < x' ? t : x'
	VPORD  Z3, Z4, Z0          // x' = t2 | t
	INCQ   R12
	JMP    maxtapstap

maxtapsstore:
	VPXORD  Z7, Z0, Z0
	VMOVUPS Z0, (DI)(R9*1)
	ADDQ    $64, R9
	SUBQ    $16, CX
	JMP     maxtapsblock

maxtapsdone:
	VZEROUPPER
	RET
