package emg

import (
	"fmt"
	"math"
	"math/bits"
)

// HannPeriodic returns the periodic Hann window of length n
// (scipy.signal.get_window('hann', n), i.e. fftbins=True).
func HannPeriodic(n int) []float64 {
	w := make([]float64, n)
	for k := range w {
		w[k] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(k)/float64(n))
	}
	return w
}

// Welch estimates power spectral density with scipy.signal.welch's defaults
// for a given segment length: periodic Hann window of nperseg samples,
// noverlap = nperseg/2, nfft = nperseg, constant detrend per segment,
// one-sided density scaling, mean of the segment periodograms. An estimator
// keeps its window, FFT plan and buffers, so repeated calls do not allocate;
// it is not safe for concurrent use.
type Welch struct {
	fs       float64
	nperseg  int
	noverlap int
	win      []float64
	scale    float64
	fft      *RealFFT
	pairs    bool       // fast path runs the first radix-2 stage while packing
	idx8     *[64]int32 // nperseg = 256: packed index at bit-reversed position 2j, for pack8SSE2
	seg      []float64
	spec     []complex128
	freqs    []float64
	psd      []float64
	inv, f5  []float64 // 1/f and f^5 of the positive-frequency bins (0 at DC)
}

// NewWelch returns an estimator for sampling rate fs and segment length nperseg.
func NewWelch(fs float64, nperseg int) (*Welch, error) {
	if !(fs > 0) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("emg: sampling rate %v must be positive and finite", fs)
	}
	if nperseg < 1 {
		return nil, fmt.Errorf("emg: Welch segment length %d < 1", nperseg)
	}
	w := &Welch{fs: fs, nperseg: nperseg, noverlap: nperseg / 2, win: HannPeriodic(nperseg), fft: NewRealFFT(nperseg)}
	s := 0.0
	for _, v := range w.win {
		s += v * v
	}
	w.scale = 1 / (fs * s)
	if w.fft.fastPower() {
		m := nperseg / 2
		w.pairs = bits.TrailingZeros(uint(m))%2 == 1
		if nperseg == 256 {
			w.idx8 = new([64]int32)
			for j := range w.idx8 {
				w.idx8[j] = w.fft.half.rev[2*j] // rev is its own inverse
			}
		}
	}
	w.seg = make([]float64, nperseg)
	nb := nperseg/2 + 1
	w.spec = make([]complex128, nb)
	w.psd = make([]float64, nb)
	w.freqs = make([]float64, nb)
	df := 1 / (float64(nperseg) * (1 / fs)) // as numpy.fft.rfftfreq
	for k := range w.freqs {
		w.freqs[k] = float64(k) * df
	}
	w.inv = make([]float64, nb)
	w.f5 = make([]float64, nb)
	for k, f := range w.freqs {
		if f > 0 {
			w.inv[k] = 1 / f
			w.f5[k] = math.Pow(f, 5)
		}
	}
	return w, nil
}

// SegmentLength returns nperseg.
func (w *Welch) SegmentLength() int { return w.nperseg }

// Freqs returns the bin frequencies in Hz (owned by the estimator; do not modify).
func (w *Welch) Freqs() []float64 { return w.freqs }

// PSD estimates the spectrum of x (len(x) >= nperseg) and returns the
// densities, one per Freqs() bin. The slice is owned by the estimator and is
// overwritten by the next call.
func (w *Welch) PSD(x []float64) ([]float64, error) {
	n := w.nperseg
	if len(x) < n {
		return nil, fmt.Errorf("emg: Welch needs at least %d samples, got %d", n, len(x))
	}
	step := n - w.noverlap
	nseg := (len(x) - w.noverlap) / step
	psd := w.psd
	for k := range psd {
		psd[k] = 0
	}
	seg := w.seg
	win := w.win
	fast := w.fft.fastPower()
	for s := 0; s < nseg; s++ {
		part := x[s*step : s*step+n : s*step+n]
		var m0, m1, m2, m3 float64
		i := 0
		if useSIMD {
			m0, m1, m2, m3 = sum4SSE2(part)
			i = n &^ 3
		}
		for ; i+3 < n; i += 4 {
			q := part[i : i+4 : i+4]
			m0 += q[0]
			m1 += q[1]
			m2 += q[2]
			m3 += q[3]
		}
		for ; i < n; i++ {
			m0 += part[i]
		}
		mean := ((m0 + m1) + (m2 + m3)) / float64(n)
		if fast {
			// detrend, window and pack pairs into bit-reversed order in one
			// pass; for odd log2(n/2) also run the first radix-2 stage, whose
			// butterflies join packed values h apart (adjacent once reversed).
			z := w.fft.buf
			m := n / 2
			rev := w.fft.half.rev[:m:m]
			win := win[:n:n]
			if w.idx8 != nil && useSIMD {
				// also the first radix-4 stage, in registers
				pack8SSE2((*[256]float64)(part), (*[256]float64)(win), (*[128]complex128)(z), w.idx8, mean)
				w.fft.addPower(psd, 8)
				continue
			}
			if n == 256 && w.pairs {
				pack256((*[256]float64)(part), (*[256]float64)(win), (*[128]complex128)(z), (*[128]int32)(rev), mean)
			} else if w.pairs {
				h := m / 2
				for i := 0; i < h; i++ {
					a := complex((part[2*i]-mean)*win[2*i], (part[2*i+1]-mean)*win[2*i+1])
					k := 2 * (i + h)
					b := complex((part[k]-mean)*win[k], (part[k+1]-mean)*win[k+1])
					j := rev[i]
					z[j], z[j+1] = a+b, a-b
				}
			} else {
				for i, j := range rev {
					z[j] = complex((part[2*i]-mean)*win[2*i], (part[2*i+1]-mean)*win[2*i+1])
				}
			}
			done := 1
			if w.pairs {
				done = 2
			}
			w.fft.addPower(psd, done)
			continue
		}
		for i, v := range part {
			seg[i] = (v - mean) * win[i]
		}
		spec := w.fft.Forward(w.spec, seg)
		for k, c := range spec {
			psd[k] += real(c)*real(c) + imag(c)*imag(c)
		}
	}
	sc := w.scale / float64(nseg)
	if fast {
		sc *= 0.25 // addPower sums 4|X|^2
	}
	last := len(psd) - 1
	for k := range psd {
		v := psd[k] * sc
		if k > 0 && (k < last || n%2 == 1) {
			v *= 2
		}
		psd[k] = v
	}
	return psd, nil
}

// WelchPSD is the one-shot form of Welch: scipy.signal.welch(x, fs,
// nperseg=min(nperseg, len(x))) with its other defaults. It returns new slices.
func WelchPSD(x []float64, fs float64, nperseg int) (freqs, psd []float64, err error) {
	if len(x) == 0 {
		return nil, nil, fmt.Errorf("emg: Welch of an empty signal")
	}
	w, err := NewWelch(fs, min(nperseg, len(x)))
	if err != nil {
		return nil, nil, err
	}
	p, err := w.PSD(x)
	if err != nil {
		return nil, nil, err
	}
	return append([]float64(nil), w.freqs...), append([]float64(nil), p...), nil
}

// pack256 is the packing loop of PSD for nperseg = 256 (the analytics'
// segment length), written on arrays so that it runs without bounds checks.
func pack256(part, win *[256]float64, z *[128]complex128, rev *[128]int32, mean float64) {
	for i := 0; i < 64; i++ {
		a := complex((part[2*i]-mean)*win[2*i], (part[2*i+1]-mean)*win[2*i+1])
		b := complex((part[2*i+128]-mean)*win[2*i+128], (part[2*i+129]-mean)*win[2*i+129])
		j := rev[i] & 127
		z[j] = a + b
		z[(j+1)&127] = a - b
	}
}

// features is SpectralFeatures(w.Freqs(), psd) with the moments' weights
// precomputed.
func (w *Welch) features(psd []float64) Spectral {
	var out Spectral
	freqs := w.freqs[:len(psd)]
	inv, f5 := w.inv[:len(psd)], w.f5[:len(psd)]
	tot, fp, mneg, m5, ptot := 0.0, 0.0, 0.0, 0.0, 0.0
	for k, p := range psd {
		tot += p
		fp += freqs[k] * p
		mneg += p * inv[k]
		m5 += p * f5[k]
	}
	if tot != 0 {
		out.MPF, out.HasMPF = fp/tot, true
		half := tot * 0.5
		c := 0.0
		for k, p := range psd {
			c += p
			if c >= half {
				out.MDF, out.HasMDF = freqs[k], true
				break
			}
		}
	}
	ptot = tot - psd[0] // power at f > 0
	if len(psd) > 1 && ptot != 0 && m5 != 0 {
		out.FI, out.HasFI = mneg/m5, true
	}
	return out
}
