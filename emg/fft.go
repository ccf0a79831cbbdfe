package emg

import (
	"fmt"
	"math"
	"math/bits"
)

// FFT is a precomputed plan for the discrete Fourier transform of complex
// sequences of one length. Powers of two use an iterative radix-2 transform
// with per-stage twiddle tables; other lengths use Bluestein's algorithm on
// top of a power-of-two plan. A plan keeps scratch space: it is not safe for
// concurrent use, give each goroutine its own.
type FFT struct {
	n      int
	rev    []int32        // bit-reversal permutation (power-of-two plans)
	tw     []complex128   // twiddles of every stage, stage after stage
	blue   *bluestein     // non-power-of-two lengths
	ident  bool           // n <= 1
	stages [][]complex128 // views into tw, one per stage of size >= 8
}

type bluestein struct {
	m     int
	chirp []complex128 // exp(-i*pi*k^2/n), k < n
	bhat  []complex128 // FFT of the conjugate chirp sequence, length m
	work  []complex128
	sub   *FFT
}

// NewFFT returns a plan for length n (n >= 1).
func NewFFT(n int) *FFT {
	if n < 1 {
		panic(fmt.Sprintf("emg: FFT length %d < 1", n))
	}
	p := &FFT{n: n}
	if n == 1 {
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
	// Stages of size 2 and 4 use trivial twiddles; tables for size >= 8.
	for size := 8; size <= n; size <<= 1 {
		half := size / 2
		st := make([]complex128, half)
		for k := 0; k < half; k++ {
			s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(size))
			st[k] = complex(c, s)
		}
		p.stages = append(p.stages, st)
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
		p.radix2(x)
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

func (p *FFT) radix2(x []complex128) {
	n := p.n
	for i, j := range p.rev {
		if int(j) > i {
			x[i], x[j] = x[j], x[i]
		}
	}
	// size 2
	for i := 0; i+1 < n; i += 2 {
		a, b := x[i], x[i+1]
		x[i], x[i+1] = a+b, a-b
	}
	if n < 4 {
		return
	}
	// size 4: twiddles 1 and -i
	for i := 0; i+3 < n; i += 4 {
		a0, a1, b0, b1 := x[i], x[i+1], x[i+2], x[i+3]
		t1 := complex(imag(b1), -real(b1)) // b1 * -i
		x[i], x[i+2] = a0+b0, a0-b0
		x[i+1], x[i+3] = a1+t1, a1-t1
	}
	size := 8
	for _, tw := range p.stages {
		half := size / 2
		for start := 0; start < n; start += size {
			lo := x[start : start+half : start+half]
			hi := x[start+half : start+size : start+size]
			tw := tw[:half:half]
			for k := range lo {
				w := tw[k]
				b := hi[k]
				br := real(b)*real(w) - imag(b)*imag(w)
				bi := real(b)*imag(w) + imag(b)*real(w)
				a := lo[k]
				lo[k] = complex(real(a)+br, imag(a)+bi)
				hi[k] = complex(real(a)-br, imag(a)-bi)
			}
		}
		size <<= 1
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
	buf  []complex128
}

// NewRealFFT returns a plan for real input of length n (n >= 1).
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
	for i := 0; i < m; i++ {
		z[i] = complex(src[2*i], src[2*i+1])
	}
	r.half.Forward(z)
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
