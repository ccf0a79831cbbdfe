package emg

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

// square returns n samples of 0 with 1 on the half-open ranges given.
func square(n int, on ...[2]int) []float64 {
	x := make([]float64, n)
	for _, r := range on {
		for i := r[0]; i < r[1]; i++ {
			x[i] = 1
		}
	}
	return x
}

// exactOpts detects on the signal itself (smoothing of 1 sample) at 1 kHz:
// min duration 100 samples, merge gap 200, maximum 10000.
func exactOpts() DetectOptions {
	o := NewDetectOptions(1000, 0.5)
	o.SmoothingWindow = 1
	return o
}

func runsOf(t *testing.T, x []float64, o DetectOptions) []Run {
	t.Helper()
	r, err := DetectRuns(x, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDetectRunsEdges(t *testing.T) {
	n := 5000
	cases := []struct {
		name string
		x    []float64
		want []Run
	}{
		{"inside", square(n, [2]int{1000, 1500}), []Run{{1000, 1500}}},
		{"touches first sample", square(n, [2]int{0, 300}), []Run{{0, 300}}},
		{"touches last sample", square(n, [2]int{4500, n}), []Run{{4500, n - 1}}},
		{"whole record", square(n, [2]int{0, n}), []Run{{0, n - 1}}},
		{"exactly the minimum duration", square(n, [2]int{1000, 1100}), []Run{{1000, 1100}}},
		{"one sample short of the minimum", square(n, [2]int{1000, 1099}), nil},
		{"merged across a gap of 200", square(n, [2]int{1000, 1200}, [2]int{1400, 1600}), []Run{{1000, 1600}}},
		{"not merged across a gap of 201", square(n, [2]int{1000, 1200}, [2]int{1401, 1600}), []Run{{1000, 1200}, {1401, 1600}}},
		{"short run dropped before merging", square(n, [2]int{1000, 1200}, [2]int{1250, 1300}, [2]int{1600, 1800}), []Run{{1000, 1200}, {1600, 1800}}},
		{"last sample alone", square(n, [2]int{n - 1, n}), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runsOf(t, c.x, exactOpts())
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("runs %v, want %v", got, c.want)
			}
		})
	}
}

func TestDetectRunsSplitsLongRuns(t *testing.T) {
	// 25 001 active samples at 1 kHz: pieces of 10 000 samples, each next
	// piece starting one sample after the previous piece's end.
	x := square(40000, [2]int{1000, 26001})
	got := runsOf(t, x, exactOpts())
	want := []Run{{1000, 11000}, {11001, 21001}, {21002, 26001}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	// a run of exactly the maximum is kept whole
	x = square(40000, [2]int{1000, 11000})
	if got := runsOf(t, x, exactOpts()); !reflect.DeepEqual(got, []Run{{1000, 11000}}) {
		t.Errorf("runs %v", got)
	}
	// a long run reaching the last sample
	x = square(30000, [2]int{5000, 30000})
	got = runsOf(t, x, exactOpts())
	want = []Run{{5000, 15000}, {15001, 25001}, {25002, 29999}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
}

func TestDetectRunsSmoothing(t *testing.T) {
	// numpy 'same' convolution of a step with ones(100)/100: s[i] counts the
	// ones in x[i-50 .. i+49]; with factor 0.05 a sample is active when that
	// count is at least 6, i.e. from 44 samples before the step.
	x := square(5000, [2]int{2000, 3000})
	o := NewDetectOptions(1000, 0.05)
	got := runsOf(t, x, o)
	want := []Run{{2000 - 44, 3000 + 45}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	// Negative values count by magnitude.
	for i := range x {
		x[i] = -x[i]
	}
	if got := runsOf(t, x, o); !reflect.DeepEqual(got, want) {
		t.Errorf("negated: runs %v, want %v", got, want)
	}
}

func TestDetectRunsNothing(t *testing.T) {
	o := NewDetectOptions(1000, 0.1)
	if r := runsOf(t, square(99, [2]int{10, 90}), o); r != nil {
		t.Errorf("signal shorter than the smoothing window: %v", r)
	}
	if r := runsOf(t, make([]float64, 5000), o); r != nil {
		t.Errorf("zero signal: %v", r)
	}
	tiny := square(5000, [2]int{1000, 2000})
	for i := range tiny {
		tiny[i] *= 1e-10
	}
	if r := runsOf(t, tiny, o); r != nil {
		t.Errorf("signal below 1e-9: %v", r)
	}
	if r := runsOf(t, nil, o); r != nil {
		t.Errorf("empty: %v", r)
	}
}

func TestDetectOptionsErrors(t *testing.T) {
	x := square(1000, [2]int{100, 900})
	for _, o := range []DetectOptions{
		{Fs: 0, ThresholdFactor: 0.1, SmoothingWindow: 1},
		{Fs: 1000, ThresholdFactor: 0, SmoothingWindow: 1},
		{Fs: 1000, ThresholdFactor: 1.5, SmoothingWindow: 1},
		{Fs: 1000, ThresholdFactor: 0.1, SmoothingWindow: 0},
		{Fs: 1000, ThresholdFactor: 0.1, SmoothingWindow: 1, MinDurationMs: math.NaN()},
		{Fs: math.Inf(1), ThresholdFactor: 0.1, SmoothingWindow: 1},
	} {
		if _, err := DetectRuns(x, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestDescribe(t *testing.T) {
	fs := 1000.0
	amp := make([]float64, 5000)
	for i := 1000; i <= 3500; i++ {
		amp[i] = -0.5 // rectified
	}
	amp[1200] = 2
	runs := []Run{{1000, 3500}, {4000, 4100}}
	thr, dur := 1.0, 2000.0
	cs, err := Describe(runs, amp, fs, &thr, &dur)
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	wantMean := (0.5*2500 + 2) / 2501 // 2501 samples, inclusive
	if c.StartTimeMs != 1000 || c.EndTimeMs != 3500 || c.DurationMs != 2500 || c.MaxAmplitude != 2 ||
		math.Abs(c.MeanAmplitude-wantMean) > 1e-15 || !c.MeetsMVC || !c.MeetsDuration || !c.IsGood {
		t.Errorf("first contraction %+v (mean want %v)", c, wantMean)
	}
	c = cs[1]
	if c.MeetsMVC || c.MeetsDuration || c.IsGood || c.DurationMs != 100 {
		t.Errorf("second contraction %+v", c)
	}
	// Only one threshold: is_good follows it.
	cs, _ = Describe(runs[:1], amp, fs, &thr, nil)
	if !cs[0].IsGood || cs[0].MeetsDuration {
		t.Errorf("MVC only: %+v", cs[0])
	}
	big := 3.0
	cs, _ = Describe(runs[:1], amp, fs, &big, nil)
	if cs[0].IsGood {
		t.Errorf("MVC only, not met: %+v", cs[0])
	}
	cs, _ = Describe(runs[:1], amp, fs, nil, &dur)
	if !cs[0].IsGood || cs[0].MeetsMVC {
		t.Errorf("duration only: %+v", cs[0])
	}
	cs, _ = Describe(runs[:1], amp, fs, nil, nil)
	if cs[0].IsGood {
		t.Errorf("no thresholds: %+v", cs[0])
	}
	if _, err := Describe([]Run{{10, 6000}}, amp, fs, nil, nil); err == nil {
		t.Error("run beyond the signal: no error")
	}
}

func ExampleDetectRuns() {
	// 20 s at 1 kHz with two bursts 150 ms apart (merged) and a 10 ms blip, too weak once smoothed.
	x := make([]float64, 20000)
	for _, r := range [][2]int{{2000, 3000}, {3150, 4000}, {9000, 9010}} {
		for i := r[0]; i < r[1]; i++ {
			x[i] = 1
		}
	}
	runs, err := DetectRuns(x, NewDetectOptions(1000, DefaultThresholdFactor))
	if err != nil {
		panic(err)
	}
	fmt.Println(runs)
	// Output: [{1961 4040}]
}
