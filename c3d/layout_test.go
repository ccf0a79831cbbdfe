package c3d_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"emgd/c3d"
)

// paramData returns the offset of the data of parameter name in group gid
// (1 POINT, 2 ANALOG, as the writer numbers them) of an Intel file.
func paramData(t *testing.T, b []byte, gid int, name string) int {
	t.Helper()
	i := bytes.Index(b, append([]byte{byte(len(name)), byte(gid)}, name...))
	if i < 0 {
		t.Fatalf("parameter %d:%s not found", gid, name)
	}
	typ := i + 2 + len(name) + 2 // after name length, group id, name, offset
	return typ + 2 + int(b[typ+1])
}

// renameParam makes parameter name of group gid unknown to the reader.
func renameParam(t *testing.T, b []byte, gid int, name string) {
	t.Helper()
	i := bytes.Index(b, append([]byte{byte(len(name)), byte(gid)}, name...))
	if i < 0 {
		t.Fatalf("parameter %d:%s not found", gid, name)
	}
	b[i+2+len(name)-1] = 'Z'
}

func putU16(b []byte, v int)      { binary.LittleEndian.PutUint16(b, uint16(v)) }
func putWord(b []byte, w, v int)  { putU16(b[(w-1)*2:], v) }
func getWord(b []byte, w int) int { return int(binary.LittleEndian.Uint16(b[(w-1)*2:])) }

// Each of Open's layout rules, on a file the writer made and then broke the
// way files in the wild are broken: what is read, and that it is reported.
func TestOpenLayoutRules(t *testing.T) {
	base := c3d.WriterConfig{Storage: c3d.Int, Frames: 4, PointLabels: labels("M", 1), PointRate: 50, PointScale: 0.1,
		AnalogLabels: labels("EMG", 3), AnalogRate: 100}
	type want struct {
		err           error
		dataStart     int64
		pointRate     float64
		pointScale    float64
		channels, spf int
		analogRate    float64
		warnings      []string
	}
	cases := []struct {
		name   string
		cfg    *c3d.WriterConfig
		break_ func(t *testing.T, b []byte)
		want   func(w want) want
	}{
		{"data start from POINT:DATA_START", nil, func(t *testing.T, b []byte) { putWord(b, 9, 0) },
			func(w want) want { return w }},
		{"data start nowhere", nil, func(t *testing.T, b []byte) { putWord(b, 9, 0); renameParam(t, b, 1, "DATA_START") },
			func(w want) want { w.err = c3d.ErrCorrupt; return w }},
		{"POINT:RATE not a rate", nil, func(t *testing.T, b []byte) { putF32le(b[paramData(t, b, 1, "RATE"):], -1) },
			func(w want) want {
				w.warnings = []string{"POINT:RATE -1 is not a valid rate; using the header frame rate 50"}
				return w
			}},
		{"POINT:SCALE 0 for integer points", nil, func(t *testing.T, b []byte) { putF32le(b[paramData(t, b, 1, "SCALE"):], 0) },
			func(w want) want { w.warnings = []string{"POINT:SCALE is 0; using the header scale 0.1"}; return w }},
		{"samples per frame 0 and ANALOG:RATE absent", nil, func(t *testing.T, b []byte) {
			putWord(b, 10, 0)
			renameParam(t, b, 2, "RATE")
		}, func(w want) want {
			w.warnings = []string{"header word 10 (analog samples per frame) is 0; using 2",
				"ANALOG:RATE is absent; analog rate derived as 2 samples per frame x 50 Hz = 100 Hz"}
			return w
		}},
		// ANALOG:RATE over a tiny POINT:RATE is no count header word 10
		// could hold: word 3 over ANALOG:USED decides.
		{"samples per frame 0 and a rate ratio beyond 16 bits", nil, func(t *testing.T, b []byte) {
			putWord(b, 10, 0)
			putF32le(b[paramData(t, b, 1, "RATE"):], 1e-30)
		}, func(w want) want {
			w.pointRate = float64(float32(1e-30))
			w.warnings = []string{"header word 10 (analog samples per frame) is 0; using 2"}
			return w
		}},
		// With 2 channels, 2 x int(1e32) wrapped to 0 = word 3 once let
		// through a negative samples per frame.
		{"samples per frame 0, a rate ratio beyond 16 bits and no analog words",
			&c3d.WriterConfig{Frames: 3, PointRate: 50, AnalogLabels: labels("EMG", 2), AnalogRate: 100}, func(t *testing.T, b []byte) {
				putWord(b, 10, 0)
				putWord(b, 3, 0)
				putF32le(b[paramData(t, b, 1, "RATE"):], 1e-30)
			}, func(w want) want {
				w.pointRate = float64(float32(1e-30))
				w.channels, w.spf = 0, 0
				return w
			}},
		{"ANALOG:USED below the channels in the data", nil, func(t *testing.T, b []byte) { putU16(b[paramData(t, b, 2, "USED"):], 2) },
			func(w want) want {
				w.channels = 2
				w.warnings = []string{"ANALOG:USED is 2 but the data hold 3 channels per sample; the first 2 are read"}
				return w
			}},
		{"ANALOG:USED above the channels in the data", nil, func(t *testing.T, b []byte) { putU16(b[paramData(t, b, 2, "USED"):], 5) },
			func(w want) want {
				w.warnings = []string{"ANALOG:USED is 5 but the header gives 6 analog words per frame (3 channels); 3 channels are read"}
				return w
			}},
		{"analog words not whole samples", nil, func(t *testing.T, b []byte) { putWord(b, 3, 5) },
			func(w want) want { w.err = c3d.ErrCorrupt; return w }},
		// 2 channels x 40000 samples per frame = 80000 words: header word 3
		// holds 80000 & 0xffff; the parameters lay out the data.
		{"analog words wrapped at 16 bits", &c3d.WriterConfig{Frames: 1, PointRate: 1, AnalogLabels: labels("EMG", 2), AnalogRate: 40000},
			func(t *testing.T, b []byte) {
				if w := getWord(b, 3); w != 80000&0xffff {
					t.Fatalf("header word 3 is %d; the case needs the wrapped count", w)
				}
			}, func(w want) want {
				w.channels, w.spf = 2, 40000 // as the parameters say
				return w
			}},
		{"frame layout too large", nil, func(t *testing.T, b []byte) {
			// 65535 channels x 65535 samples per frame, word 3 wrapped to 1.
			putU16(b[paramData(t, b, 2, "USED"):], 65535)
			putWord(b, 10, 65535)
			putWord(b, 3, 65535*65535&0xffff)
		}, func(w want) want { w.err = c3d.ErrCorrupt; return w }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			if c.cfg != nil {
				cfg = *c.cfg
			}
			b := makeRecording(cfg).write(t)
			orig := openBytes(t, bytes.Clone(b))
			c.break_(t, b)
			// What the unbroken file says, changed as the case expects.
			w := c.want(want{dataStart: orig.DataStart, pointRate: orig.Point.Rate, pointScale: orig.Point.Scale,
				channels: orig.Analog.Count, spf: orig.Analog.SamplesPerFrame, analogRate: orig.Analog.Rate})
			f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
			if w.err != nil {
				if !errors.Is(err, w.err) {
					t.Fatalf("got %v, want %v", err, w.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.DataStart != w.dataStart || f.Point.Rate != w.pointRate || f.Point.Scale != w.pointScale ||
				f.Analog.Count != w.channels || f.Analog.SamplesPerFrame != w.spf || f.Analog.Rate != w.analogRate {
				t.Errorf("data start %d, point rate %v scale %v, %d channels x %d samples per frame at %v Hz; want %+v",
					f.DataStart, f.Point.Rate, f.Point.Scale, f.Analog.Count, f.Analog.SamplesPerFrame, f.Analog.Rate, w)
			}
			if !slices.Equal(f.Warnings, w.warnings) {
				t.Errorf("warnings %q, want %q", f.Warnings, w.warnings)
			}
			// The layout decided reads the samples the writer wrote.
			for ch := 0; ch < f.Analog.Count; ch++ {
				got, err := f.ReadAnalog(ch)
				if err != nil {
					t.Fatal(err)
				}
				want, err := orig.ReadAnalog(ch)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("channel %d: %d samples, want the %d written", ch, len(got), len(want))
				}
			}
		})
	}
}
