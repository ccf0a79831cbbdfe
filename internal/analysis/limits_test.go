package analysis

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/testrec"
)

// sparse is a file of size bytes whose first bytes are head and the rest
// zeros, as a sparse file reads, without holding them.
type sparse struct {
	head []byte
	size int64
}

func (s sparse) ReadAt(b []byte, off int64) (int, error) {
	clear(b)
	if off < int64(len(s.head)) {
		copy(b, s.head[off:])
	}
	return len(b), nil
}

// sparseRecording returns the header and parameters of a float file that
// declares samples per channel on two channels at 2 kHz, and the size of
// the file that holds them.
func sparseRecording(t *testing.T, samples int) sparse {
	t.Helper()
	const spf = 20
	frames := samples / spf
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, PointRate: 100, AnalogLabels: []string{"CH1 Raw", "CH2 Raw"}, AnalogRate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]float64, 2*spf)
	for buf.Len() == 0 { // until the writer's buffer flushes the head
		if err := w.WriteFrame(nil, zero); err != nil {
			t.Fatal(err)
		}
	}
	head := buf.Bytes()
	dataStart := (int(head[16]) | int(head[17])<<8 - 1) * 512
	return sparse{head: head[:dataStart], size: int64(dataStart) + int64(frames)*2*spf*4}
}

func withLimits(t *testing.T, l Limits) {
	prev := limits.Load()
	SetLimits(l)
	t.Cleanup(func() { limits.Store(prev) })
}

// A file declaring more samples per channel than the limit, and holding
// them (sparse), fails with a *LimitError before any sample is allocated.
func TestAnalyzeRefusesOverTheLimitBeforeAllocating(t *testing.T) {
	withLimits(t, Limits{})
	f := sparseRecording(t, 150_000_000) // 1.2 GB of samples, 2.4 GB decoded
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Analyze(f, f.size, "sparse.c3d", emg.Params{}, emg.Analyzer{})
	runtime.ReadMemStats(&after)
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrOverLimit) {
		t.Fatalf("error %v, want a *LimitError", err)
	}
	if le.Samples != 150_000_000 || le.Limit != DefaultMaxSamplesPerChannel || !strings.Contains(err.Error(), "--max-samples-per-channel") {
		t.Errorf("error %q (%+v)", err, le)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("allocated %d bytes before refusing", got)
	}
}

// The limit is configuration: a file exactly at the limit is analysed, one
// sample per channel more is not.
func TestLimitsAreConfiguration(t *testing.T) {
	rec := testrec.Ghostly(testrec.Options{Seconds: 15})
	f, err := c3d.Open(bytes.NewReader(rec), int64(len(rec)))
	if err != nil {
		t.Fatal(err)
	}
	n := f.SamplesPerChannel()
	withLimits(t, Limits{MaxSamplesPerChannel: n})
	if _, err := Analyze(bytes.NewReader(rec), int64(len(rec)), "at.c3d", emg.Params{}, emg.Analyzer{}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	SetLimits(Limits{MaxSamplesPerChannel: n - 1})
	if _, err := Analyze(bytes.NewReader(rec), int64(len(rec)), "over.c3d", emg.Params{}, emg.Analyzer{}); !errors.Is(err, ErrOverLimit) {
		t.Errorf("one sample over the limit: %v, want ErrOverLimit", err)
	}
	if CheckLimits(f) == nil {
		t.Error("CheckLimits accepts a file over the limit")
	}
	SetLimits(Limits{})
	if got := CurrentLimits().MaxSamplesPerChannel; got != DefaultMaxSamplesPerChannel {
		t.Errorf("zero limit: %d, want the default", got)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.n.Add(int64(n))
	return n, err
}

// A file of many short channels is read in a few passes, not one per pair
// of bases (400 channels of 1,000 samples: 200 passes before).
func TestManyShortChannelsReadInFewPasses(t *testing.T) {
	const nch, spf, frames = 400, 10, 100
	labels := make([]string, nch)
	for i := range labels {
		labels[i] = fmt.Sprintf("C%d", i)
	}
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, PointRate: 100, AnalogLabels: labels, AnalogRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	fr := make([]float64, nch*spf)
	for i := 0; i < frames; i++ {
		for k := range fr {
			fr[k] = float64(k%7) * 1e-5
		}
		if err := w.WriteFrame(nil, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 4} {
		cr := &countingReader{r: bytes.NewReader(buf.Bytes())}
		res, err := Analyze(cr, int64(buf.Len()), "wide.c3d", emg.Params{Profile: "standard"}, emg.Analyzer{Workers: workers})
		if res == nil || len(res.Analytics) != nch {
			t.Fatalf("workers %d: %v", workers, err)
		}
		if got := cr.n.Load(); got > 3*int64(buf.Len()) {
			t.Errorf("workers %d: read %d bytes of a %d-byte file", workers, got, buf.Len())
		}
	}
}
