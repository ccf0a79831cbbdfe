package emg

import (
	"math"
)

// MinSpectralSamples is the shortest signal given spectral features: one
// Welch segment of 256 samples.
const MinSpectralSamples = 256

// minSpectralStd is the standard deviation below which a signal has no spectrum.
const minSpectralStd = 1e-10

// RMS returns sqrt(mean(x^2)), 0 for an empty slice.
func RMS(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// MAV returns mean(|x|), 0 for an empty slice.
func MAV(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += math.Abs(v)
	}
	return s / float64(len(x))
}

// Std returns the population standard deviation (ddof = 0), two-pass.
func Std(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		d := v - m
		s += d * d
	}
	return math.Sqrt(s / float64(len(x)))
}

// moments returns sum(x), sum(x^2) and sum(|x|) with four accumulators.
func moments(x []float64) (sum, sumsq, sumabs float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3, a0, a1, a2, a3 float64
	i := 0
	if useSIMD {
		var acc [12]float64
		moments4SSE2(x, &acc)
		s0, s1, s2, s3, q0, q1, q2, q3, a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7], acc[8], acc[9], acc[10], acc[11]
		i = len(x) &^ 3
	}
	for ; i+3 < len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		q0 += v[0] * v[0]
		q1 += v[1] * v[1]
		q2 += v[2] * v[2]
		q3 += v[3] * v[3]
		a0 += math.Abs(v[0])
		a1 += math.Abs(v[1])
		a2 += math.Abs(v[2])
		a3 += math.Abs(v[3])
	}
	for ; i < len(x); i++ {
		s0 += x[i]
		q0 += x[i] * x[i]
		a0 += math.Abs(x[i])
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3), (a0 + a1) + (a2 + a3)
}

// varies reports whether std(x) >= minSpectralStd, given its moments: the
// one-pass variance decides when it is far from the limit and well
// conditioned, else the two-pass Std does.
func varies(x []float64, sum, sumsq float64) bool {
	n := float64(len(x))
	m := sum / n
	ms := sumsq / n
	v := ms - m*m
	if v > 1e-16 && v > 1e-6*ms {
		return true
	}
	return Std(x) >= minSpectralStd
}

// Spectral holds the spectral features of one power spectrum. A feature that
// cannot be computed (no power, no positive-frequency bin) has its Has flag false.
type Spectral struct {
	MPF, MDF, FI          float64
	HasMPF, HasMDF, HasFI bool
}

// SpectralFeatures computes from a one-sided PSD:
//
//	MPF = sum(f*P)/sum(P) over all bins (DC included);
//	MDF = f[first k with cumsum(P)[k] >= sum(P)/2];
//	FI_nsm5 = sum(P/f)/sum(P*f^5) over bins with f > 0 (Dimitrov).
func SpectralFeatures(freqs, psd []float64) Spectral {
	var out Spectral
	tot, fp := 0.0, 0.0
	for k, p := range psd {
		tot += p
		fp += freqs[k] * p
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
	mneg, m5, pos, ptot := 0.0, 0.0, 0, 0.0
	for k, p := range psd {
		f := freqs[k]
		if !(f > 0) {
			continue
		}
		pos++
		ptot += p
		mneg += p / f
		f2 := f * f
		m5 += f2 * f2 * f * p
	}
	if pos > 0 && ptot != 0 && m5 != 0 {
		out.FI, out.HasFI = mneg/m5, true
	}
	return out
}

// Features are the whole-signal features of one channel. Spectral fields are
// nil when the signal is shorter than MinSpectralSamples or flat (std < 1e-10).
type Features struct {
	RMS    float64
	MAV    float64
	MPF    *float64
	MDF    *float64
	FINSM5 *float64
}

// ComputeFeatures returns rms, mav and the Welch (nperseg = 256) spectral
// features of x sampled at fs.
func ComputeFeatures(x []float64, fs float64) (Features, error) {
	ws := newFeatureWork()
	return ws.features(x, fs)
}

// featureWork holds the Welch estimator reused across windows and channels.
type featureWork struct {
	welch *Welch
}

func newFeatureWork() *featureWork { return &featureWork{} }

func (fw *featureWork) estimator(fs float64) (*Welch, error) {
	if fw.welch == nil || fw.welch.fs != fs {
		w, err := NewWelch(fs, MinSpectralSamples)
		if err != nil {
			return nil, err
		}
		fw.welch = w
	}
	return fw.welch, nil
}

// spectralChecked returns the spectral features of x, a signal the caller
// has checked to be long enough (MinSpectralSamples) and to vary.
func (fw *featureWork) spectralChecked(x []float64, fs float64) (Spectral, bool, error) {
	w, err := fw.estimator(fs)
	if err != nil {
		return Spectral{}, false, err
	}
	p, err := w.PSD(x)
	if err != nil {
		return Spectral{}, false, err
	}
	return w.features(p), true, nil
}

func (fw *featureWork) features(x []float64, fs float64) (Features, error) {
	if len(x) == 0 {
		return Features{}, nil
	}
	sum, sumsq, sumabs := moments(x)
	return fw.featuresMoments(x, fs, sum, sumsq, sumabs)
}

// featuresMoments is features given the moments of x.
func (fw *featureWork) featuresMoments(x []float64, fs float64, sum, sumsq, sumabs float64) (Features, error) {
	if len(x) == 0 {
		return Features{}, nil
	}
	n := float64(len(x))
	f := Features{RMS: math.Sqrt(sumsq / n), MAV: sumabs / n}
	if len(x) < MinSpectralSamples || !varies(x, sum, sumsq) {
		return f, nil
	}
	s, ok, err := fw.spectralChecked(x, fs)
	if err != nil {
		return f, err
	}
	if ok {
		if s.HasMPF {
			f.MPF = ptr(s.MPF)
		}
		if s.HasMDF {
			f.MDF = ptr(s.MDF)
		}
		if s.HasFI {
			f.FINSM5 = ptr(s.FI)
		}
	}
	return f, nil
}

func ptr(v float64) *float64 { return &v }

// TemporalStats summarises one feature over the temporal windows. Values are
// null when fewer than MinTemporalWindows windows gave a value.
type TemporalStats struct {
	MeanValue              *float64 `json:"mean_value"`
	StdValue               *float64 `json:"std_value"`
	MinValue               *float64 `json:"min_value"`
	MaxValue               *float64 `json:"max_value"`
	ValidWindows           int      `json:"valid_windows"`
	CoefficientOfVariation *float64 `json:"coefficient_of_variation"`
}

// MinTemporalWindows is the fewest valid windows that give temporal statistics.
const MinTemporalWindows = 3

// Temporal holds the temporal statistics of the five features.
type Temporal struct {
	RMS, MAV, MPF, MDF, FatigueIndex TemporalStats
}

// TemporalWindows returns the window length and step in samples for
// sampling rate fs: w = int(1.0*fs), step = max(1, int(0.5*w)). Windows start
// at 0, step, 2*step, ... while start + w <= len.
func TemporalWindows(fs float64) (w, step int) {
	w = int(1.0 * fs)
	step = max(1, int(float64(w)*0.5))
	return w, step
}

// ComputeTemporal returns the temporal statistics of x sampled at fs: rms,
// mav, mpf, mdf and FI_nsm5 per window (see TemporalWindows), each spectral
// value computed as in ComputeFeatures, then mean, std (ddof 1), min, max,
// count and coefficient of variation over the windows that have a value.
func ComputeTemporal(x []float64, fs float64) (Temporal, error) {
	return newFeatureWork().temporal(x, fs, nil)
}

// temporalValues collects per-window values; reused across channels.
type temporalValues struct {
	rms, mav, mpf, mdf, fi []float64
}

func (fw *featureWork) temporal(x []float64, fs float64, tv *temporalValues) (Temporal, error) {
	if tv == nil {
		tv = &temporalValues{}
	}
	tv.rms, tv.mav, tv.mpf, tv.mdf, tv.fi = tv.rms[:0], tv.mav[:0], tv.mpf[:0], tv.mdf[:0], tv.fi[:0]
	w, step := TemporalWindows(fs)
	if w > 1 {
		// Windows overlap by half: with w = 2*step (+1 when w is odd), a
		// window's moments are those of two consecutive step-long chunks
		// (plus its last sample), each chunk summed once.
		paired := w == 2*step || w == 2*step+1
		var prev [3]float64
		havePrev := false
		for start := 0; start+w <= len(x); start += step {
			win := x[start : start+w]
			var sum, sumsq, sumabs float64
			if paired {
				if !havePrev {
					prev[0], prev[1], prev[2] = moments(x[start : start+step])
				}
				c0, c1, c2 := moments(x[start+step : start+2*step])
				sum, sumsq, sumabs = prev[0]+c0, prev[1]+c1, prev[2]+c2
				if w > 2*step {
					v := x[start+2*step]
					sum, sumsq, sumabs = sum+v, sumsq+v*v, sumabs+math.Abs(v)
				}
				prev, havePrev = [3]float64{c0, c1, c2}, true
			} else {
				sum, sumsq, sumabs = moments(win)
			}
			tv.rms = append(tv.rms, math.Sqrt(sumsq/float64(w)))
			tv.mav = append(tv.mav, sumabs/float64(w))
			var s Spectral
			ok := false
			if w >= MinSpectralSamples && varies(win, sum, sumsq) {
				var err error
				if s, ok, err = fw.spectralChecked(win, fs); err != nil {
					return Temporal{}, err
				}
			}
			if ok {
				if s.HasMPF {
					tv.mpf = append(tv.mpf, s.MPF)
				}
				if s.HasMDF {
					tv.mdf = append(tv.mdf, s.MDF)
				}
				if s.HasFI {
					tv.fi = append(tv.fi, s.FI)
				}
			}
		}
	}
	return Temporal{
		RMS:          Summarize(tv.rms),
		MAV:          Summarize(tv.mav),
		MPF:          Summarize(tv.mpf),
		MDF:          Summarize(tv.mdf),
		FatigueIndex: Summarize(tv.fi),
	}, nil
}

// Summarize returns the temporal statistics of values: all null when there
// are fewer than MinTemporalWindows; std has ddof 1; the coefficient of
// variation std/mean is null when mean = 0.
func Summarize(values []float64) TemporalStats {
	st := TemporalStats{ValidWindows: len(values)}
	n := len(values)
	if n < MinTemporalWindows {
		return st
	}
	mean, lo, hi := 0.0, values[0], values[0]
	for _, v := range values {
		mean += v
		lo = math.Min(lo, v)
		hi = math.Max(hi, v)
	}
	mean /= float64(n)
	ss := 0.0
	for _, v := range values {
		d := v - mean
		ss += d * d
	}
	std := 0.0
	if n > 1 {
		std = math.Sqrt(ss / float64(n-1))
	}
	st.MeanValue, st.StdValue, st.MinValue, st.MaxValue = ptr(mean), ptr(std), ptr(lo), ptr(hi)
	if mean != 0 {
		st.CoefficientOfVariation = ptr(std / mean)
	}
	return st
}
