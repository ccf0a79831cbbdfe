package c3d

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
)

// WriterConfig describes the file a Writer produces.
type WriterConfig struct {
	Processor Processor // Intel (default), DEC or MIPS
	Storage   Storage   // Float (default) or Int

	Frames     int // number of frames that will be written (may exceed 65535)
	FirstFrame int // header first frame (default 1)

	PointLabels       []string
	PointDescriptions []string
	PointUnits        string  // default "mm"
	PointRate         float64 // frames per second; default AnalogRate
	// PointScale is the coordinate step of integer storage (default 0.1);
	// for float storage it is written as a negative header scale.
	PointScale float64

	AnalogLabels       []string
	AnalogDescriptions []string
	AnalogUnits        []string
	AnalogRate         float64   // an integer multiple of PointRate
	AnalogScales       []float64 // per channel, default 1
	AnalogOffsets      []float64 // per channel, default 0
	AnalogGenScale     float64   // default 1
	// AnalogUnsigned writes ANALOG:FORMAT UNSIGNED: integer samples and
	// offsets stored as uint16.
	AnalogUnsigned bool

	Events []HeaderEvent // at most 18
	// Groups are written after POINT, ANALOG and TRIAL, as given (INFO,
	// SUBJECTS, EVENT, ...). Group IDs are assigned by the writer.
	Groups []*Group
}

// Writer writes a C3D file frame by frame.
type Writer struct {
	cfg       WriterConfig
	bw        *bufio.Writer
	c         codec
	spf       int
	nch       int
	written   int
	frame     []byte
	dataBytes int64
	analogMul []float64
	scale     float64
	err       error
}

// ErrWriter is returned for configurations and values a C3D file cannot hold.
var ErrWriter = errors.New("c3d: cannot write")

func werrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrWriter}, args...)...)
}

// NewWriter validates cfg and writes the header and parameter section to w.
// Write exactly cfg.Frames frames with WriteFrame, then Close.
func NewWriter(w io.Writer, cfg WriterConfig) (*Writer, error) {
	if cfg.Processor == 0 {
		cfg.Processor = Intel
	}
	if !cfg.Processor.Valid() {
		return nil, werrorf("processor %d", cfg.Processor)
	}
	if cfg.Storage == 0 {
		cfg.Storage = Float
	}
	if cfg.Storage != Float && cfg.Storage != Int {
		return nil, werrorf("storage %d", cfg.Storage)
	}
	if cfg.FirstFrame == 0 {
		cfg.FirstFrame = 1
	}
	if cfg.Frames < 0 || cfg.FirstFrame < 0 || cfg.FirstFrame > 0xffff {
		return nil, werrorf("frames %d from %d", cfg.Frames, cfg.FirstFrame)
	}
	nch := len(cfg.AnalogLabels)
	if cfg.PointRate == 0 {
		cfg.PointRate = cfg.AnalogRate
	}
	if !(cfg.PointRate > 0) || math.IsInf(cfg.PointRate, 0) {
		return nil, werrorf("point rate %g", cfg.PointRate)
	}
	spf := 0
	if nch > 0 {
		r := cfg.AnalogRate / cfg.PointRate
		spf = int(math.Round(r))
		if spf < 1 || math.Abs(r-float64(spf)) > 1e-9*r {
			return nil, werrorf("analog rate %g is not a multiple of the point rate %g", cfg.AnalogRate, cfg.PointRate)
		}
	}
	if cfg.PointScale == 0 {
		cfg.PointScale = 0.1
		if cfg.Storage == Float {
			cfg.PointScale = 1
		}
	}
	cfg.PointScale = math.Abs(cfg.PointScale)
	if cfg.AnalogGenScale == 0 {
		cfg.AnalogGenScale = 1
	}
	if len(cfg.Events) > maxHeaderEvents {
		return nil, werrorf("%d header events (at most %d)", len(cfg.Events), maxHeaderEvents)
	}
	if len(cfg.PointLabels) > 0xffff || nch > 0x7fff {
		return nil, werrorf("%d points, %d analog channels", len(cfg.PointLabels), nch)
	}
	scales := fill(cfg.AnalogScales, nch, 1)
	offsets := fill(cfg.AnalogOffsets, nch, 0)
	if len(cfg.AnalogScales) > nch || len(cfg.AnalogOffsets) > nch {
		return nil, werrorf("more scales or offsets than analog labels")
	}
	wr := &Writer{cfg: cfg, bw: bufio.NewWriterSize(w, 1<<16), c: newCodec(cfg.Processor), spf: spf, nch: nch, scale: cfg.PointScale}
	wr.analogMul = make([]float64, nch)
	for i := range scales {
		m := scales[i] * cfg.AnalogGenScale
		if m == 0 || math.IsNaN(m) || math.IsInf(m, 0) {
			return nil, werrorf("analog channel %d has scale %g x %g", i, scales[i], cfg.AnalogGenScale)
		}
		lo, hi := -32768.0, 32767.0
		if cfg.AnalogUnsigned {
			lo, hi = 0, 65535
		}
		if offsets[i] < lo || offsets[i] > hi || offsets[i] != math.Trunc(offsets[i]) {
			return nil, werrorf("analog channel %d offset %g is not a %s 16-bit integer", i, offsets[i], map[bool]string{true: "unsigned", false: "signed"}[cfg.AnalogUnsigned])
		}
		wr.analogMul[i] = m
	}
	cfg.AnalogScales, cfg.AnalogOffsets = scales, offsets
	wr.cfg = cfg

	params, err := wr.parameterSection()
	if err != nil {
		return nil, err
	}
	hdr := Header{
		ParameterBlock:        2,
		PointCount:            len(cfg.PointLabels),
		AnalogWordsPerFrame:   (nch * spf) & 0xffff,
		FirstFrame:            cfg.FirstFrame,
		LastFrame:             min(cfg.FirstFrame+cfg.Frames-1, 0xffff),
		ScaleFactor:           float32(cfg.PointScale),
		DataStartBlock:        2 + len(params)/blockSize,
		AnalogSamplesPerFrame: spf,
		FrameRate:             float32(cfg.PointRate),
		Events:                cfg.Events,
	}
	if cfg.Frames == 0 {
		hdr.LastFrame = 0
	}
	if cfg.Storage == Float {
		hdr.ScaleFactor = -hdr.ScaleFactor
	}
	var hb [blockSize]byte
	hdr.encode(hb[:], wr.c)
	if _, err := wr.bw.Write(hb[:]); err != nil {
		return nil, err
	}
	if _, err := wr.bw.Write(params); err != nil {
		return nil, err
	}
	wr.frame = make([]byte, (4*len(cfg.PointLabels)+nch*spf)*cfg.Storage.wordSize())
	return wr, nil
}

func fill(v []float64, n int, def float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = def
		if i < len(v) {
			out[i] = v[i]
		}
	}
	return out
}

// split adds NAME, NAME2, ... parameters of at most 255 entries each.
func split(g *Group, name, desc string, n int, mk func(name, desc string, lo, hi int) *Parameter) {
	for i, k := 0, 1; i < n || (i == 0 && n == 0); k++ {
		hi := min(n, i+255)
		pn := name
		if k > 1 {
			pn = name + itoa(k)
		}
		g.Params = append(g.Params, mk(pn, desc, i, hi))
		if n == 0 {
			return
		}
		i = hi
	}
}

func stringsParam(vals []string) func(name, desc string, lo, hi int) *Parameter {
	return func(name, desc string, lo, hi int) *Parameter {
		s := vals[lo:hi]
		p := NewStrings(name, desc, s...)
		if len(s) == 1 { // keep the array form: a list of one string
			p.Dims = []int{p.Dims[0], 1}
		}
		if len(s) == 0 {
			p.Dims = []int{1, 0}
		}
		return p
	}
}

func (wr *Writer) parameterSection() ([]byte, error) {
	cfg := &wr.cfg
	np := len(cfg.PointLabels)
	point := &Group{Name: "POINT", Description: "3-D point parameters"}
	point.Params = append(point.Params,
		NewInts("USED", "Number of points", []int{np}),
		NewFloats("SCALE", "3-D scale factor", []float64{map[bool]float64{true: -cfg.PointScale, false: cfg.PointScale}[cfg.Storage == Float]}),
		NewFloats("RATE", "Frame rate", []float64{cfg.PointRate}),
		NewInts("DATA_START", "Number of first block of 3-D and analog data", []int{0}),
	)
	if cfg.Frames > 0xffff {
		point.Params = append(point.Params,
			NewFloats("FRAMES", "Number of frames", []float64{float64(cfg.Frames)}),
			NewFloats("LONG_FRAMES", "Number of frames", []float64{float64(cfg.Frames)}))
	} else {
		point.Params = append(point.Params, NewInts("FRAMES", "Number of frames", []int{cfg.Frames}))
	}
	units := cfg.PointUnits
	if units == "" {
		units = "mm"
	}
	point.Params = append(point.Params, NewStrings("UNITS", "3-D units", units))
	split(point, "LABELS", "Point labels", np, stringsParam(cfg.PointLabels))
	split(point, "DESCRIPTIONS", "Point descriptions", np, stringsParam(fillStrings(cfg.PointDescriptions, np)))

	nch := wr.nch
	analog := &Group{Name: "ANALOG", Description: "Analog data parameters"}
	analog.Params = append(analog.Params,
		NewInts("USED", "Number of analog channels", []int{nch}),
		NewFloats("RATE", "Analog samples per second", []float64{cfg.AnalogRate}),
		NewFloats("GEN_SCALE", "General scale factor", []float64{cfg.AnalogGenScale}),
		NewStrings("FORMAT", "Integer format", map[bool]string{true: "UNSIGNED", false: "SIGNED"}[cfg.AnalogUnsigned]),
		NewInts("BITS", "ADC resolution", []int{16}),
	)
	split(analog, "LABELS", "Channel labels", nch, stringsParam(cfg.AnalogLabels))
	split(analog, "DESCRIPTIONS", "Channel descriptions", nch, stringsParam(fillStrings(cfg.AnalogDescriptions, nch)))
	split(analog, "UNITS", "Channel units", nch, stringsParam(fillStrings(cfg.AnalogUnits, nch)))
	split(analog, "SCALE", "Channel scale factors", nch, func(name, desc string, lo, hi int) *Parameter {
		return NewFloats(name, desc, cfg.AnalogScales[lo:hi], hi-lo)
	})
	split(analog, "OFFSET", "Channel zero offsets", nch, func(name, desc string, lo, hi int) *Parameter {
		v := make([]int, hi-lo)
		for i := range v {
			v[i] = int(cfg.AnalogOffsets[lo+i])
		}
		return NewInts(name, desc, v, hi-lo)
	})
	groups := []*Group{point, analog}
	if cfg.Frames > 0xffff || cfg.FirstFrame+cfg.Frames-1 > 0xffff {
		last := cfg.FirstFrame + cfg.Frames - 1
		groups = append(groups, &Group{Name: "TRIAL", Params: []*Parameter{
			NewInts("ACTUAL_START_FIELD", "First frame", []int{cfg.FirstFrame & 0xffff, cfg.FirstFrame >> 16}),
			NewInts("ACTUAL_END_FIELD", "Last frame", []int{last & 0xffff, last >> 16}),
		}})
	}
	groups = append(groups, cfg.Groups...)
	for i, g := range groups {
		if len(groups) > 127 {
			return nil, werrorf("%d groups (at most 127)", len(groups))
		}
		g.ID = i + 1
	}

	// Encode; DATA_START is patched once the size is known.
	var buf []byte
	buf = append(buf, 0, 0, 0, byte(wr.cfg.Processor))
	var dataStartAt int
	var lastOffset int
	rec := func(name string, id int, locked bool, body []byte) error {
		if len(name) == 0 || len(name) > 127 || !validName(name) {
			return werrorf("parameter or group name %q", name)
		}
		n := int8(len(name))
		if locked {
			n = -n
		}
		buf = append(buf, byte(n), byte(int8(id)))
		buf = append(buf, name...)
		lastOffset = len(buf)
		off := 2 + len(body)
		if off > 0xffff {
			return werrorf("parameter %s is %d bytes long", name, len(body))
		}
		buf = append(buf, 0, 0)
		wr.c.putU16(buf[lastOffset:], uint16(off))
		buf = append(buf, body...)
		return nil
	}
	for _, g := range groups {
		d := []byte{byte(min(len(g.Description), 255))}
		d = append(d, g.Description[:min(len(g.Description), 255)]...)
		if err := rec(g.Name, -g.ID, g.Locked, d); err != nil {
			return nil, err
		}
		for _, p := range g.Params {
			body, err := wr.encodeParam(p)
			if err != nil {
				return nil, err
			}
			if g == point && p.Name == "DATA_START" {
				dataStartAt = len(buf) + len(p.Name) + 4 + 2 // name len, id, name, offset, type, ndim
			}
			if err := rec(p.Name, g.ID, p.Locked, body); err != nil {
				return nil, err
			}
		}
	}
	wr.c.putU16(buf[lastOffset:], 0) // the last record ends the section
	blocks := (len(buf) + blockSize - 1) / blockSize
	if blocks > 255 {
		return nil, werrorf("parameter section of %d blocks (at most 255)", blocks)
	}
	buf = append(buf, make([]byte, blocks*blockSize-len(buf))...)
	buf[2] = byte(blocks)
	wr.c.putU16(buf[dataStartAt:], uint16(2+blocks))
	return buf, nil
}

func fillStrings(v []string, n int) []string {
	out := make([]string, n)
	copy(out, v)
	return out
}

func (wr *Writer) encodeParam(p *Parameter) ([]byte, error) {
	if len(p.Dims) > 7 {
		return nil, werrorf("parameter %s has %d dimensions", p.Name, len(p.Dims))
	}
	b := []byte{byte(int8(p.Type)), byte(len(p.Dims))}
	count := 1
	for _, d := range p.Dims {
		if d < 0 || d > 255 {
			return nil, werrorf("parameter %s dimension %d", p.Name, d)
		}
		b = append(b, byte(d))
		count *= d
	}
	switch p.Type {
	case Char:
		if len(p.chars) != count {
			return nil, werrorf("parameter %s holds %d characters for dimensions %v", p.Name, len(p.chars), p.Dims)
		}
		b = append(b, p.chars...)
	case Byte:
		if len(p.ints) != count {
			return nil, werrorf("parameter %s holds %d values for dimensions %v", p.Name, len(p.ints), p.Dims)
		}
		for _, v := range p.ints {
			b = append(b, byte(v))
		}
	case Int16:
		if len(p.ints) != count {
			return nil, werrorf("parameter %s holds %d values for dimensions %v", p.Name, len(p.ints), p.Dims)
		}
		for _, v := range p.ints {
			b = append(b, 0, 0)
			wr.c.putU16(b[len(b)-2:], uint16(v))
		}
	case Float32:
		if len(p.floats) != count {
			return nil, werrorf("parameter %s holds %d values for dimensions %v", p.Name, len(p.floats), p.Dims)
		}
		for _, v := range p.floats {
			var w [4]byte
			wr.c.putF32(w[:], v)
			b = append(b, w[:]...)
		}
	default:
		return nil, werrorf("parameter %s type %d", p.Name, p.Type)
	}
	d := p.Description[:min(len(p.Description), 255)]
	b = append(b, byte(len(d)))
	return append(b, d...), nil
}

// WriteFrame writes one frame: a sample of every point (len(PointLabels))
// and the analog samples sample by sample, analog[s*channels + ch]
// (AnalogRate/PointRate samples per channel), as scaled values.
func (wr *Writer) WriteFrame(points []Point, analog []float64) error {
	if wr.err != nil {
		return wr.err
	}
	if wr.written >= wr.cfg.Frames {
		return werrorf("more than the %d frames declared", wr.cfg.Frames)
	}
	np := len(wr.cfg.PointLabels)
	if len(points) != np || len(analog) != wr.nch*wr.spf {
		return werrorf("frame with %d points and %d analog values, want %d and %d", len(points), len(analog), np, wr.nch*wr.spf)
	}
	b := wr.frame
	ws := wr.cfg.Storage.wordSize()
	for i, p := range points {
		o := 4 * i * ws
		word := -1.0
		if p.Valid {
			res := math.Round(math.Max(p.Residual, 0) / wr.scale)
			word = float64(int(p.Cameras))*256 + math.Min(res, 255)
		}
		if wr.cfg.Storage == Float {
			wr.c.putF32(b[o:], float32(p.X))
			wr.c.putF32(b[o+4:], float32(p.Y))
			wr.c.putF32(b[o+8:], float32(p.Z))
			wr.c.putF32(b[o+12:], float32(word))
			continue
		}
		for k, v := range []float64{p.X, p.Y, p.Z} {
			q := math.Round(v / wr.scale)
			if !p.Valid {
				q = 0
			}
			if !(q >= -32768 && q <= 32767) {
				return wr.fail(werrorf("point %d coordinate %g does not fit an integer file with scale %g", i, v, wr.scale))
			}
			wr.c.putU16(b[o+2*k:], uint16(int16(q)))
		}
		wr.c.putU16(b[o+6:], uint16(int16(word)))
	}
	base := 4 * np * ws
	for k, v := range analog {
		ch := k % max(wr.nch, 1)
		raw := v/wr.analogMul[ch] + wr.cfg.AnalogOffsets[ch]
		o := base + k*ws
		if wr.cfg.Storage == Float {
			wr.c.putF32(b[o:], float32(raw))
			continue
		}
		q := math.Round(raw)
		lo, hi := -32768.0, 32767.0
		if wr.cfg.AnalogUnsigned {
			lo, hi = 0, 65535
		}
		if !(q >= lo && q <= hi) {
			return wr.fail(werrorf("analog channel %d value %g does not fit a 16-bit sample with its scale and offset", ch, v))
		}
		wr.c.putU16(b[o:], uint16(int(q)))
	}
	if _, err := wr.bw.Write(b); err != nil {
		return wr.fail(err)
	}
	wr.written++
	wr.dataBytes += int64(len(b))
	return nil
}

func (wr *Writer) fail(err error) error {
	wr.err = err
	return err
}

// Close pads the data section to a whole block and flushes. It fails when
// fewer frames were written than declared.
func (wr *Writer) Close() error {
	if wr.err != nil {
		return wr.err
	}
	if wr.written != wr.cfg.Frames {
		return wr.fail(werrorf("%d frames written, %d declared", wr.written, wr.cfg.Frames))
	}
	if pad := (blockSize - wr.dataBytes%blockSize) % blockSize; pad > 0 {
		if _, err := wr.bw.Write(make([]byte, pad)); err != nil {
			return wr.fail(err)
		}
	}
	return wr.bw.Flush()
}
