package analysis

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"emgd/c3d"
	"emgd/emg"
)

// writeSynthetic writes a float C3D file of bases EMG channels (raw and
// activated) at rate Hz for seconds, 3 s bursts every 10 s.
func writeSynthetic(tb testing.TB, path string, bases int, rate float64, seconds int) {
	tb.Helper()
	fh, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	var labels []string
	for b := 1; b <= bases; b++ {
		labels = append(labels, fmt.Sprintf("CH%d Raw", b))
	}
	for b := 1; b <= bases; b++ {
		labels = append(labels, fmt.Sprintf("CH%d activated", b))
	}
	pointRate := 50.0
	if math.Mod(rate, pointRate) != 0 {
		pointRate = 33 // 990 Hz GHOSTLY files: 30 samples per frame
	}
	per := int(rate / pointRate)
	frames := int(float64(seconds) * pointRate)
	w, err := c3d.NewWriter(fh, c3d.WriterConfig{Frames: frames, PointRate: pointRate, AnalogRate: rate, AnalogLabels: labels})
	if err != nil {
		tb.Fatal(err)
	}
	an := make([]float64, per*len(labels))
	k := 0
	seed := uint64(1)
	noise := func() float64 { // SplitMix64 -> uniform(-1, 1)
		seed += 0x9E3779B97F4A7C15
		z := seed
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		return float64(z>>11)/float64(1<<53)*2 - 1
	}
	for f := 0; f < frames; f++ {
		for s := 0; s < per; s++ {
			t := float64(k) / rate
			on := t >= 2 && math.Mod(t-2, 10) < 3
			for b := 0; b < bases; b++ {
				amp := 2e-6
				if on {
					amp = 4e-5
				}
				an[s*len(labels)+b] = amp * noise()
				if on {
					an[s*len(labels)+bases+b] = 1e-4
				} else {
					an[s*len(labels)+bases+b] = 0
				}
			}
			k++
		}
		if err := w.WriteFrame(nil, an); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func benchFile(b *testing.B, bases int, rate float64, seconds, workers int) {
	path := filepath.Join(b.TempDir(), "rec.c3d")
	writeSynthetic(b, path, bases, rate, seconds)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	an := emg.Analyzer{Workers: workers}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		res, err := AnalyzeFile(path, emg.Params{}, an)
		if err != nil {
			b.Fatal(err)
		}
		if res.Analytics["CH1"].ContractionCount == 0 {
			b.Fatal("no contractions")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user+system CPU time (getrusage), reported
// per operation as "cpu-ns/op" beside wall time, which other processes on a
// shared machine inflate. With several workers it is the CPU time of all.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnalyzeFileGhostly: C3D decoding plus analysis of a 175 s,
// 990 Hz file with 2 EMG and 2 activated channels.
func BenchmarkAnalyzeFileGhostly(b *testing.B) { benchFile(b, 2, 990, 175, 1) }

// BenchmarkAnalyzeFile16ch10min: a 77 MB file, 8 EMG + 8 activated channels
// at 2 kHz for 10 minutes.
func BenchmarkAnalyzeFile16ch10min(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) { benchFile(b, 8, 2000, 600, w) })
	}
}

// TestWriteLargeFile writes the 16-channel benchmark file to
// $EMGD_WRITE_LARGE_C3D, for measuring `emgd analyze` on it (memory, time).
func TestWriteLargeFile(t *testing.T) {
	path := os.Getenv("EMGD_WRITE_LARGE_C3D")
	if path == "" {
		t.Skip("set EMGD_WRITE_LARGE_C3D to a path to write the 16-channel, 10-minute benchmark file")
	}
	writeSynthetic(t, path, 8, 2000, 600)
}
