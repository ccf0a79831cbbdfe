package emg

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// MovingAverage writes into dst (grown as needed) the centred moving average
// of x over w samples with zeros outside the record, equal to
// numpy.convolve(x, ones(w)/w, 'same') for len(x) >= w:
// dst[i] = sum(x[i-w/2 .. i+(w-1)/2]) / w. The result has len(x) samples.
func MovingAverage(dst, x []float64, w int) ([]float64, error) {
	if w < 1 {
		return nil, fmt.Errorf("emg: moving-average window %d < 1", w)
	}
	n := len(x)
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	movingSum(dst, x, w, 1/float64(w), false)
	return dst, nil
}

// movingSum writes scale*windowsum (of |x| when abs) for each centred window
// (w/2 samples before, (w-1)/2 after, zeros outside). The running sum is
// recomputed exactly every 1024 samples so rounding does not accumulate over
// long records. dst must not alias x. It returns the largest output and the
// sum of the outputs (NaN or infinite when x holds non-finite values).
func movingSum(dst, x []float64, w int, scale float64, abs bool) (mx, total float64) {
	n := len(x)
	dst = dst[:n]
	h1 := w / 2       // samples before i
	h2 := (w - 1) / 2 // samples after i
	mx = math.Inf(-1)
	const block = 1024
	addBelow := n - 1 - h2 // i < addBelow: x[i+1+h2] enters the next window
	for b0 := 0; b0 < n; b0 += block {
		b1 := min(n, b0+block)
		s := 0.0
		for j := max(0, b0-h1); j <= min(n-1, b0+h2); j++ {
			if abs {
				s += math.Abs(x[j])
			} else {
				s += x[j]
			}
		}
		i := b0
		for i < b1 {
			// a stretch of i where both conditions (enter, leave) are constant
			end := b1
			enter := i < addBelow
			leave := i >= h1
			if enter && addBelow < end {
				end = addBelow
			}
			if !leave && h1 < end {
				end = h1
			}
			out := dst[i:end]
			switch {
			case enter && leave && abs:
				in := x[i+1+h2 : end+1+h2]
				old := x[i-h1 : end-h1]
				in, old = in[:len(out)], old[:len(out)]
				for k := range out {
					v := s * scale
					out[k] = v
					total += v
					if v > mx {
						mx = v
					}
					s += math.Abs(in[k]) - math.Abs(old[k]) // one add on the running chain
				}
			case enter && leave:
				in := x[i+1+h2 : end+1+h2]
				old := x[i-h1 : end-h1]
				in, old = in[:len(out)], old[:len(out)]
				for k := range out {
					v := s * scale
					out[k] = v
					total += v
					if v > mx {
						mx = v
					}
					s += in[k] - old[k] // one add on the running chain
				}
			default:
				for k := i; k < end; k++ {
					v := s * scale
					dst[k] = v
					total += v
					if v > mx {
						mx = v
					}
					if enter {
						if abs {
							s += math.Abs(x[k+1+h2])
						} else {
							s += x[k+1+h2]
						}
					}
					if leave {
						if abs {
							s -= math.Abs(x[k-h1])
						} else {
							s -= x[k-h1]
						}
					}
				}
			}
			i = end
		}
	}
	return mx, total
}

// movingSumPair is movingSum (abs false, no max or total) on two signals of
// the same length, x into dst and x2 into dst2, with the two running sums
// in the lanes of one SSE2 register where the assembly exists: the sums
// are a chain of dependent additions, so two run in the time of one. The
// results are those of movingSum, bit for bit.
func movingSumPair(dst, dst2, x, x2 []float64, w int, scale float64) {
	n := len(x)
	if !useSIMD || len(x2) != n {
		movingSum(dst, x, w, scale, false)
		movingSum(dst2, x2, w, scale, false)
		return
	}
	dst, dst2 = dst[:n], dst2[:n]
	h1 := w / 2
	h2 := (w - 1) / 2
	const block = 1024 // as movingSum
	addBelow := n - 1 - h2
	for b0 := 0; b0 < n; b0 += block {
		b1 := min(n, b0+block)
		s, s2 := 0.0, 0.0
		for j := max(0, b0-h1); j <= min(n-1, b0+h2); j++ {
			s += x[j]
			s2 += x2[j]
		}
		i := b0
		for i < b1 {
			end := b1
			enter := i < addBelow
			leave := i >= h1
			if enter && addBelow < end {
				end = addBelow
			}
			if !leave && h1 < end {
				end = h1
			}
			if enter && leave {
				// every slice below has end-i values (the kernel reads len(out))
				st := [2]float64{s, s2}
				msum2SSE2(dst[i:end], dst2[i:end], x[i+1+h2:end+1+h2], x2[i+1+h2:end+1+h2], x[i-h1:end-h1], x2[i-h1:end-h1], &st, scale)
				s, s2 = st[0], st[1]
			} else {
				for k := i; k < end; k++ {
					dst[k], dst2[k] = s*scale, s2*scale
					if enter {
						s += x[k+1+h2]
						s2 += x2[k+1+h2]
					}
					if leave {
						s -= x[k-h1]
						s2 -= x2[k-h1]
					}
				}
			}
			i = end
		}
	}
}

// RMSEnvelope returns the moving-RMS envelope of x with the window
// w = int(0.050*fs): sqrt(convolve(x^2, ones(w)/w, 'same')), len(x) samples
// (the window is shortened to len(x) when longer).
func RMSEnvelope(x []float64, fs float64) ([]float64, error) {
	if !(fs > 0) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("emg: sampling rate %v must be positive and finite", fs)
	}
	w := int(0.050 * fs)
	if w < 1 {
		return nil, fmt.Errorf("emg: sampling rate %v Hz gives an empty 50 ms window", fs)
	}
	w = min(w, len(x))
	if w < 1 {
		return []float64{}, nil
	}
	sq := make([]float64, len(x))
	for i, v := range x {
		sq[i] = v * v
	}
	out := make([]float64, len(x))
	movingSum(out, sq, w, 1/float64(w), false)
	for i, v := range out {
		out[i] = math.Sqrt(math.Max(v, 0))
	}
	return out, nil
}

// Envelope parameters of the Processed signal (spec step 2).
const (
	EnvelopeHighpassHz = 20.0
	EnvelopeLowpassHz  = 10.0
	EnvelopeOrder      = 4
	EnvelopeSmoothingS = 0.050
)

// envelopeFilters holds the zero-phase filters of the Processed envelope for
// one sampling rate; nil filters are skipped (cutoff at or above Nyquist).
type envelopeFilters struct {
	fs     float64
	hp, lp *ZeroPhase
	smooth int
}

func newEnvelopeFilters(fs float64) (*envelopeFilters, error) {
	ef := &envelopeFilters{fs: fs, smooth: int(EnvelopeSmoothingS * fs)}
	if EnvelopeHighpassHz/(fs/2) < 1 {
		z, err := Butter(EnvelopeOrder, Highpass, fs, EnvelopeHighpassHz)
		if err != nil {
			return nil, err
		}
		b, a := z.TF()
		if ef.hp, err = NewZeroPhase(b, a); err != nil {
			return nil, err
		}
	}
	if EnvelopeLowpassHz/(fs/2) < 1 {
		z, err := Butter(EnvelopeOrder, Lowpass, fs, EnvelopeLowpassHz)
		if err != nil {
			return nil, err
		}
		b, a := z.TF()
		if ef.lp, err = NewZeroPhase(b, a); err != nil {
			return nil, err
		}
	}
	return ef, nil
}

// padlen is the largest padding of the two filters.
func (ef *envelopeFilters) padlen() int {
	p := 0
	if ef.hp != nil {
		p = ef.hp.padlen
	}
	if ef.lp != nil {
		p = max(p, ef.lp.padlen)
	}
	return p
}

// envelope computes the Processed envelope of x into dst (len(x)), using buf
// (len(x)+2*padlen()) as scratch.
func (ef *envelopeFilters) envelope(dst, x, buf []float64) error {
	n := len(x)
	pad := ef.padlen()
	if n <= pad {
		return fmt.Errorf("emg: the envelope filters need more than %d samples, got %d", pad, n)
	}
	mid := buf[pad : pad+n]
	if ef.hp != nil {
		ef.hp.runAbsFrom(buf[pad-ef.hp.padlen:pad+n+ef.hp.padlen], x)
	} else {
		for i, v := range x {
			mid[i] = math.Abs(v)
		}
	}
	if ef.lp != nil {
		ef.lp.run(buf[pad-ef.lp.padlen : pad+n+ef.lp.padlen])
	}
	if ef.smooth > 0 {
		movingSum(dst, mid, ef.smooth, 1/float64(ef.smooth), false)
	} else {
		copy(dst, mid)
	}
	return nil
}

// envelopePair is envelope on two signals of the same length, x into dst
// and x2 into dst2 (scratch buf and buf2), with the recursions of the two
// signals' filters interleaved: the results are those of two envelope
// calls, in about the time of one for the filtering.
func (ef *envelopeFilters) envelopePair(dst, dst2, x, x2, buf, buf2 []float64) error {
	if len(x) != len(x2) || ef.hp != nil && !ef.hp.sym5() || ef.lp != nil && !ef.lp.sym5() {
		if err := ef.envelope(dst, x, buf); err != nil {
			return err
		}
		return ef.envelope(dst2, x2, buf2)
	}
	n := len(x)
	pad := ef.padlen()
	if n <= pad {
		return fmt.Errorf("emg: the envelope filters need more than %d samples, got %d", pad, n)
	}
	mid, mid2 := buf[pad:pad+n], buf2[pad:pad+n]
	if ef.hp != nil {
		p := ef.hp.padlen
		ef.hp.runPair(buf[pad-p:pad+n+p], buf2[pad-p:pad+n+p], x, x2, true)
	} else {
		for i := range x {
			mid[i], mid2[i] = math.Abs(x[i]), math.Abs(x2[i])
		}
	}
	if ef.lp != nil {
		p := ef.lp.padlen
		ef.lp.runPair(buf[pad-p:pad+n+p], buf2[pad-p:pad+n+p], nil, nil, false)
	}
	if ef.smooth > 0 {
		movingSumPair(dst, dst2, mid, mid2, ef.smooth, 1/float64(ef.smooth))
	} else {
		copy(dst, mid)
		copy(dst2, mid2)
	}
	return nil
}

// ProcessedEnvelope returns the Processed envelope of a raw EMG signal:
// Butterworth order-4 high-pass at 20 Hz (zero phase, filtfilt), full-wave
// rectification, Butterworth order-4 low-pass at 10 Hz (zero phase), then a
// centred moving average of int(0.050*fs) samples. A filter whose cutoff is at
// or above fs/2 is skipped, as is a smoothing window of 0 samples. The
// low-pass can leave slightly negative values; they are kept.
func ProcessedEnvelope(x []float64, fs float64) ([]float64, error) {
	if !(fs > 0) || math.IsInf(fs, 0) {
		return nil, fmt.Errorf("emg: sampling rate %v must be positive and finite", fs)
	}
	ef, err := newEnvelopeFilters(fs)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	buf := make([]float64, len(x)+2*ef.padlen())
	if err := ef.envelope(out, x, buf); err != nil {
		return nil, err
	}
	return out, nil
}

// Percentile returns the q-th percentile (0..100) of x with linear
// interpolation between order statistics (numpy.percentile's default). x is
// not modified.
func Percentile(x []float64, q float64) (float64, error) {
	return percentileScratch(x, q, make([]float64, len(x)))
}

func percentileScratch(x []float64, q float64, scratch []float64) (float64, error) {
	if len(x) == 0 {
		return 0, errors.New("emg: percentile of an empty signal")
	}
	if !(q >= 0 && q <= 100) {
		return 0, fmt.Errorf("emg: percentile %v outside 0..100", q)
	}
	n := len(x)
	virt := (q / 100) * float64(n-1)
	lo := int(math.Floor(virt))
	t := virt - float64(lo)
	var a, b float64
	if lo >= n-1 {
		a = orderStats(x, n-1, scratch)
		b = a
	} else {
		a = orderStats(x, lo, scratch)
		b = scratch[0] // the (lo+1)-th order statistic, left there by orderStats
	}
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t), nil
	}
	return a + d*t, nil
}

// orderStats returns the k-th smallest value of x and leaves the (k+1)-th
// (or the k-th when k = len(x)-1) in scratch[0]. For long inputs it brackets
// the answer with a sorted sample and selects among the values in the
// bracket, one pass over x; otherwise, or when the bracket misses, it selects
// on a full copy.
func orderStats(x []float64, k int, scratch []float64) float64 {
	n := len(x)
	const m = 1024 // sample size
	if n >= 16*m {
		var sample [m]float64
		stride := n / m
		for i := range sample {
			sample[i] = x[i*stride]
		}
		sort.Float64s(sample[:])
		ks := int(float64(k) / float64(n-1) * (m - 1))
		lo, hi := sample[max(0, ks-48)], sample[min(m-1, ks+48)]
		below := 0
		c := scratch[:0]
		for _, v := range x {
			if v < lo {
				below++
			} else if v <= hi {
				c = append(c, v)
			}
		}
		if below <= k && k+1 < below+len(c) {
			r := k - below
			v := selectKth(c, r)
			next := c[r+1]
			for _, w := range c[r+2:] {
				if w < next {
					next = w
				}
			}
			scratch[0] = next
			return v
		}
	}
	s := scratch[:n]
	copy(s, x)
	v := selectKth(s, k)
	next := v
	if k+1 < n {
		next = s[k+1]
		for _, w := range s[k+2:] {
			if w < next {
				next = w
			}
		}
	}
	scratch[0] = next
	return v
}

// selectKth partially sorts s so that s[k] is the k-th smallest value, all
// values left of k are <= s[k] and all right are >= s[k]; it returns s[k].
func selectKth(s []float64, k int) float64 {
	lo, hi := 0, len(s)-1
	for hi-lo > 16 {
		// median of three pivot
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		p := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	sort.Float64s(s[lo : hi+1])
	return s[k]
}
