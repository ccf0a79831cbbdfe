package c3d_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"emgd/c3d"
)

// synth returns a deterministic value for channel ch at sample k that an
// integer file with scale 0.01 and the given offset stores exactly.
func synth(ch, k int) float64 {
	return float64((ch*7919+k*104729)%20001-10000) * 0.01
}

type recording struct {
	cfg    c3d.WriterConfig
	points [][]c3d.Point // [frame][point]
	analog [][]float64   // [channel][sample]
}

func makeRecording(cfg c3d.WriterConfig) recording {
	if cfg.PointRate == 0 {
		cfg.PointRate = cfg.AnalogRate
	}
	if cfg.Processor == 0 {
		cfg.Processor = c3d.Intel
	}
	if cfg.Storage == 0 {
		cfg.Storage = c3d.Float
	}
	rec := recording{cfg: cfg}
	spf := 0
	if len(cfg.AnalogLabels) > 0 {
		spf = int(cfg.AnalogRate / cfg.PointRate)
	}
	rec.analog = make([][]float64, len(cfg.AnalogLabels))
	for ch := range rec.analog {
		rec.analog[ch] = make([]float64, cfg.Frames*spf)
		for k := range rec.analog[ch] {
			rec.analog[ch][k] = synth(ch, k)
		}
	}
	rec.points = make([][]c3d.Point, cfg.Frames)
	for f := range rec.points {
		rec.points[f] = make([]c3d.Point, len(cfg.PointLabels))
		for i := range rec.points[f] {
			if (f+i)%5 == 0 {
				rec.points[f][i] = c3d.Point{Residual: -1}
				continue
			}
			rec.points[f][i] = c3d.Point{X: float64(f%300) * 0.5, Y: -float64(i) * 1.5, Z: 100 + float64(f%7), Residual: 1, Cameras: uint8(i % 3), Valid: true}
		}
	}
	return rec
}

func (rec recording) write(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, rec.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := len(rec.analog)
	spf := 0
	if n > 0 {
		spf = len(rec.analog[0]) / max(rec.cfg.Frames, 1)
	}
	frame := make([]float64, n*spf)
	for f := 0; f < rec.cfg.Frames; f++ {
		for s := 0; s < spf; s++ {
			for ch := 0; ch < n; ch++ {
				frame[s*n+ch] = rec.analog[ch][f*spf+s]
			}
		}
		if err := w.WriteFrame(rec.points[f], frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openBytes(t testing.TB, b []byte) *c3d.File {
	t.Helper()
	f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func labels(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func checkRoundTrip(t *testing.T, rec recording, b []byte) *c3d.File {
	t.Helper()
	f := openBytes(t, b)
	cfg := rec.cfg
	if f.Processor != cfg.Processor || f.Storage != cfg.Storage {
		t.Errorf("processor %v storage %v, want %v %v", f.Processor, f.Storage, cfg.Processor, cfg.Storage)
	}
	if f.Frames != cfg.Frames || f.Analog.Count != len(cfg.AnalogLabels) || f.Point.Count != len(cfg.PointLabels) {
		t.Fatalf("frames %d analog %d points %d, want %d %d %d", f.Frames, f.Analog.Count, f.Point.Count, cfg.Frames, len(cfg.AnalogLabels), len(cfg.PointLabels))
	}
	if f.Analog.Rate != cfg.AnalogRate && len(cfg.AnalogLabels) > 0 {
		t.Errorf("analog rate %g, want %g", f.Analog.Rate, cfg.AnalogRate)
	}
	if len(f.Warnings) > 0 {
		t.Errorf("warnings on a file the writer made: %q", f.Warnings)
	}
	for i, l := range cfg.AnalogLabels {
		if f.Analog.Labels[i] != l {
			t.Fatalf("analog label %d = %q, want %q", i, f.Analog.Labels[i], l)
		}
	}
	for i, l := range cfg.PointLabels {
		if f.Point.Labels[i] != l {
			t.Fatalf("point label %d = %q, want %q", i, f.Point.Labels[i], l)
		}
	}
	all, err := f.ReadAllAnalog()
	if err != nil {
		t.Fatal(err)
	}
	tol := 1e-6 // scales and float samples are stored as float32
	for ch := range rec.analog {
		for k, want := range rec.analog[ch] {
			if math.Abs(all[ch][k]-want) > tol*math.Max(1, math.Abs(want)) {
				t.Fatalf("channel %d sample %d = %v, want %v", ch, k, all[ch][k], want)
			}
		}
	}
	for i := range cfg.PointLabels {
		pts, err := f.ReadPoint(i)
		if err != nil {
			t.Fatal(err)
		}
		for fr, p := range pts {
			want := rec.points[fr][i]
			if p.Valid != want.Valid {
				t.Fatalf("point %d frame %d valid %v, want %v", i, fr, p.Valid, want.Valid)
			}
			if want.Valid && (math.Abs(p.X-want.X) > 1e-4 || math.Abs(p.Y-want.Y) > 1e-4 || math.Abs(p.Z-want.Z) > 1e-4 || p.Cameras != want.Cameras) {
				t.Fatalf("point %d frame %d = %+v, want %+v", i, fr, p, want)
			}
		}
	}
	return f
}

func TestRoundTripProcessorsAndStorage(t *testing.T) {
	for _, proc := range []c3d.Processor{c3d.Intel, c3d.DEC, c3d.MIPS} {
		for _, st := range []c3d.Storage{c3d.Int, c3d.Float} {
			for _, unsigned := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v-%v-unsigned=%v", proc, st, unsigned), func(t *testing.T) {
					offset := 0.0
					if unsigned {
						offset = 40000 // above 32767: must survive as uint16
					}
					cfg := c3d.WriterConfig{
						Processor: proc, Storage: st, Frames: 50, FirstFrame: 3,
						PointLabels: labels("M", 3), PointRate: 100, PointScale: 0.01,
						AnalogLabels: labels("EMG", 5), AnalogRate: 1000, AnalogUnsigned: unsigned,
						AnalogScales:  []float64{0.01, 0.01, 0.01, 0.01, 0.01},
						AnalogOffsets: []float64{offset, offset, offset, offset, offset},
						Events:        []c3d.HeaderEvent{{Label: "RHS ", Time: 0.25, Display: 1}},
						Groups: []*c3d.Group{{Name: "INFO", Params: []*c3d.Parameter{
							c3d.NewStrings("GAME_NAME", "", "Ghostly"),
							c3d.NewInts("LEVEL", "", []int{2}),
						}}},
					}
					rec := makeRecording(cfg)
					f := checkRoundTrip(t, rec, rec.write(t))
					if f.Analog.Unsigned != unsigned || f.Analog.Offsets[0] != offset {
						t.Errorf("unsigned %v offset %v", f.Analog.Unsigned, f.Analog.Offsets[0])
					}
					if len(f.Header.Events) != 1 || f.Header.Events[0].Label != "RHS " || f.Header.Events[0].Time != 0.25 {
						t.Errorf("header events %+v", f.Header.Events)
					}
					if f.Header.FirstFrame != 3 || f.Header.LastFrame != 52 {
						t.Errorf("header frames %d-%d", f.Header.FirstFrame, f.Header.LastFrame)
					}
					if p := f.Params.Param("INFO", "GAME_NAME"); p == nil || p.String() != "Ghostly" {
						t.Errorf("INFO:GAME_NAME = %v", p)
					}
				})
			}
		}
	}
}

func TestRoundTripManyChannels(t *testing.T) {
	cfg := c3d.WriterConfig{Storage: c3d.Int, Frames: 20, PointLabels: labels("P", 300), PointRate: 50,
		AnalogLabels: labels("CH", 600), AnalogRate: 100, AnalogScales: make([]float64, 600)}
	for i := range cfg.AnalogScales {
		cfg.AnalogScales[i] = 0.01
	}
	rec := makeRecording(cfg)
	b := rec.write(t)
	f := checkRoundTrip(t, rec, b)
	if f.Params.Param("ANALOG", "LABELS3") == nil || f.Params.Param("ANALOG", "SCALE3") == nil || f.Params.Param("POINT", "LABELS2") == nil {
		t.Error("continuation parameters LABELS3/SCALE3/POINT:LABELS2 not written")
	}
}

func TestRoundTripLongRecording(t *testing.T) {
	const frames = 70000
	cfg := c3d.WriterConfig{Storage: c3d.Int, Frames: frames, AnalogLabels: []string{"EMG"}, AnalogRate: 2000, AnalogScales: []float64{0.01}}
	rec := makeRecording(cfg)
	b := rec.write(t)
	checkRoundTrip(t, rec, b)

	// A file whose only counts are 16-bit and wrapped (70000 - 65536): the
	// file size tells the true count.
	w := bytes.Clone(b)
	for _, from := range []string{"LONG_FRAMES", "ACTUAL_END_FIELD"} {
		i := bytes.Index(w, []byte(from))
		w[i+len(from)-1] = 'X'
	}
	i := bytes.Index(w, []byte("\x06\x01FRAMES"))
	if i < 0 {
		t.Fatal("POINT:FRAMES not found")
	}
	// type, ndim, value follow the name and the offset word.
	putF32le(w[i+8+2+2:], frames-65536)
	w[8], w[9] = byte((frames-65536)&0xff), byte((frames-65536)>>8) // header last frame
	f := openBytes(t, w)
	if f.Frames != frames || len(f.Warnings) == 0 {
		t.Errorf("wrapped counts: %d frames, warnings %q", f.Frames, f.Warnings)
	}
}

func putF32le(b []byte, v float32) {
	u := math.Float32bits(v)
	b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
}

func TestZeroFrameCountRecovered(t *testing.T) {
	cfg := c3d.WriterConfig{Frames: 37, AnalogLabels: labels("CH", 2), AnalogRate: 990, PointRate: 33, PointLabels: []string{"PlayerPosition"}}
	rec := makeRecording(cfg)
	b := rec.write(t)
	// Header last frame and POINT:FRAMES set to 0, as some recorders leave them.
	b[8], b[9] = 0, 0
	i := bytes.Index(b, []byte("\x06\x01FRAMES"))
	b[i+12], b[i+13] = 0, 0
	f := openBytes(t, b)
	if f.Frames != 37 {
		t.Fatalf("recovered %d frames, want 37", f.Frames)
	}
	if len(f.Warnings) != 1 {
		t.Errorf("want one warning saying what was recovered, got %q", f.Warnings)
	}
	got, err := f.ReadAnalog(1)
	if err != nil || got[len(got)-1] != float64(float32(rec.analog[1][len(got)-1])) {
		t.Errorf("last sample %v (%v)", got[len(got)-1], err)
	}
}

func TestZeroPaddingNotCountedAsFrames(t *testing.T) {
	// 3 frames of 8 bytes: the rest of the last block is zero padding.
	cfg := c3d.WriterConfig{Frames: 3, AnalogLabels: labels("CH", 2), AnalogRate: 100}
	rec := makeRecording(cfg)
	b := rec.write(t)
	b[8], b[9] = 0, 0
	i := bytes.Index(b, []byte("\x06\x01FRAMES"))
	b[i+12], b[i+13] = 0, 0
	f := openBytes(t, b)
	if f.Frames != 3 {
		t.Errorf("%d frames, want 3 (padding is not data)", f.Frames)
	}
}

func TestTruncatedDataSection(t *testing.T) {
	cfg := c3d.WriterConfig{Frames: 400, AnalogLabels: labels("CH", 4), AnalogRate: 100}
	b := makeRecording(cfg).write(t)
	_, err := c3d.Open(bytes.NewReader(b[:len(b)-2048]), int64(len(b)-2048))
	if !errors.Is(err, c3d.ErrTruncated) {
		t.Fatalf("got %v, want ErrTruncated", err)
	}
}

func TestWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	for name, cfg := range map[string]c3d.WriterConfig{
		"rate not a multiple": {Frames: 1, AnalogLabels: []string{"A"}, AnalogRate: 150, PointRate: 100},
		"no rate":             {Frames: 1},
		"offset":              {Frames: 1, AnalogLabels: []string{"A"}, AnalogRate: 100, AnalogOffsets: []float64{70000}},
		"events":              {Frames: 1, AnalogLabels: []string{"A"}, AnalogRate: 100, Events: make([]c3d.HeaderEvent, 19)},
	} {
		if _, err := c3d.NewWriter(&buf, cfg); !errors.Is(err, c3d.ErrWriter) {
			t.Errorf("%s: got %v, want ErrWriter", name, err)
		}
	}
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Storage: c3d.Int, Frames: 2, AnalogLabels: []string{"A"}, AnalogRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(nil, []float64{1e6}); !errors.Is(err, c3d.ErrWriter) {
		t.Errorf("out-of-range integer sample: %v", err)
	}
	w, _ = c3d.NewWriter(&buf, c3d.WriterConfig{Frames: 2, AnalogLabels: []string{"A"}, AnalogRate: 100})
	if err := w.WriteFrame(nil, []float64{1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, c3d.ErrWriter) {
		t.Errorf("closing after 1 of 2 frames: %v", err)
	}
}

// A present but invalid ANALOG:RATE is reported as invalid, not absent,
// and the rate is derived from the frame rate.
func TestInvalidAnalogRateWarning(t *testing.T) {
	cfg := c3d.WriterConfig{Frames: 5, AnalogLabels: []string{"A"}, AnalogRate: 200, PointRate: 100}
	b := makeRecording(cfg).write(t)
	i := bytes.Index(b, []byte("\x04\x02RATE"))
	if i < 0 {
		t.Fatal("ANALOG:RATE not found")
	}
	putF32le(b[i+6+2+2:], -5) // name length, group id, name, offset; then type and ndim
	f := openBytes(t, b)
	if f.Analog.Rate != 200 || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "-5 is not a valid rate") {
		t.Errorf("rate %v, warnings %q", f.Analog.Rate, f.Warnings)
	}
}
