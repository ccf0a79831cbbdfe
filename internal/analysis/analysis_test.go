package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/emg"
)

// TestAnalyzeFileMatchesDirect checks that reading channels through the
// group loader (one or two bases per pass) gives the analysis of the
// channels read one by one.
func TestAnalyzeFileMatchesDirect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "three.c3d")
	writeSynthetic(t, path, 3, 1000, 25)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	f, err := c3d.Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	rec := emg.Recording{Rate: f.Analog.Rate}
	for i, l := range f.Analog.Labels {
		x, err := f.ReadAnalog(i)
		if err != nil {
			t.Fatal(err)
		}
		rec.Channels = append(rec.Channels, emg.Channel{Label: l, Samples: x})
	}
	direct, err := emg.Analyze(rec, emg.Params{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(direct.Analytics)
	for _, w := range []int{1, 2, 3} {
		res, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(res.Analytics)
		if !bytes.Equal(got, want) {
			t.Errorf("workers %d: file analysis differs from the direct one", w)
		}
		md := res.Metadata.(*Metadata)
		if md.ChannelCount != 6 || md.SamplesPerChannel != 25000 || md.DurationSeconds != 25 || md.SamplingRate != 1000 {
			t.Errorf("metadata %+v", md)
		}
		if n := res.Analytics["CH3"].ContractionCount; n != 3 {
			t.Errorf("CH3: %d contractions", n)
		}
	}
}

// TestAnalyzeIntFileOtherRate analyses a 16-bit integer file at 2 kHz
// without activated channels.
func TestAnalyzeIntFileOtherRate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "int.c3d")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const rate, per, seconds = 2000.0, 20, 15
	frames := int(rate / per * seconds)
	w, err := c3d.NewWriter(fh, c3d.WriterConfig{Storage: c3d.Int, Frames: frames, PointRate: rate / per, AnalogRate: rate,
		AnalogLabels: []string{"EMG L", "EMG R"}, AnalogScales: []float64{1e-6, 1e-6}})
	if err != nil {
		t.Fatal(err)
	}
	an := make([]float64, 2*per)
	k := 0
	for fr := 0; fr < frames; fr++ {
		for s := 0; s < per; s++ {
			tt := float64(k) / rate
			amp := 20e-6
			if tt >= 3 && tt < 6 || tt >= 9 && tt < 12 {
				amp = 800e-6
			}
			an[2*s] = math.Round(amp*math.Sin(2*math.Pi*97*tt)*1e6) * 1e-6
			an[2*s+1] = math.Round(amp*math.Sin(2*math.Pi*131*tt+1)*1e6) * 1e-6
			k++
		}
		if err := w.WriteFrame(nil, an); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	res, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"EMG L", "EMG R"} {
		ca := res.Analytics[b]
		if ca == nil || ca.Errors != nil || ca.ContractionCount != 2 || ca.TimingSource != b+" Processed" {
			t.Fatalf("%s: %+v", b, ca)
		}
		for i, c := range ca.Contractions {
			if start := []float64{3000, 9000}[i]; math.Abs(c.StartTimeMs-start) > 150 || math.Abs(c.DurationMs-3000) > 300 {
				t.Errorf("%s contraction %d at %.0f ms for %.0f ms", b, i, c.StartTimeMs, c.DurationMs)
			}
		}
	}
	if res.PerformanceAnalysis.LeftChannel != "EMG L" || res.PerformanceAnalysis.RightChannel != "EMG R" {
		t.Errorf("sides %q %q", res.PerformanceAnalysis.LeftChannel, res.PerformanceAnalysis.RightChannel)
	}
}

func TestAnalyzeBadFiles(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.c3d")
	os.WriteFile(junk, bytes.Repeat([]byte{0x50, 0x01}, 600), 0o644)
	if _, err := AnalyzeFile(junk, emg.Params{}, emg.Analyzer{}); err == nil {
		t.Error("junk file: no error")
	}
	if _, err := AnalyzeFile(filepath.Join(dir, "missing.c3d"), emg.Params{}, emg.Analyzer{}); err == nil {
		t.Error("missing file: no error")
	}
	// a file without analog channels
	path := filepath.Join(dir, "points.c3d")
	fh, _ := os.Create(path)
	w, err := c3d.NewWriter(fh, c3d.WriterConfig{Frames: 10, PointRate: 100, PointLabels: []string{"M"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		w.WriteFrame([]c3d.Point{{Valid: true}}, nil)
	}
	w.Close()
	fh.Close()
	if _, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{}); err == nil || !strings.Contains(err.Error(), "no analog") {
		t.Errorf("no analog channels: %v", err)
	}
	// every channel too short: the result carries the errors
	short := filepath.Join(dir, "short.c3d")
	writeSynthetic(t, short, 1, 1000, 5)
	res, err := AnalyzeFile(short, emg.Params{}, emg.Analyzer{})
	if !errors.Is(err, emg.ErrAllChannelsFailed) || res == nil || res.Analytics["CH1"].Errors == nil {
		t.Errorf("short file: %v", err)
	}
}

func TestFormatTime(t *testing.T) {
	if got := formatTime([]string{"2023", "3", "21", "17", "50"}); got != "2023-03-21 17:50" {
		t.Errorf("%q", got)
	}
	if got := formatTime([]string{"today"}); got != "today" {
		t.Errorf("%q", got)
	}
}
