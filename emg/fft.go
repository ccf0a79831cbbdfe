package emg

import (
	"fmt"
	"math"
	"math/bits"
)

// FFT is a precomputed plan for the discrete Fourier transform of complex
// sequences of one length. Powers of two use an iterative, in-place
// decimation-in-time transform over bit-reversed input, mostly radix-4:
// after the bit-reversal permutation, a radix-2 stage (odd log2 n) or a
// twiddle-free radix-4 stage (even log2 n), then radix-4 stages with
// per-stage twiddle tables (for odd log2 n the first of them, whose twiddles
// are constants, is written out). Other lengths use Bluestein's algorithm on
// top of a power-of-two plan. A plan keeps scratch space: it is not safe for
// concurrent use, give each goroutine its own.
type FFT struct {
	n      int
	rev    []int32           // bit-reversal permutation (power-of-two plans)
	blue   *bluestein        // non-power-of-two lengths
	ident  bool              // n <= 1
	stages [][][3]complex128 // radix-4 twiddles (w^k, w^2k, w^3k) per stage
	// the same for radix4SSE2: per k, (wr, wr, -wi, wi) of w^k, w^2k, w^3k
	simd [][]float64
}

type bluestein struct {
	m     int
	chirp []complex128 // exp(-i*pi*k^2/n), k < n
	bhat  []complex128 // FFT of the conjugate chirp sequence, length m
	work  []complex128
	sub   *FFT
}

// NewFFT returns a plan for length n. A length below 1 is a programming
// error and panics, as make does for a negative length.
func NewFFT(n int) *FFT {
	if n < 1 {
		panic(fmt.Sprintf("emg: FFT length %d < 1", n))
	}
	p := &FFT{n: n}
	if n == 1 || n == 2 {
		if n == 2 {
			p.rev = []int32{0, 1}
			return p
		}
		p.ident = true
		return p
	}
	if n&(n-1) != 0 {
		p.blue = newBluestein(n)
		return p
	}
	logn := bits.TrailingZeros(uint(n))
	p.rev = make([]int32, n)
	for i := range p.rev {
		p.rev[i] = int32(bits.Reverse32(uint32(i)) >> (32 - logn))
	}
	// Radix-4 stages combine blocks of L into 4L, from L = 2 (odd log2 n,
	// after a radix-2 stage) or L = 4 (even, after a twiddle-free radix-4
	// stage). For odd log2 n the table of the first one (L = 2) is not read:
	// permutedFrom writes that stage out with its constant twiddles.
	l := 2
	if logn%2 == 0 {
		l = 4
	}
	for ; 4*l <= n; l *= 4 {
		st := make([][3]complex128, l)
		for k := 0; k < l; k++ {
			for r := 1; r <= 3; r++ {
				s, c := math.Sincos(-2 * math.Pi * float64(r*k) / float64(4*l))
				st[k][r-1] = complex(c, s)
			}
		}
		p.stages = append(p.stages, st)
		sv := make([]float64, 0, 12*l)
		for _, w := range st {
			for _, v := range w {
				sv = append(sv, real(v), real(v), -imag(v), imag(v))
			}
		}
		p.simd = append(p.simd, sv)
	}
	return p
}

func newBluestein(n int) *bluestein {
	m := 1
	for m < 2*n-1 {
		m <<= 1
	}
	b := &bluestein{m: m, chirp: make([]complex128, n), bhat: make([]complex128, m), work: make([]complex128, m), sub: NewFFT(m)}
	n2 := uint64(2 * n)
	for k := 0; k < n; k++ {
		// k^2 mod 2n keeps the angle argument small and exact.
		kk := (uint64(k) * uint64(k)) % n2
		s, c := math.Sincos(-math.Pi * float64(kk) / float64(n))
		b.chirp[k] = complex(c, s)
	}
	b.bhat[0] = conj(b.chirp[0])
	for k := 1; k < n; k++ {
		v := conj(b.chirp[k])
		b.bhat[k] = v
		b.bhat[m-k] = v
	}
	b.sub.Forward(b.bhat)
	return b
}

func conj(c complex128) complex128 { return complex(real(c), -imag(c)) }

// Len returns the transform length.
func (p *FFT) Len() int { return p.n }

// Forward replaces x (len(x) == Len()) by its DFT, X[k] = sum x[j] exp(-2 pi i jk/n).
func (p *FFT) Forward(x []complex128) {
	if len(x) != p.n {
		panic(fmt.Sprintf("emg: FFT of length %d given %d values", p.n, len(x)))
	}
	switch {
	case p.ident:
	case p.blue != nil:
		p.blue.transform(x)
	default:
		p.powerOfTwo(x)
	}
}

// Inverse replaces x by its inverse DFT (scaled by 1/n, as numpy.fft.ifft).
func (p *FFT) Inverse(x []complex128) {
	for i, v := range x {
		x[i] = conj(v)
	}
	p.Forward(x)
	s := 1 / float64(p.n)
	for i, v := range x {
		x[i] = complex(real(v)*s, -imag(v)*s)
	}
}

func (b *bluestein) transform(x []complex128) {
	n := len(x)
	w := b.work
	for k := 0; k < n; k++ {
		w[k] = x[k] * b.chirp[k]
	}
	for k := n; k < b.m; k++ {
		w[k] = 0
	}
	b.sub.Forward(w)
	for k := range w {
		w[k] *= b.bhat[k]
	}
	b.sub.Inverse(w)
	for k := 0; k < n; k++ {
		x[k] = w[k] * b.chirp[k]
	}
}

// powerOfTwo is Forward for a power-of-two plan: the bit-reversal
// permutation, then the butterflies.
func (p *FFT) powerOfTwo(x []complex128) {
	for i, j := range p.rev {
		if int(j) > i {
			x[i], x[j] = x[j], x[i]
		}
	}
	p.permuted(x)
}

// permuted runs the butterflies on input already in bit-reversed order.
func (p *FFT) permuted(x []complex128) { p.permutedFrom(x, 1) }

// permutedFrom is permuted when the caller has already combined the input
// into blocks of done values: 1 (nothing done), 2 (the first radix-2
// stage, for odd log2 n) or 8 (also the constant-twiddle radix-4 stage
// after it, as pack8SSE2 does; odd log2 n >= 3).
func (p *FFT) permutedFrom(x []complex128, done int) {
	n := p.n
	x = x[:n:n]
	if done == 8 {
		p.stagesFrom(x, p.stages[1:], p.simd[1:], 8)
		return
	}
	pairsDone := done == 2
	l := 2
	if pairsDone {
		// first stage already applied
	} else if bits.TrailingZeros(uint(n))%2 == 1 {
		for i := 0; i+1 < n; i += 2 {
			q := x[i : i+2 : i+2]
			a, b := q[0], q[1]
			q[0], q[1] = a+b, a-b
		}
	} else {
		// twiddle-free radix-4 stage
		for i := 0; i+3 < n; i += 4 {
			q := x[i : i+4 : i+4]
			t0, t1, t2, t3 := q[0], q[2], q[1], q[3]
			s02, d02 := t0+t2, t0-t2
			s13, d13 := t1+t3, t1-t3
			jd := complex(imag(d13), -real(d13)) // -i*(t1-t3)
			q[0], q[1], q[2], q[3] = s02+s13, d02+jd, s02-s13, d02-jd
		}
		l = 4
	}
	stages, simd := p.stages, p.simd
	if l == 2 && len(stages) > 0 {
		// Radix-4 stage from blocks of 2 to 8 with constant twiddles:
		// k = 0: 1, 1, 1; k = 1: W8, -i, W8^3.
		const r = 0.70710678118654752440
		for i := 0; i+7 < n; i += 8 {
			q := x[i : i+8 : i+8]
			// k = 0
			a, c, b, d := q[0], q[2], q[4], q[6]
			s02, d02 := a+c, a-c
			s13, d13 := b+d, b-d
			q[0], q[4] = s02+s13, s02-s13
			q[2], q[6] = complex(real(d02)+imag(d13), imag(d02)-real(d13)), complex(real(d02)-imag(d13), imag(d02)+real(d13))
			// k = 1: t1 = W8*q[5], t2 = -i*q[3], t3 = W8^3*q[7]
			a, c, b, d = q[1], q[3], q[5], q[7]
			t1 := complex(r*(real(b)+imag(b)), r*(imag(b)-real(b)))
			t2 := complex(imag(c), -real(c))
			t3 := complex(r*(imag(d)-real(d)), -r*(real(d)+imag(d)))
			s02, d02 = a+t2, a-t2
			s13, d13 = t1+t3, t1-t3
			q[1], q[5] = s02+s13, s02-s13
			q[3], q[7] = complex(real(d02)+imag(d13), imag(d02)-real(d13)), complex(real(d02)-imag(d13), imag(d02)+real(d13))
		}
		stages, simd = stages[1:], simd[1:]
		l = 8
	}
	p.stagesFrom(x, stages, simd, l)
}

// stagesFrom runs the twiddled radix-4 stages (stages, with their SSE2
// tables simd) from blocks of l.
func (p *FFT) stagesFrom(x []complex128, stages [][][3]complex128, simd [][]float64, l int) {
	n := p.n
	for si, tw := range stages {
		if useSIMD {
			radix4SSE2(x, simd[si], l)
			l *= 4
			continue
		}
		size := 4 * l
		for start := 0; start+size <= n; start += size {
			blk := x[start : start+size : start+size]
			q0 := blk[0:l:l]
			q1 := blk[l : 2*l : 2*l]
			q2 := blk[2*l : 3*l : 3*l]
			q3 := blk[3*l : 4*l : 4*l]
			q1, q2, q3 = q1[:len(q0)], q2[:len(q0)], q3[:len(q0)]
			tw := tw[:len(q0)]
			for k := range q0 {
				w1, w2, w3 := tw[k][0], tw[k][1], tw[k][2]
				a := q0[k]
				// t1 = W^k F1 (F1 in q2), t2 = W^2k F2 (in q1), t3 = W^3k F3 (in q3)
				b := q2[k]
				t1r := real(b)*real(w1) - imag(b)*imag(w1)
				t1i := real(b)*imag(w1) + imag(b)*real(w1)
				c := q1[k]
				t2r := real(c)*real(w2) - imag(c)*imag(w2)
				t2i := real(c)*imag(w2) + imag(c)*real(w2)
				d := q3[k]
				t3r := real(d)*real(w3) - imag(d)*imag(w3)
				t3i := real(d)*imag(w3) + imag(d)*real(w3)
				s02r, s02i := real(a)+t2r, imag(a)+t2i
				d02r, d02i := real(a)-t2r, imag(a)-t2i
				s13r, s13i := t1r+t3r, t1i+t3i
				d13r, d13i := t1r-t3r, t1i-t3i
				// -i*d13 = (d13i, -d13r)
				q0[k] = complex(s02r+s13r, s02i+s13i)
				q1[k] = complex(d02r+d13i, d02i-d13r)
				q2[k] = complex(s02r-s13r, s02i-s13i)
				q3[k] = complex(d02r-d13i, d02i+d13r)
			}
		}
		l *= 4
	}
}

// RealFFT is a plan for the DFT of real sequences of length n, giving the
// n/2+1 non-negative-frequency bins (numpy.fft.rfft). Even lengths run as a
// complex transform of half the length. Not safe for concurrent use.
type RealFFT struct {
	n    int
	half *FFT         // even n: length n/2
	full *FFT         // odd n: length n
	tw   []complex128 // exp(-2 pi i k/n), k <= n/2
	twv  []float64    // the same for powerSSE2: (wr, wr, -wi, wi) per k
	buf  []complex128
}

// NewRealFFT returns a plan for real input of length n (at least 1; it
// panics otherwise, like NewFFT).
func NewRealFFT(n int) *RealFFT {
	if n < 1 {
		panic(fmt.Sprintf("emg: real FFT length %d < 1", n))
	}
	r := &RealFFT{n: n}
	if n%2 == 1 {
		r.full = NewFFT(n)
		r.buf = make([]complex128, n)
		return r
	}
	m := n / 2
	r.half = NewFFT(m)
	r.buf = make([]complex128, m)
	r.tw = make([]complex128, m+1)
	for k := 0; k <= m; k++ {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		r.tw[k] = complex(c, s)
		r.twv = append(r.twv, c, c, -s, s)
	}
	return r
}

// Len returns the input length.
func (r *RealFFT) Len() int { return r.n }

// Forward computes the n/2+1 bins of src (len(src) == Len()) into dst, which
// is grown as needed, and returns it.
func (r *RealFFT) Forward(dst []complex128, src []float64) []complex128 {
	n := r.n
	if len(src) != n {
		panic(fmt.Sprintf("emg: real FFT of length %d given %d values", n, len(src)))
	}
	nb := n/2 + 1
	if cap(dst) < nb {
		dst = make([]complex128, nb)
	}
	dst = dst[:nb]
	if r.full != nil {
		for i, v := range src {
			r.buf[i] = complex(v, 0)
		}
		r.full.Forward(r.buf)
		copy(dst, r.buf[:nb])
		return dst
	}
	m := n / 2
	z := r.buf
	if r.half.rev != nil {
		rev := r.half.rev[:m]
		for i, j := range rev {
			z[j] = complex(src[2*i], src[2*i+1])
		}
		r.half.permuted(z)
	} else {
		for i := 0; i < m; i++ {
			z[i] = complex(src[2*i], src[2*i+1])
		}
		r.half.Forward(z)
	}
	z0 := z[0]
	dst[0] = complex(real(z0)+imag(z0), 0)
	dst[m] = complex(real(z0)-imag(z0), 0)
	for k := 1; k < m; k++ {
		a := z[k]
		b := z[m-k]
		// even part E = (a + conj b)/2, odd part O = (a - conj b)/(2i)
		er := 0.5 * (real(a) + real(b))
		ei := 0.5 * (imag(a) - imag(b))
		or := 0.5 * (imag(a) + imag(b))
		oi := -0.5 * (real(a) - real(b))
		w := r.tw[k]
		tr := or*real(w) - oi*imag(w)
		ti := or*imag(w) + oi*real(w)
		dst[k] = complex(er+tr, ei+ti)
	}
	return dst
}

// Inverse computes the real sequence of length Len() whose rfft is src
// (numpy.fft.irfft with n = Len(): the imaginary parts of the DC and, for even
// n, Nyquist bins are ignored) into dst, grown as needed, and returns it.
func (r *RealFFT) Inverse(dst []float64, src []complex128) []float64 {
	n := r.n
	nb := n/2 + 1
	if len(src) != nb {
		panic(fmt.Sprintf("emg: inverse real FFT of length %d given %d bins", n, len(src)))
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	full := make([]complex128, n)
	full[0] = complex(real(src[0]), 0)
	for k := 1; k < nb; k++ {
		full[k] = src[k]
		if n-k != k {
			full[n-k] = conj(src[k])
		} else {
			full[k] = complex(real(src[k]), 0)
		}
	}
	NewFFT(n).Inverse(full)
	for i := range dst {
		dst[i] = real(full[i])
	}
	return dst
}

// fastPower reports whether addPower can be used: even length whose half is
// a power of two (at least 4).
func (r *RealFFT) fastPower() bool { return r.half != nil && r.half.rev != nil && r.n >= 8 }

// addPower adds 4|X_k|^2 of the packed, bit-reversed input in r.buf (see
// Welch.PSD) to psd (n/2+1 bins), running the transform first from blocks
// of done values (see FFT.permutedFrom); the caller folds the factor 4 into
// its scaling.
func (r *RealFFT) addPower(psd []float64, done int) {
	m := r.n / 2
	z := r.buf[:m]
	r.half.permutedFrom(z, done)
	psd = psd[: m+1 : m+1]
	tw := r.tw[: m+1 : m+1]
	z0 := z[0]
	dc := real(z0) + imag(z0)
	ny := real(z0) - imag(z0)
	psd[0] += 4 * dc * dc
	psd[m] += 4 * ny * ny
	// Bins k and m-k share their inputs: with a = z[k], b = z[m-k],
	// E = (a + conj b)/2 and O = (a - conj b)/(2i), X[k] = E + w*O and
	// X[m-k] = conj(E - w*O). The halves are left out: the sums hold 4|X|^2.
	h := m / 2
	if useSIMD {
		_, _ = r.twv[4*h-1], psd[m] // the bounds the assembly relies on
		powerSSE2(z, r.twv, psd)
	}
	for k := 1; k < h && !useSIMD; k++ {
		a := z[k]
		b := z[m-k]
		er := real(a) + real(b)
		ei := imag(a) - imag(b)
		or := imag(a) + imag(b)
		oi := real(b) - real(a)
		w := tw[k]
		tr := or*real(w) - oi*imag(w)
		ti := or*imag(w) + oi*real(w)
		xr, xi := er+tr, ei+ti
		psd[k] += xr*xr + xi*xi
		xr2, xi2 := er-tr, ei-ti
		psd[m-k] += xr2*xr2 + xi2*xi2
	}
	// k = m/2 pairs with itself
	a := z[h]
	er, ei := 2*real(a), 0.0
	or, oi := 2*imag(a), 0.0
	w := tw[h]
	xr, xi := er+(or*real(w)-oi*imag(w)), ei+(or*imag(w)+oi*real(w))
	psd[h] += xr*xr + xi*xi
}
