package emg

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time. Benchmarks report it
// per operation ("cpu-ns/op") beside wall time, which other processes on a
// shared machine inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU runs b's loop body via f and reports CPU time per op.
func reportCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// synthEMG returns a raw EMG-like signal (noise floor plus a 3 s burst every
// 10 s, starting 2 s in) and its activated channel (the burst envelope
// with a little noise), n samples at fs.
func synthEMG(fs float64, n int, seed uint64) (raw, act []float64) {
	g1 := gauss(seed, n)
	g2 := gauss(seed+1, n)
	raw = make([]float64, n)
	act = make([]float64, n)
	period, on := int(10*fs), int(3*fs)
	for i := range raw {
		k := (i - int(2*fs)) % period
		amp := 0.0
		if i >= int(2*fs) && k < on {
			amp = 1
		}
		raw[i] = 2e-6*g1[i] + 4e-5*amp*g2[i]
		act[i] = 1e-4*amp + 1e-7*g1[i]
	}
	return raw, act
}

// synthRecording builds bases CH1..CHn with Raw and activated channels.
func synthRecording(fs, seconds float64, bases int) Recording {
	n := int(fs * seconds)
	rec := Recording{Rate: fs}
	var acts []Channel
	for b := 1; b <= bases; b++ {
		raw, act := synthEMG(fs, n, uint64(100*b))
		rec.Channels = append(rec.Channels, Channel{Label: fmt.Sprintf("CH%d Raw", b), Samples: raw})
		acts = append(acts, Channel{Label: fmt.Sprintf("CH%d activated", b), Samples: act})
	}
	rec.Channels = append(rec.Channels, acts...)
	return rec
}

func benchAnalyze(b *testing.B, rec Recording, workers int, p Params) {
	a := Analyzer{Workers: workers}
	if _, err := a.Analyze(rec, p); err != nil { // warm the buffer pool
		b.Fatal(err)
	}
	reportCPU(b, func() {
		if _, err := a.Analyze(rec, p); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkAnalyzeGhostly: a GHOSTLY-like recording, 175 s at 990 Hz,
// 2 EMG + 2 activated channels.
func BenchmarkAnalyzeGhostly(b *testing.B) {
	benchAnalyze(b, synthRecording(990, 175, 2), 1, Params{})
}

// BenchmarkAnalyze16ch10min: 8 EMG + 8 activated channels at 2 kHz for 10
// minutes, one worker and two.
func BenchmarkAnalyze16ch10min(b *testing.B) {
	rec := synthRecording(2000, 600, 8)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchAnalyze(b, rec, w, Params{}) })
	}
}

func BenchmarkAnalyzeGhostlyStandard(b *testing.B) {
	benchAnalyze(b, synthRecording(990, 175, 2), 1, Params{Profile: "standard"})
}

func BenchmarkWelch256(b *testing.B) {
	x := gauss(1, 990)
	w, _ := NewWelch(990, 256)
	reportCPU(b, func() {
		if _, err := w.PSD(x); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkRealFFT256(b *testing.B) {
	x := gauss(1, 256)
	r := NewRealFFT(256)
	dst := make([]complex128, 129)
	reportCPU(b, func() { r.Forward(dst, x) })
}

func BenchmarkProcessedEnvelope(b *testing.B) {
	raw, _ := synthEMG(990, int(175*990), 1)
	ef, _ := newEnvelopeFilters(990)
	dst := make([]float64, len(raw))
	buf := make([]float64, len(raw)+2*ef.padlen())
	reportCPU(b, func() {
		if err := ef.envelope(dst, raw, buf); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkProcessedEnvelopeTwo: the envelopes of two 175 s channels at
// 990 Hz, one after the other (single) and with the filters interleaved
// (pair), as one worker runs them.
func BenchmarkProcessedEnvelopeTwo(b *testing.B) {
	raw, _ := synthEMG(990, int(175*990), 1)
	raw2, _ := synthEMG(990, int(175*990), 2)
	ef, _ := newEnvelopeFilters(990)
	dst, dst2 := make([]float64, len(raw)), make([]float64, len(raw))
	buf, buf2 := make([]float64, len(raw)+2*ef.padlen()), make([]float64, len(raw)+2*ef.padlen())
	b.Run("single", func(b *testing.B) {
		reportCPU(b, func() {
			if ef.envelope(dst, raw, buf) != nil || ef.envelope(dst2, raw2, buf2) != nil {
				b.Fatal("envelope")
			}
		})
	})
	b.Run("pair", func(b *testing.B) {
		reportCPU(b, func() {
			if ef.envelopePair(dst, dst2, raw, raw2, buf, buf2) != nil {
				b.Fatal("envelope")
			}
		})
	})
}
