//go:build !purego

// SSE2 forms of the hot loops of the analysis (see fft_amd64.go): the
// Welch segment sums and packing, the radix-4 FFT stages, the power of the
// real split, the envelope recursion and moving sums on two channels at
// once, and the moments of a signal. SSE2 is part of every amd64 CPU
// (GOAMD64=v1), so no feature test is needed. A complex128 sits in one XMM register as
// (real, imag); every lane performs exactly the IEEE operation of the Go
// code it replaces, in the same order, so the results are bit for bit those
// of the Go loops (fft_test.go checks it):
//
//   - x - y is computed as x + (-y) only where -y is exact (a sign flip);
//   - a product w*b of complex values uses lanes (br*wr, bi*wr) and
//     (bi*(-wi), br*wi), whose sums are br*wr - bi*wi and bi*wr + br*wi,
//     as the Go expressions (addition is commutative in IEEE arithmetic).

#include "textflag.h"

// sign bit of the low lane, of the high lane
DATA signlo<>+0(SB)/8, $0x8000000000000000
DATA signlo<>+8(SB)/8, $0x0000000000000000
GLOBL signlo<>(SB), RODATA|NOPTR, $16
DATA signhi<>+0(SB)/8, $0x0000000000000000
DATA signhi<>+8(SB)/8, $0x8000000000000000
GLOBL signhi<>(SB), RODATA|NOPTR, $16

// func radix4SSE2(x []complex128, tw []float64, l int)
//
// One radix-4 stage of FFT.permutedFrom from blocks of l to blocks of 4l
// over all of x (len(x) a multiple of 4l, l >= 1). tw holds 12 values per
// k < l: (w1r, w1r, -w1i, w1i, w2r, w2r, -w2i, w2i, w3r, w3r, -w3i, w3i) with
// w1, w2, w3 = W^k, W^2k, W^3k. For each block and k, with a = q0[k],
// t1 = w1*q2[k], t2 = w2*q1[k], t3 = w3*q3[k]:
// q0, q1, q2, q3 = (a+t2)+(t1+t3), (a-t2)-i(t1-t3), (a+t2)-(t1+t3), (a-t2)+i(t1-t3).
TEXT ·radix4SSE2(SB), NOSPLIT, $0-56
	MOVQ	x_base+0(FP), SI
	MOVQ	x_len+8(FP), R11
	MOVQ	tw_base+24(FP), R12
	MOVQ	l+48(FP), R13
	MOVUPD	signhi<>(SB), X8
	MOVQ	R13, R8
	SHLQ	$4, R8               // l*16: q1 - q0 in bytes
	LEAQ	(R8)(R8*1), R9       // q2 - q0
	LEAQ	(R9)(R8*1), R10      // q3 - q0
	SHLQ	$4, R11
	ADDQ	SI, R11              // end of x
	LEAQ	(R10)(R8*1), AX      // 4l*16: block size in bytes

blockloop:
	CMPQ	SI, R11
	JGE	done
	MOVQ	SI, DI               // q0[k]
	MOVQ	R12, BX              // twiddles of k
	MOVQ	R13, CX

kloop:
	// t1 = w1 * q2[k]
	MOVUPD	(DI)(R9*1), X1
	MOVAPD	X1, X4
	SHUFPD	$1, X4, X4           // (bi, br)
	MOVUPD	0(BX), X5
	MULPD	X5, X1               // (br*wr, bi*wr)
	MOVUPD	16(BX), X6
	MULPD	X6, X4               // (bi*-wi, br*wi)
	ADDPD	X4, X1
	// t2 = w2 * q1[k]
	MOVUPD	(DI)(R8*1), X2
	MOVAPD	X2, X4
	SHUFPD	$1, X4, X4
	MOVUPD	32(BX), X5
	MULPD	X5, X2
	MOVUPD	48(BX), X6
	MULPD	X6, X4
	ADDPD	X4, X2
	// t3 = w3 * q3[k]
	MOVUPD	(DI)(R10*1), X3
	MOVAPD	X3, X4
	SHUFPD	$1, X4, X4
	MOVUPD	64(BX), X5
	MULPD	X5, X3
	MOVUPD	80(BX), X6
	MULPD	X6, X4
	ADDPD	X4, X3
	// a +- t2, t1 +- t3
	MOVUPD	(DI), X0
	MOVAPD	X0, X4
	ADDPD	X2, X0               // s02
	SUBPD	X2, X4               // d02
	MOVAPD	X1, X5
	ADDPD	X3, X1               // s13
	SUBPD	X3, X5               // d13
	SHUFPD	$1, X5, X5
	XORPD	X8, X5               // -i*d13 = (d13i, -d13r)
	MOVAPD	X0, X6
	ADDPD	X1, X0
	SUBPD	X1, X6
	MOVUPD	X0, (DI)             // q0 = s02+s13
	MOVUPD	X6, (DI)(R9*1)       // q2 = s02-s13
	MOVAPD	X4, X6
	ADDPD	X5, X4
	SUBPD	X5, X6
	MOVUPD	X4, (DI)(R8*1)       // q1 = d02 - i*d13
	MOVUPD	X6, (DI)(R10*1)      // q3 = d02 + i*d13
	ADDQ	$16, DI
	ADDQ	$96, BX
	DECQ	CX
	JNZ	kloop

	ADDQ	AX, SI
	JMP	blockloop

done:
	RET

// func powerSSE2(z []complex128, tw []float64, psd []float64)
//
// The paired loop of RealFFT.addPower: m = len(z); for 0 < k < m/2, with
// a = z[k], b = z[m-k] and w = exp(-2 pi i k/2m), given in tw as
// (wr, wr, -wi, wi) at 4k:
// E = (ar+br, ai-bi), O = (ai+bi, br-ar), T = w*O,
// psd[k] += |E+T|^2, psd[m-k] += |E-T|^2.
TEXT ·powerSSE2(SB), NOSPLIT, $0-72
	MOVQ	z_base+0(FP), SI
	MOVQ	z_len+8(FP), CX
	MOVQ	tw_base+24(FP), BX
	MOVQ	psd_base+48(FP), DI
	MOVUPD	signhi<>(SB), X14
	MOVQ	CX, R8
	SHLQ	$4, R8
	ADDQ	SI, R8               // &z[m]
	MOVQ	CX, R9
	SHLQ	$3, R9
	ADDQ	DI, R9               // &psd[m]
	SHRQ	$1, CX
	DECQ	CX                   // m/2 - 1 pairs
	JLE	powdone
	ADDQ	$16, SI              // &z[1]
	ADDQ	$32, BX              // tw of k = 1
	ADDQ	$8, DI               // &psd[1]
	SUBQ	$16, R8              // &z[m-1]
	SUBQ	$8, R9               // &psd[m-1]

powloop:
	MOVUPD	(SI), X0             // a = (ar, ai)
	MOVUPD	(R8), X1             // b = (br, bi)
	// E = a + conj(b) = (ar+br, ai-bi)
	MOVAPD	X1, X2
	XORPD	X14, X2              // (br, -bi)
	ADDPD	X0, X2               // E (br+ar: addition is commutative)
	// O = (ai, -ar) + (bi, br) = (ai+bi, br-ar)
	SHUFPD	$1, X0, X0           // (ai, ar)
	XORPD	X14, X0              // (ai, -ar)
	SHUFPD	$1, X1, X1           // (bi, br)
	ADDPD	X1, X0               // O = (or, oi)
	// T = w*O = (or*wr - oi*wi, oi*wr + or*wi)
	MOVAPD	X0, X5
	SHUFPD	$1, X5, X5           // (oi, or)
	MOVUPD	(BX), X3             // (wr, wr)
	MULPD	X3, X0               // (or*wr, oi*wr)
	MOVUPD	16(BX), X4           // (-wi, wi)
	MULPD	X4, X5               // (oi*-wi, or*wi)
	ADDPD	X5, X0               // T
	// E+T, E-T, squared; lane sums (xr*xr + xi*xi, xr2*xr2 + xi2*xi2)
	MOVAPD	X2, X1
	ADDPD	X0, X2               // (xr, xi)
	SUBPD	X0, X1               // (xr2, xi2)
	MULPD	X2, X2
	MULPD	X1, X1
	MOVAPD	X2, X3
	UNPCKLPD	X1, X2           // (xr*xr, xr2*xr2)
	UNPCKHPD	X1, X3           // (xi*xi, xi2*xi2)
	ADDPD	X3, X2
	MOVSD	(DI), X4
	MOVHPD	(R9), X4             // (psd[k], psd[m-k])
	ADDPD	X4, X2
	MOVLPD	X2, (DI)
	MOVHPD	X2, (R9)
	ADDQ	$16, SI
	SUBQ	$16, R8
	ADDQ	$32, BX
	ADDQ	$8, DI
	SUBQ	$8, R9
	DECQ	CX
	JNZ	powloop

powdone:
	RET

// sign bits cleared in both lanes (|x|)
DATA absmask<>+0(SB)/8, $0x7fffffffffffffff
DATA absmask<>+8(SB)/8, $0x7fffffffffffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $16

// func iir5x2SSE2(cc *[14]float64, st *[10]float64, x, src, x2, src2 []float64, mode int)
//
// The recursion of lfilter5symFrom on two signals at once, signal 1 in the
// low lane and signal 2 in the high lane of every register. cc holds each
// coefficient twice (b0, b0, b1, b1, b2, b2, a1, a1, a2, a2, a3, a3, a4, a4);
// st holds the state as lane pairs (q, yp, z1, z2, z3), read and written
// back. n = len(x) samples; src and src2 are read, x and x2 written (they
// may be the same slices). mode bit 0: backward (last sample first);
// bit 1: store |y|. Per lane, as the Go loop:
//
//	p0, p1 = b0*x, b1*x
//	y  = (p0 + q) - a1*yp
//	q  = p1 + z1
//	z1 = (b2*x + z2) - a2*y
//	z2 = (p1 + z3) - a3*y
//	z3 = p0 - a4*y
//	yp = y
TEXT ·iir5x2SSE2(SB), NOSPLIT, $0-120
	MOVQ	cc+0(FP), AX
	MOVQ	st+8(FP), R9
	MOVQ	x_base+16(FP), DX
	MOVQ	x_len+24(FP), CX
	MOVQ	src_base+40(FP), SI
	MOVQ	x2_base+64(FP), BX
	MOVQ	src2_base+88(FP), DI
	MOVQ	mode+112(FP), R10
	TESTQ	CX, CX
	JLE	iirdone
	MOVUPD	0(AX), X10           // b0
	MOVUPD	16(AX), X11          // b1
	MOVUPD	32(AX), X12          // b2
	MOVUPD	48(AX), X13          // a1
	MOVUPD	64(AX), X14          // a2
	MOVUPD	0(R9), X5            // q
	MOVUPD	16(R9), X6           // yp
	MOVUPD	32(R9), X7           // z1
	MOVUPD	48(R9), X8           // z2
	MOVUPD	64(R9), X9           // z3
	MOVQ	$8, R8
	TESTQ	$1, R10
	JZ	iirstart
	// backward: start at the last sample, step -8
	LEAQ	-8(CX*8), R11
	ADDQ	R11, DX
	ADDQ	R11, SI
	ADDQ	R11, BX
	ADDQ	R11, DI
	MOVQ	$-8, R8

iirstart:
	TESTQ	$2, R10
	JNZ	iirabs

iirloop:
	MOVSD	(SI), X0
	MOVHPD	(DI), X0             // x
	MOVAPD	X0, X1
	MULPD	X10, X1              // p0
	MOVAPD	X0, X2
	MULPD	X11, X2              // p1
	MOVAPD	X1, X3
	ADDPD	X5, X3               // p0 + q
	MULPD	X13, X6              // a1*yp
	SUBPD	X6, X3               // y
	MOVAPD	X2, X5
	ADDPD	X7, X5               // q = p1 + z1
	MULPD	X12, X0
	ADDPD	X8, X0               // b2*x + z2
	MOVAPD	X3, X4
	MULPD	X14, X4
	SUBPD	X4, X0
	MOVAPD	X0, X7               // z1
	ADDPD	X9, X2               // p1 + z3
	MOVUPD	80(AX), X4           // a3
	MULPD	X3, X4
	SUBPD	X4, X2
	MOVAPD	X2, X8               // z2
	MOVUPD	96(AX), X4           // a4
	MULPD	X3, X4
	SUBPD	X4, X1
	MOVAPD	X1, X9               // z3
	MOVAPD	X3, X6               // yp = y
	MOVLPD	X3, (DX)
	MOVHPD	X3, (BX)
	ADDQ	R8, SI
	ADDQ	R8, DI
	ADDQ	R8, DX
	ADDQ	R8, BX
	DECQ	CX
	JNZ	iirloop
	JMP	iirsave

iirabs:
	MOVUPD	absmask<>(SB), X15

iirabsloop:
	MOVSD	(SI), X0
	MOVHPD	(DI), X0
	MOVAPD	X0, X1
	MULPD	X10, X1
	MOVAPD	X0, X2
	MULPD	X11, X2
	MOVAPD	X1, X3
	ADDPD	X5, X3
	MULPD	X13, X6
	SUBPD	X6, X3
	MOVAPD	X2, X5
	ADDPD	X7, X5
	MULPD	X12, X0
	ADDPD	X8, X0
	MOVAPD	X3, X4
	MULPD	X14, X4
	SUBPD	X4, X0
	MOVAPD	X0, X7
	ADDPD	X9, X2
	MOVUPD	80(AX), X4
	MULPD	X3, X4
	SUBPD	X4, X2
	MOVAPD	X2, X8
	MOVUPD	96(AX), X4
	MULPD	X3, X4
	SUBPD	X4, X1
	MOVAPD	X1, X9
	MOVAPD	X3, X6
	MOVAPD	X3, X4
	ANDPD	X15, X4              // |y|
	MOVLPD	X4, (DX)
	MOVHPD	X4, (BX)
	ADDQ	R8, SI
	ADDQ	R8, DI
	ADDQ	R8, DX
	ADDQ	R8, BX
	DECQ	CX
	JNZ	iirabsloop

iirsave:
	MOVUPD	X5, 0(R9)
	MOVUPD	X6, 16(R9)
	MOVUPD	X7, 32(R9)
	MOVUPD	X8, 48(R9)
	MOVUPD	X9, 64(R9)

iirdone:
	RET

// func pack8SSE2(part, win *[256]float64, z *[128]complex128, idx *[64]int32, mean float64)
//
// Welch.PSD's packing of a 256-sample segment (pack256: detrend, window,
// pairs of samples as complex values in bit-reversed order, first radix-2
// stage) followed by the first radix-4 stage of FFT.permutedFrom (from
// blocks of 2 to 8, constant twiddles), block by block in registers: for
// block b, with i = idx[4b+t] (the packed index that bit reversal puts at
// 8b+2t) and a, c the windowed values i and i+64, q[2t] = a+c and
// q[2t+1] = a-c; then as the Go stage, with r = 1/sqrt(2):
//
//	k = 0: s02, d02 = q0 +- q2; s13, d13 = q4 +- q6;
//	       z[8b+0], z[8b+4] = s02 +- s13; z[8b+2], z[8b+6] = d02 +- (-i*d13)
//	k = 1: t1 = r*(q5r+q5i, q5i-q5r), t2 = -i*q3, t3 = (r*(q7i-q7r), -r*(q7r+q7i));
//	       s02, d02 = q1 +- t2; s13, d13 = t1 +- t3;
//	       z[8b+1], z[8b+5] = s02 +- s13; z[8b+3], z[8b+7] = d02 +- (-i*d13)
TEXT ·pack8SSE2(SB), NOSPLIT, $0-40
	MOVQ	part+0(FP), SI
	MOVQ	win+8(FP), DI
	MOVQ	z+16(FP), DX
	MOVQ	idx+24(FP), R8
	MOVSD	mean+32(FP), X14
	UNPCKLPD	X14, X14         // (mean, mean)
	MOVUPD	signhi<>(SB), X15
	MOVUPD	signlo<>(SB), X11
	MOVUPD	rr<>(SB), X13        // (r, r)
	MOVUPD	rnr<>(SB), X12       // (r, -r)
	MOVQ	$16, CX

p8loop:
	// q[2t], q[2t+1] for t = 0..3 into X0..X7
	MOVLQSX	0(R8), AX
	SHLQ	$4, AX
	MOVUPD	(SI)(AX*1), X0
	SUBPD	X14, X0
	MOVUPD	(DI)(AX*1), X8
	MULPD	X8, X0               // a
	MOVUPD	1024(SI)(AX*1), X8
	SUBPD	X14, X8
	MOVUPD	1024(DI)(AX*1), X9
	MULPD	X9, X8               // c
	MOVAPD	X0, X1
	ADDPD	X8, X0               // q0
	SUBPD	X8, X1               // q1
	MOVLQSX	4(R8), AX
	SHLQ	$4, AX
	MOVUPD	(SI)(AX*1), X2
	SUBPD	X14, X2
	MOVUPD	(DI)(AX*1), X8
	MULPD	X8, X2
	MOVUPD	1024(SI)(AX*1), X8
	SUBPD	X14, X8
	MOVUPD	1024(DI)(AX*1), X9
	MULPD	X9, X8
	MOVAPD	X2, X3
	ADDPD	X8, X2               // q2
	SUBPD	X8, X3               // q3
	MOVLQSX	8(R8), AX
	SHLQ	$4, AX
	MOVUPD	(SI)(AX*1), X4
	SUBPD	X14, X4
	MOVUPD	(DI)(AX*1), X8
	MULPD	X8, X4
	MOVUPD	1024(SI)(AX*1), X8
	SUBPD	X14, X8
	MOVUPD	1024(DI)(AX*1), X9
	MULPD	X9, X8
	MOVAPD	X4, X5
	ADDPD	X8, X4               // q4
	SUBPD	X8, X5               // q5
	MOVLQSX	12(R8), AX
	SHLQ	$4, AX
	MOVUPD	(SI)(AX*1), X6
	SUBPD	X14, X6
	MOVUPD	(DI)(AX*1), X8
	MULPD	X8, X6
	MOVUPD	1024(SI)(AX*1), X8
	SUBPD	X14, X8
	MOVUPD	1024(DI)(AX*1), X9
	MULPD	X9, X8
	MOVAPD	X6, X7
	ADDPD	X8, X6               // q6
	SUBPD	X8, X7               // q7

	// k = 0
	MOVAPD	X0, X8
	ADDPD	X2, X8               // s02
	SUBPD	X2, X0               // d02
	MOVAPD	X4, X9
	ADDPD	X6, X9               // s13
	SUBPD	X6, X4               // d13
	MOVAPD	X8, X10
	ADDPD	X9, X8
	SUBPD	X9, X10
	MOVUPD	X8, 0(DX)            // z[8b+0]
	MOVUPD	X10, 64(DX)          // z[8b+4]
	SHUFPD	$1, X4, X4
	XORPD	X15, X4              // -i*d13
	MOVAPD	X0, X9
	ADDPD	X4, X0
	SUBPD	X4, X9
	MOVUPD	X0, 32(DX)           // z[8b+2]
	MOVUPD	X9, 96(DX)           // z[8b+6]

	// k = 1: a = q1 (X1), c = q3 (X3), b = q5 (X5), d = q7 (X7)
	MOVAPD	X5, X8
	SHUFPD	$1, X8, X8
	XORPD	X15, X8              // (q5i, -q5r)
	ADDPD	X5, X8               // (q5i+q5r, -q5r+q5i)
	MULPD	X13, X8              // t1
	SHUFPD	$1, X3, X3
	XORPD	X15, X3              // t2 = (q3i, -q3r)
	MOVAPD	X7, X9
	SHUFPD	$1, X9, X9           // (q7i, q7r)
	XORPD	X11, X7              // (-q7r, q7i)
	ADDPD	X7, X9               // (q7i-q7r, q7r+q7i)
	MULPD	X12, X9              // t3
	MOVAPD	X1, X10
	ADDPD	X3, X10              // s02
	SUBPD	X3, X1               // d02
	MOVAPD	X8, X2
	ADDPD	X9, X2               // s13
	SUBPD	X9, X8               // d13
	MOVAPD	X10, X3
	ADDPD	X2, X10
	SUBPD	X2, X3
	MOVUPD	X10, 16(DX)          // z[8b+1]
	MOVUPD	X3, 80(DX)           // z[8b+5]
	SHUFPD	$1, X8, X8
	XORPD	X15, X8              // -i*d13
	MOVAPD	X1, X9
	ADDPD	X8, X1
	SUBPD	X8, X9
	MOVUPD	X1, 48(DX)           // z[8b+3]
	MOVUPD	X9, 112(DX)          // z[8b+7]

	ADDQ	$16, R8
	ADDQ	$128, DX
	DECQ	CX
	JNZ	p8loop
	RET

DATA rr<>+0(SB)/8, $0.70710678118654752440
DATA rr<>+8(SB)/8, $0.70710678118654752440
GLOBL rr<>(SB), RODATA|NOPTR, $16
DATA rnr<>+0(SB)/8, $0.70710678118654752440
DATA rnr<>+8(SB)/8, $-0.70710678118654752440
GLOBL rnr<>(SB), RODATA|NOPTR, $16

// func moments4SSE2(x []float64, acc *[12]float64)
//
// The unrolled loop of moments over the first len(x)/4*4 samples: acc =
// (s0, s1, s2, s3, q0, q1, q2, q3, a0, a1, a2, a3), sk the sum of x[4i+k],
// qk of its squares, ak of its absolute values, each in sample order.
TEXT ·moments4SSE2(SB), NOSPLIT, $0-32
	MOVQ	x_base+0(FP), SI
	MOVQ	x_len+8(FP), CX
	MOVQ	acc+24(FP), DI
	MOVUPD	absmask<>(SB), X15
	XORPD	X0, X0
	XORPD	X1, X1
	XORPD	X2, X2
	XORPD	X3, X3
	XORPD	X4, X4
	XORPD	X5, X5
	SHRQ	$2, CX
	JZ	momdone

momloop:
	MOVUPD	0(SI), X6
	MOVUPD	16(SI), X7
	ADDPD	X6, X0
	ADDPD	X7, X1
	MOVAPD	X6, X8
	MULPD	X6, X8
	ADDPD	X8, X2
	MOVAPD	X7, X9
	MULPD	X7, X9
	ADDPD	X9, X3
	ANDPD	X15, X6
	ADDPD	X6, X4
	ANDPD	X15, X7
	ADDPD	X7, X5
	ADDQ	$32, SI
	DECQ	CX
	JNZ	momloop

momdone:
	MOVUPD	X0, 0(DI)
	MOVUPD	X1, 16(DI)
	MOVUPD	X2, 32(DI)
	MOVUPD	X3, 48(DI)
	MOVUPD	X4, 64(DI)
	MOVUPD	X5, 80(DI)
	RET

// func sum4SSE2(x []float64) (m0, m1, m2, m3 float64)
//
// The unrolled sums of Welch.PSD's mean over the first len(x)/4*4 samples.
TEXT ·sum4SSE2(SB), NOSPLIT, $0-56
	MOVQ	x_base+0(FP), SI
	MOVQ	x_len+8(FP), CX
	XORPD	X0, X0
	XORPD	X1, X1
	SHRQ	$2, CX
	JZ	sumdone

sumloop:
	MOVUPD	0(SI), X6
	MOVUPD	16(SI), X7
	ADDPD	X6, X0
	ADDPD	X7, X1
	ADDQ	$32, SI
	DECQ	CX
	JNZ	sumloop

sumdone:
	MOVSD	X0, m0+24(FP)
	MOVHPD	X0, m1+32(FP)
	MOVSD	X1, m2+40(FP)
	MOVHPD	X1, m3+48(FP)
	RET

// func msum2SSE2(out, out2, in, in2, old, old2 []float64, s *[2]float64, scale float64)
//
// The interior loop of movingSum (no absolute values) on two signals at
// once, one per lane: for k < len(out), out[k] = s*scale, then
// s += in[k] - old[k]; s holds the two running sums, read and written back.
TEXT ·msum2SSE2(SB), NOSPLIT, $0-160
	MOVQ	out_base+0(FP), R8
	MOVQ	out_len+8(FP), CX
	MOVQ	out2_base+24(FP), R9
	MOVQ	in_base+48(FP), R10
	MOVQ	in2_base+72(FP), R11
	MOVQ	old_base+96(FP), R12
	MOVQ	old2_base+120(FP), R13
	MOVQ	s+144(FP), DI
	MOVSD	scale+152(FP), X7
	UNPCKLPD	X7, X7           // (scale, scale)
	MOVUPD	(DI), X0             // (s, s2)
	XORQ	AX, AX
	TESTQ	CX, CX
	JLE	msdone

msloop:
	MOVAPD	X0, X1
	MULPD	X7, X1               // v = s*scale
	MOVLPD	X1, (R8)(AX*8)
	MOVHPD	X1, (R9)(AX*8)
	MOVSD	(R10)(AX*8), X2
	MOVHPD	(R11)(AX*8), X2      // in
	MOVSD	(R12)(AX*8), X3
	MOVHPD	(R13)(AX*8), X3      // old
	SUBPD	X3, X2
	ADDPD	X2, X0               // s += in - old
	INCQ	AX
	CMPQ	AX, CX
	JLT	msloop

msdone:
	MOVUPD	X0, (DI)
	RET
