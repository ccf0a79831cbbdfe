package c3d_test

import (
	"bytes"
	"errors"
	"testing"

	"emgd/c3d"
)

// seeds returns small files made by the writer, one per processor x storage.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, proc := range []c3d.Processor{c3d.Intel, c3d.DEC, c3d.MIPS} {
		for _, st := range []c3d.Storage{c3d.Int, c3d.Float} {
			cfg := c3d.WriterConfig{Processor: proc, Storage: st, Frames: 4, PointLabels: labels("M", 2), PointRate: 50,
				AnalogLabels: labels("EMG", 3), AnalogRate: 100, AnalogScales: []float64{0.01, 0.01, 0.01},
				Events: []c3d.HeaderEvent{{Label: "RHS", Time: 0.01, Display: 1}}}
			out = append(out, makeRecording(cfg).write(t))
		}
	}
	return out
}

// checkOpen opens b and, when that succeeds, reads everything it declares.
// Any failure must be a typed error; a panic fails the fuzzer.
func checkOpen(t *testing.T, b []byte) {
	f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		var fe *c3d.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	// What the file declares must be bounded by its size: the frames must
	// fit in the data section actually present, and so must the samples.
	if f.Frames > 0 && int64(f.Frames)*int64(f.FrameBytes()) > int64(len(b))-f.DataStart {
		t.Fatalf("%d frames of %d bytes declared in a data section of %d bytes", f.Frames, f.FrameBytes(), int64(len(b))-f.DataStart)
	}
	if f.Analog.Count < 0 || f.Analog.SamplesPerFrame < 0 || f.Analog.SamplesPerFrame > 0xffff || f.Duration() < 0 {
		t.Fatalf("%d channels of %d samples per frame, %v s", f.Analog.Count, f.Analog.SamplesPerFrame, f.Duration())
	}
	if f.Analog.Count > 0 && int64(f.SamplesPerChannel())*int64(f.Analog.Count) > int64(len(b)) {
		t.Fatalf("%d samples on %d channels declared in %d bytes", f.SamplesPerChannel(), f.Analog.Count, len(b))
	}
	if _, err := f.ReadAllAnalog(); err != nil {
		t.Fatalf("ReadAllAnalog after a successful Open: %v", err)
	}
	for i := 0; i < f.Point.Count && i < 4; i++ {
		if _, err := f.ReadPoint(i); err != nil {
			t.Fatalf("ReadPoint(%d): %v", i, err)
		}
	}
	_ = f.ReadFrames(func(*c3d.Frame) error { return nil })
	for _, g := range f.Params.Groups {
		for _, p := range g.Params {
			_ = p.Value()
			_ = p.Uints()
		}
	}
}

func FuzzOpen(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add(make([]byte, 1024))
	f.Fuzz(checkOpen)
}

func FuzzReadAnalog(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, 1, 0, 5)
	}
	f.Fuzz(func(t *testing.T, b []byte, ch, start, end int) {
		file, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		got, err := file.ReadAnalogRange(ch, start, end)
		if err != nil {
			if !errors.Is(err, c3d.ErrChannel) {
				t.Fatalf("ReadAnalogRange(%d, %d, %d): %v", ch, start, end, err)
			}
			return
		}
		full, err := file.ReadAnalog(ch)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != full[start+i] && v == v {
				t.Fatalf("range sample %d = %v, full read %v", i, v, full[start+i])
			}
		}
	})
}

// Hostile inputs: every one is refused with a typed error, without panic.
func TestHostileInputs(t *testing.T) {
	good := seeds(t)[1]
	mutate := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	cases := map[string]struct {
		b    []byte
		kind error
	}{
		"empty":                          {nil, c3d.ErrNotC3D},
		"random":                         {bytes.Repeat([]byte{0x5a, 0xc3, 0x11, 0x80}, 300), c3d.ErrNotC3D},
		"header only":                    {good[:512], c3d.ErrNotC3D},
		"no parameter block":             {mutate(func(b []byte) []byte { b[0] = 0; return b }), c3d.ErrNotC3D},
		"parameter block beyond the end": {mutate(func(b []byte) []byte { b[0] = 200; return b }), c3d.ErrTruncated},
		"bad processor":                  {mutate(func(b []byte) []byte { b[512+3] = 99; return b }), c3d.ErrNotC3D},
		"data start 1":                   {mutate(func(b []byte) []byte { b[16], b[17] = 1, 0; return b }), c3d.ErrCorrupt},
		"truncated data":                 {good[:len(good)-512], c3d.ErrTruncated},
		"truncated params":               {good[:700], c3d.ErrTruncated},
		"parameter type 7":               {mutate(func(b []byte) []byte { i := bytes.Index(b, []byte("USED")); b[i+6] = 7; return b }), c3d.ErrCorrupt},
		"dimensions run past the section": {mutate(func(b []byte) []byte {
			i := bytes.Index(b, []byte("LABELS"))
			b[i+9], b[i+10], b[i+11], b[i+12] = 3, 255, 255, 255 // ndim and dims after type
			return b
		}), c3d.ErrTruncated},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c3d.Open(bytes.NewReader(c.b), int64(len(c.b)))
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			var fe *c3d.FormatError
			if !errors.As(err, &fe) || fe.Msg == "" {
				t.Fatalf("error %v is not a *FormatError with a message", err)
			}
		})
	}
}

// A reader that fails mid-file gives its error back, wrapped, not a panic.
func TestReadErrorPropagates(t *testing.T) {
	good := seeds(t)[0]
	f, err := c3d.Open(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := c3d.Open(bytes.NewReader(good[:f.DataStart+4]), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ReadAnalog(0); !errors.Is(err, c3d.ErrTruncated) {
		t.Fatalf("short read: %v", err)
	}
	if _, err := f.ReadAnalog(7); !errors.Is(err, c3d.ErrChannel) {
		t.Fatalf("channel 7 of 3: %v", err)
	}
}

// An error from the ReadFrames callback stops the scan at once.
func TestReadFramesStops(t *testing.T) {
	good := seeds(t)[0]
	f, _ := c3d.Open(bytes.NewReader(good), int64(len(good)))
	stop := errors.New("enough")
	calls := 0
	err := f.ReadFrames(func(fr *c3d.Frame) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// ReadAnalogChannelsInto reuses buffers with enough capacity (whatever
// they held) and allocates the others; the samples equal ReadAnalogChannels.
func TestReadAnalogChannelsInto(t *testing.T) {
	for _, b := range seeds(t) {
		f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		chs := []int{2, 0}
		want, _ := f.ReadAnalogChannels(chs)
		n := f.SamplesPerChannel()
		big := make([]float64, n+10)
		for i := range big {
			big[i] = 99 // stale contents must be overwritten
		}
		got, err := f.ReadAnalogChannelsInto(chs, [][]float64{big, make([]float64, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if &got[0][0] != &big[0] || len(got[0]) != n {
			t.Error("a buffer with enough capacity was not reused")
		}
		for j := range want {
			for i := range want[j] {
				if got[j][i] != want[j][i] {
					t.Fatalf("channel %d sample %d: %v, want %v", chs[j], i, got[j][i], want[j][i])
				}
			}
		}
	}
}
