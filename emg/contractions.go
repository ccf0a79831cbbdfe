package emg

import (
	"errors"
	"fmt"
	"math"
)

// Detection defaults (spec step 6).
const (
	DefaultThresholdFactor          = 0.10  // of max, when the envelope is the timing signal
	DefaultActivatedThresholdFactor = 0.05  // of max, when an activated channel is
	DefaultSmoothingWindow          = 100   // samples
	DefaultMinDurationMs            = 100.0 // shorter runs are dropped
	DefaultMergeGapMs               = 200.0 // runs this close are merged
	DefaultMaxContractionMs         = 10000.0
	DefaultDurationThresholdMs      = 2000.0
	minTimingMax                    = 1e-9 // a smoothed timing signal below this holds nothing
)

// Run is a detected activity run in samples: Start is its first active
// sample, End its first inactive sample after it, or the last sample of the
// record when the run reaches it.
type Run struct {
	Start, End int
}

// DetectOptions configures DetectRuns. NewDetectOptions fills the defaults.
type DetectOptions struct {
	Fs              float64 // sampling rate, Hz
	ThresholdFactor float64 // active where smoothed > ThresholdFactor * max(smoothed)
	SmoothingWindow int     // samples of the moving average of |timing|
	MinDurationMs   float64 // runs with End-Start < int(MinDurationMs/1000*Fs) are dropped
	MergeGapMs      float64 // neighbours with next.Start-prev.End <= int(MergeGapMs/1000*Fs) merge
	MaxDurationMs   float64 // longer runs are split into pieces of int(MaxDurationMs/1000*Fs)
}

// NewDetectOptions returns the default detection settings for sampling rate
// fs and the given threshold factor.
func NewDetectOptions(fs, thresholdFactor float64) DetectOptions {
	return DetectOptions{
		Fs:              fs,
		ThresholdFactor: thresholdFactor,
		SmoothingWindow: DefaultSmoothingWindow,
		MinDurationMs:   DefaultMinDurationMs,
		MergeGapMs:      DefaultMergeGapMs,
		MaxDurationMs:   DefaultMaxContractionMs,
	}
}

// DetectRuns finds contractions in a timing signal (spec step 6): s = centred
// moving average of |timing| over SmoothingWindow samples; nothing is found
// when the signal is shorter than the window or max(s) < 1e-9; active where
// s > ThresholdFactor*max(s). Runs touching the first or last sample start at
// 0 or end at len-1. Then runs shorter than the minimum duration are dropped,
// neighbours closer than the merge gap are merged, and runs longer than the
// maximum are split into pieces [c, min(c+max, end)], the next piece starting
// one sample after the previous one's end.
func DetectRuns(timing []float64, o DetectOptions) ([]Run, error) {
	return detectRuns(timing, o, nil)
}

func (o DetectOptions) check() error {
	if !(o.Fs > 0) || math.IsInf(o.Fs, 0) {
		return fmt.Errorf("emg: sampling rate %v must be positive and finite", o.Fs)
	}
	if !(o.ThresholdFactor > 0 && o.ThresholdFactor < 1) {
		return fmt.Errorf("emg: threshold factor %v outside (0, 1)", o.ThresholdFactor)
	}
	if o.SmoothingWindow < 1 {
		return fmt.Errorf("emg: smoothing window %d < 1", o.SmoothingWindow)
	}
	for _, v := range []float64{o.MinDurationMs, o.MergeGapMs, o.MaxDurationMs} {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("emg: detection durations must be finite and >= 0")
		}
	}
	return nil
}

// errNonFiniteTiming reports a timing signal holding NaN or infinite values.
var errNonFiniteTiming = errors.New("emg: the timing signal holds NaN or infinite values")

// detectRuns runs the detection with s (len(timing)) as scratch when given.
func detectRuns(timing []float64, o DetectOptions, s []float64) ([]Run, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	n := len(timing)
	w := o.SmoothingWindow
	if n < w || n == 0 {
		return nil, nil
	}
	if cap(s) < n {
		s = make([]float64, n)
	}
	s = s[:n]
	mx, total := movingSum(s, timing, w, 1/float64(w), true)
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return nil, errNonFiniteTiming
	}
	if !(mx >= minTimingMax) {
		return nil, nil
	}
	thr := mx * o.ThresholdFactor
	var runs []Run
	start := -1
	if s[0] > thr {
		start = 0
	}
	for i := 1; i < n; i++ {
		a := s[i] > thr
		if a && start < 0 {
			start = i
		} else if !a && start >= 0 {
			runs = append(runs, Run{start, i})
			start = -1
		}
	}
	if start >= 0 {
		runs = append(runs, Run{start, n - 1})
	}
	minLen := int((o.MinDurationMs / 1000) * o.Fs)
	kept := runs[:0]
	for _, r := range runs {
		if r.End-r.Start >= minLen {
			kept = append(kept, r)
		}
	}
	runs = kept
	gap := int((o.MergeGapMs / 1000) * o.Fs)
	if gap > 0 && len(runs) > 0 {
		merged := runs[:1]
		for _, r := range runs[1:] {
			last := &merged[len(merged)-1]
			if r.Start-last.End <= gap {
				last.End = r.End
			} else {
				merged = append(merged, r)
			}
		}
		runs = merged
	}
	maxLen := int((o.MaxDurationMs / 1000) * o.Fs)
	var out []Run
	for _, r := range runs {
		if r.End-r.Start <= maxLen {
			out = append(out, r)
			continue
		}
		for c := r.Start; c < r.End; {
			e := min(c+maxLen, r.End)
			out = append(out, Run{c, e})
			c = e + 1
		}
	}
	return out, nil
}

// Contraction is one detected contraction, amplitudes taken from the
// rectified Processed envelope over samples Start..End inclusive.
type Contraction struct {
	StartTimeMs   float64 `json:"start_time_ms"`
	EndTimeMs     float64 `json:"end_time_ms"`
	DurationMs    float64 `json:"duration_ms"`
	MeanAmplitude float64 `json:"mean_amplitude"`
	MaxAmplitude  float64 `json:"max_amplitude"`
	MeetsMVC      bool    `json:"meets_mvc"`
	MeetsDuration bool    `json:"meets_duration"`
	IsGood        bool    `json:"is_good"`
	StartSample   int     `json:"-"`
	EndSample     int     `json:"-"`
}

// Describe turns runs into contractions: amplitudes over |amplitude[Start..End]|
// (inclusive), times start/fs*1000 and end/fs*1000 ms, duration
// (end-start)/fs*1000 ms; meets_mvc = max >= mvcThreshold, meets_duration =
// duration >= durationThresholdMs; is_good = both when both thresholds are
// given (non-nil), else the one given, else false. Runs outside amplitude are an error.
func Describe(runs []Run, amplitude []float64, fs float64, mvcThreshold, durationThresholdMs *float64) ([]Contraction, error) {
	out := make([]Contraction, 0, len(runs))
	for _, r := range runs {
		if r.Start < 0 || r.End < r.Start || r.End >= len(amplitude) {
			return nil, fmt.Errorf("emg: run %d..%d outside the amplitude signal of %d samples", r.Start, r.End, len(amplitude))
		}
		seg := amplitude[r.Start : r.End+1]
		mx, sum := math.Inf(-1), 0.0
		for _, v := range seg {
			a := math.Abs(v)
			sum += a
			if a > mx {
				mx = a
			}
		}
		c := Contraction{
			StartTimeMs:   (float64(r.Start) / fs) * 1000,
			EndTimeMs:     (float64(r.End) / fs) * 1000,
			DurationMs:    (float64(r.End-r.Start) / fs) * 1000,
			MeanAmplitude: sum / float64(len(seg)),
			MaxAmplitude:  mx,
			StartSample:   r.Start,
			EndSample:     r.End,
		}
		if mvcThreshold != nil {
			c.MeetsMVC = mx >= *mvcThreshold
		}
		if durationThresholdMs != nil {
			c.MeetsDuration = c.DurationMs >= *durationThresholdMs
		}
		switch {
		case mvcThreshold != nil && durationThresholdMs != nil:
			c.IsGood = c.MeetsMVC && c.MeetsDuration
		case mvcThreshold != nil:
			c.IsGood = c.MeetsMVC
		case durationThresholdMs != nil:
			c.IsGood = c.MeetsDuration
		}
		out = append(out, c)
	}
	return out, nil
}
