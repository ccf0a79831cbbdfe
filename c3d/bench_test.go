package c3d_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"emgd/c3d"
	"emgd/internal/testenv"
)

var (
	bigOnce sync.Once
	bigPath string
	bigErr  error
)

// bigGhostlyFile writes (once per test binary) a 45 MB recording with the
// GHOSTLY layout: Intel float, 1 point at 33 Hz, 4 analog channels at 990 Hz.
func bigGhostlyFile(b *testing.B) string {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "emgd-c3d-bench")
		if err != nil {
			bigErr = err
			return
		}
		bigPath = filepath.Join(dir, "big.c3d")
		fh, err := os.Create(bigPath)
		if err != nil {
			bigErr = err
			return
		}
		defer fh.Close()
		const frames = 45 << 20 / 496
		w, err := c3d.NewWriter(fh, c3d.WriterConfig{Frames: frames, PointRate: 33, PointLabels: []string{"PlayerPosition"},
			AnalogLabels: []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated"}, AnalogRate: 990})
		if err != nil {
			bigErr = err
			return
		}
		an := make([]float64, 120)
		pts := []c3d.Point{{X: 1, Y: 2, Z: 3, Valid: true}}
		for f := 0; f < frames; f++ {
			for k := range an {
				an[k] = float64((f*120+k)%977) * 1e-6
			}
			if bigErr = w.WriteFrame(pts, an); bigErr != nil {
				return
			}
		}
		bigErr = w.Close()
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return bigPath
}

func benchOpen(b *testing.B, path string) {
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c3d.Open(fh, st.Size()); err != nil {
			b.Fatal(err)
		}
	}
}

// Metadata (header + parameters) of a real 3 MB GHOSTLY recording.
func BenchmarkOpenGhostly3MB(b *testing.B) {
	benchOpen(b, testenv.Testdata(b, "ghostly", "Ghostly_Emg_20230321_17-50-17-0881.c3d"))
}

// Metadata of a 45 MB recording: the cost must not grow with the file.
func BenchmarkOpenGenerated45MB(b *testing.B) {
	benchOpen(b, bigGhostlyFile(b))
}

func loadBig(b *testing.B) (*c3d.File, int64) {
	data, err := os.ReadFile(bigGhostlyFile(b))
	if err != nil {
		b.Fatal(err)
	}
	f, err := c3d.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	return f, int64(len(data))
}

// Full decode of every analog channel of a float file held in memory;
// throughput is in MB of file per second.
func BenchmarkReadAllAnalogFloat(b *testing.B) {
	f, size := loadBig(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadAllAnalog(); err != nil {
			b.Fatal(err)
		}
	}
}

// One channel of the same file: one pass, decoding only that channel.
func BenchmarkReadOneChannelFloat(b *testing.B) {
	f, size := loadBig(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadAnalog(0); err != nil {
			b.Fatal(err)
		}
	}
}

// Full decode of an integer file (DEC, for the slowest path).
func BenchmarkReadAllAnalogIntDEC(b *testing.B) {
	cfg := c3d.WriterConfig{Processor: c3d.DEC, Storage: c3d.Int, Frames: 20000, PointRate: 100,
		AnalogLabels: labels("CH", 16), AnalogRate: 1000, AnalogScales: make([]float64, 16)}
	for i := range cfg.AnalogScales {
		cfg.AnalogScales[i] = 0.01
	}
	data := makeRecording(cfg).write(b)
	f := openBytes(b, data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadAllAnalog(); err != nil {
			b.Fatal(err)
		}
	}
}

// Baseline for the decode figures, measured in the same run: reading the
// same file's bytes through the same io.ReaderAt in 1 MiB chunks without
// decoding anything.
func BenchmarkBaselineReadBytes(b *testing.B) {
	data, err := os.ReadFile(bigGhostlyFile(b))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(data)
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for off := int64(0); off < int64(len(data)); off += int64(len(buf)) {
			r.ReadAt(buf, off)
		}
	}
}
