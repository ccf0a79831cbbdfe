package c3d

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

const blockSize = 512

// maxParamBytes bounds the parameter section: its block count is a byte.
const maxParamBytes = 255 * blockSize

// File is an open C3D file: header and parameters decoded, data section
// untouched until a Read method is called. A File is safe for concurrent
// reads when its io.ReaderAt is.
type File struct {
	Header    Header
	Params    *Parameters
	Processor Processor
	Storage   Storage
	Size      int64 // file size in bytes

	Point  PointInfo
	Analog AnalogInfo

	// Frames is the number of 3D frames in the data section (see Open for
	// how it is decided when the header and parameters disagree).
	Frames int
	// DataStart is the byte offset of the data section.
	DataStart int64
	// Events are the EVENT group's events (header events are in Header.Events).
	Events []Event
	// Warnings say where the file departs from the format and what was done.
	Warnings []string

	r           io.ReaderAt
	c           codec
	frameBytes  int // bytes per frame in the data section
	analogWords int // analog words per frame in the data section
}

// PointInfo describes the 3D points.
type PointInfo struct {
	Count        int
	Rate         float64 // frames per second (POINT:RATE, else the header rate)
	Scale        float64 // POINT:SCALE (else the header scale); applies to integer storage
	Labels       []string
	Descriptions []string
	Units        string
}

// AnalogInfo describes the analog channels in use, in order.
type AnalogInfo struct {
	Count           int
	Rate            float64 // samples per second per channel
	SamplesPerFrame int     // analog samples per 3D frame
	Labels          []string
	Descriptions    []string
	Units           []string
	Scales          []float64 // per channel (SCALE, SCALE2, ...; 1 when absent)
	Offsets         []float64 // per channel, as applied (see Unsigned)
	GenScale        float64   // ANALOG:GEN_SCALE (1 when absent)
	Format          string    // ANALOG:FORMAT as written ("" when absent)
	Bits            int       // ANALOG:BITS (0 when absent)
	// Unsigned is true when ANALOG:FORMAT is UNSIGNED: integer samples and
	// offsets are read as uint16.
	Unsigned bool
}

// Event is one event of the EVENT group.
type Event struct {
	Label       string  `json:"label"`
	Context     string  `json:"context"`
	Description string  `json:"description"`
	Time        float64 `json:"time_seconds"` // minutes*60 + seconds as stored
}

// SamplesPerChannel returns the number of analog samples of each channel.
func (f *File) SamplesPerChannel() int { return f.Frames * f.Analog.SamplesPerFrame }

// Duration returns the length of the recording in seconds: analog samples
// per channel over the analog rate, or frames over the point rate when the
// file has no analog channels.
func (f *File) Duration() float64 {
	if f.Analog.Count > 0 && f.Analog.Rate > 0 {
		return float64(f.SamplesPerChannel()) / f.Analog.Rate
	}
	if f.Point.Rate > 0 {
		return float64(f.Frames) / f.Point.Rate
	}
	return 0
}

// FrameBytes returns the size in bytes of one frame of the data section.
func (f *File) FrameBytes() int { return f.frameBytes }

// Open reads the header and parameter section of a C3D file of the given
// size through r, without reading the data section (except, for a file whose
// frame counts disagree, its last block, to tell frames from padding).
//
// Rules for files that break the format, each reported in Warnings:
//   - The processor type comes from the parameter section (84 Intel,
//     85 DEC, 86 MIPS); storage is float when the header scale is negative.
//   - The parameter section starts at the block header byte 1 names,
//     wherever that is, and is read for the blocks it declares, or up to
//     the data section when that follows it (at most 255 blocks, and no
//     further than the file).
//   - The data section starts at header word 9, or POINT:DATA_START when the
//     header says 0. Both are read unsigned.
//   - Frames: TRIAL:ACTUAL_START_FIELD/ACTUAL_END_FIELD or POINT:LONG_FRAMES
//     (32-bit counts) win; else the header's first/last frames and
//     POINT:FRAMES (read unsigned, or as a float). When those disagree, or
//     say 0 while whole frames follow, or are 65536*k short of what the
//     file holds (16-bit wrap), the count the file size allows is used,
//     not counting trailing all-zero frames that fit in the last block's
//     padding. A count larger than the file holds is ErrTruncated.
//   - Points: the header's point count (word 2) lays out the data; a
//     different POINT:USED is only reported. POINT:SCALE wins over the
//     header scale, except a 0 for integer points.
//   - ANALOG:RATE absent (or not a positive number): samples per frame x
//     point rate. POINT:RATE absent (or not a positive number): the header
//     frame rate.
//   - Analog layout: a header word 10 (samples per frame) of 0 is derived
//     as ANALOG:RATE over the point rate when that fits the 16-bit word,
//     else as word 3 (analog words per frame) over ANALOG:USED. ANALOG:USED gives the channels (absent: as
//     many as word 3 holds): when word 3 is their words wrapped at 16 bits, the parameters win (a count word 3
//     cannot hold, so not reported); when word 3 holds more channels, the
//     first ANALOG:USED are read; when fewer, word 3's channels are read.
//     A word 3 that is not whole samples is ErrCorrupt.
//   - LABELS, DESCRIPTIONS, UNITS, SCALE and OFFSET of more than 255
//     entries continue in NAME2, NAME3, ..., read in order up to the first
//     one missing. ANALOG:SCALE or ANALOG:OFFSET with fewer values than
//     channels: the rest use 1 and 0.
//   - Analog offsets are read as uint16 when ANALOG:FORMAT is UNSIGNED.
//     When ANALOG:FORMAT is absent, an offset stored as -32768 is read as
//     +32768: no signed converter has its zero at the lowest code, while a
//     16-bit unsigned one centres there (the same choice as ezc3d and BTK
//     make for such files).
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < blockSize+4 {
		return nil, errorf(ErrNotC3D, "header", -1, "file of %d bytes is smaller than a header and a parameter section", size)
	}
	var hb [blockSize]byte
	if err := readFull(r, hb[:], 0, "header"); err != nil {
		return nil, err
	}
	f := &File{r: r, Size: size}
	pblock := int(hb[0])
	if pblock == 0 {
		return nil, errorf(ErrNotC3D, "header", 0, "parameter block pointer is 0")
	}
	pstart := int64(pblock-1) * blockSize
	if pstart+4 > size {
		kind := ErrTruncated
		if hb[1] != 0x50 {
			kind = ErrNotC3D // no header key either: not a C3D file at all
		}
		return nil, errorf(kind, "header", 0, "parameter section at block %d lies beyond the end of the file", pblock)
	}
	var ph [4]byte
	if err := readFull(r, ph[:], pstart, "parameter section"); err != nil {
		return nil, err
	}
	f.Processor = Processor(ph[3])
	if !f.Processor.Valid() {
		return nil, errorf(ErrNotC3D, "parameter section", pstart+3, "processor type %d is not 84 (Intel), 85 (DEC) or 86 (MIPS)", ph[3])
	}
	f.c = newCodec(f.Processor)
	f.Header = parseHeader(hb[:], f.c)
	if hb[1] != 0x50 {
		f.warn("header key byte is 0x%02x, not 0x50", hb[1])
	}

	// Read the parameter section: its declared blocks, or up to the data
	// section when that follows it, bounded by the file and the format.
	plen := int64(ph[2]) * blockSize
	if ds := int64(f.Header.DataStartBlock-1) * blockSize; f.Header.DataStartBlock > 0 && ds > pstart {
		plen = max(plen, ds-pstart)
	}
	if plen < blockSize {
		plen = blockSize
	}
	plen = min(plen, maxParamBytes, size-pstart)
	pbuf := make([]byte, plen)
	if err := readFull(r, pbuf, pstart, "parameter section"); err != nil {
		return nil, err
	}
	ps, warns, err := parseParams(pbuf, pstart, f.c)
	if err != nil {
		return nil, err
	}
	f.Params = ps
	f.Warnings = append(f.Warnings, warns...)

	if f.Header.ScaleFactor < 0 {
		f.Storage = Float
	} else {
		f.Storage = Int
	}
	if err := f.resolveLayout(); err != nil {
		return nil, err
	}
	if err := f.resolveFrames(); err != nil {
		return nil, err
	}
	f.readEvents()
	return f, nil
}

func (f *File) warn(format string, args ...any) {
	f.Warnings = append(f.Warnings, fmt.Sprintf(format, args...))
}

func readFull(r io.ReaderAt, b []byte, off int64, where string) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(ErrTruncated, where, off+int64(n), "file ends %d bytes early", len(b)-n)
	}
	return fmt.Errorf("c3d: reading %s at byte %d: %w", where, off, err)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// resolveLayout decides points, analog channels, rates, scales and the
// data start from the header and parameters, one rule of Open at a time,
// then the size of one frame of the data section.
func (f *File) resolveLayout() error {
	if err := f.resolveDataStart(); err != nil {
		return err
	}
	f.resolvePoints()
	arate, hasRate, rateProblem := f.analogRateParam()
	if err := f.resolveAnalogLayout(arate, hasRate); err != nil {
		return err
	}
	f.resolveAnalogRate(arate, hasRate, rateProblem)
	f.resolveAnalogText()
	f.resolveAnalogScales()
	f.resolveAnalogOffsets()

	if f.Point.Count > (1<<31)/16 || f.analogWords > (1<<31)/4 {
		return errorf(ErrCorrupt, "header", 2, "frame layout too large")
	}
	f.frameBytes = (4*f.Point.Count + f.analogWords) * f.Storage.wordSize()
	return nil
}

// resolveDataStart applies Open's data start rule: header word 9, or
// POINT:DATA_START when the header says 0, both unsigned. A start of 0 or
// one overlapping the header is ErrCorrupt.
func (f *File) resolveDataStart() error {
	ds := f.Header.DataStartBlock
	if ds == 0 {
		if p := f.Params.Param("POINT", "DATA_START"); p != nil {
			ds, _ = p.Uint()
		}
		if ds == 0 {
			return errorf(ErrCorrupt, "header", 16, "data start block is 0 and POINT:DATA_START is absent")
		}
	}
	if ds < 2 {
		return errorf(ErrCorrupt, "header", 16, "data start block %d overlaps the header", ds)
	}
	f.DataStart = int64(ds-1) * blockSize
	return nil
}

// resolvePoints applies Open's point rules: the header's point count lays
// out the data (a different POINT:USED is only reported), the rate is
// POINT:RATE else the header frame rate, the scale is POINT:SCALE else the
// header scale; labels, descriptions and units come from POINT.
func (f *File) resolvePoints() {
	pt, h := &f.Point, &f.Header
	pt.Count = h.PointCount
	if p := f.Params.Param("POINT", "USED"); p != nil {
		if u, ok := p.Uint(); ok && u != pt.Count {
			f.warn("POINT:USED is %d but the header says %d points; the header's count lays out the data", u, pt.Count)
		}
	}
	pt.Rate = f.pointRate()
	pt.Scale = f.pointScale()
	pt.Labels = f.labels("POINT", "LABELS", pt.Count)
	pt.Descriptions = f.labels("POINT", "DESCRIPTIONS", pt.Count)
	if p := f.Params.Param("POINT", "UNITS"); p != nil {
		pt.Units = p.String()
	}
}

// pointRate applies Open's rule for POINT:RATE absent or not a positive
// number: the header frame rate is used (0 when that is not a rate either).
func (f *File) pointRate() float64 {
	rate := float64(f.Header.FrameRate)
	if p := f.Params.Param("POINT", "RATE"); p != nil {
		if v, ok := p.Float(); ok && v > 0 && finite(v) {
			rate = v
		} else {
			f.warn("POINT:RATE %v is not a valid rate; using the header frame rate %g", p.Value(), rate)
		}
	} else if rate > 0 {
		f.warn("POINT:RATE is absent; using the header frame rate %g", rate)
	}
	if !finite(rate) || rate < 0 {
		rate = 0
	}
	return rate
}

// pointScale applies Open's rule for the point scale: POINT:SCALE when it
// is a finite number, else the header scale; a POINT:SCALE of 0 for integer
// points is ignored, and one that differs from the header's is reported.
// It needs f.Point.Count and f.Storage.
func (f *File) pointScale() float64 {
	hs := f.Header.ScaleFactor
	scale := float64(hs)
	if p := f.Params.Param("POINT", "SCALE"); p != nil {
		if v, ok := p.Float(); ok && finite(v) {
			switch {
			case v == 0 && f.Storage == Int && f.Point.Count > 0:
				f.warn("POINT:SCALE is 0; using the header scale %g", hs)
			case f.Storage == Int && float32(v) != hs:
				f.warn("POINT:SCALE %g differs from the header scale %g; POINT:SCALE is used", v, hs)
				scale = v
			default:
				scale = v
			}
		}
	}
	return scale
}

// analogRateParam reads ANALOG:RATE: its value when that is a positive
// finite number, else ok false and the problem, for the warning of
// resolveAnalogRate ("is absent", "... is not a valid rate").
func (f *File) analogRateParam() (rate float64, ok bool, problem string) {
	p := f.Params.Param("ANALOG", "RATE")
	if p == nil {
		return 0, false, "is absent"
	}
	if v, ok := p.Float(); ok && v > 0 && finite(v) {
		return v, true, ""
	}
	return 0, false, fmt.Sprintf("%v is not a valid rate", p.Value())
}

// resolveAnalogLayout applies Open's analog layout rules: it decides the
// analog samples per frame (header word 10, see analogSamplesPerFrame when
// it is 0) and the channel count (ANALOG:USED against header word 3, see
// analogChannels), and so the analog words of each frame. ANALOG:USED
// absent: as many channels as word 3 holds.
func (f *File) resolveAnalogLayout(arate float64, hasRate bool) error {
	words := f.Header.AnalogWordsPerFrame
	spf := f.Header.AnalogSamplesPerFrame
	used, hasUsed := 0, false
	if p := f.Params.Param("ANALOG", "USED"); p != nil {
		used, hasUsed = p.Uint()
	}
	if spf == 0 && (words > 0 || used > 0) {
		spf = f.analogSamplesPerFrame(words, used, arate, hasRate)
	}
	if spf == 0 {
		words, used = 0, 0
	}
	if !hasUsed && spf > 0 {
		used = words / spf
	}
	words, used, err := f.analogChannels(words, spf, used)
	if err != nil {
		return err
	}
	f.analogWords = words
	f.Analog.Count = used
	f.Analog.SamplesPerFrame = spf
	if used == 0 {
		f.Analog.SamplesPerFrame = 0
	}
	return nil
}

// analogSamplesPerFrame applies Open's rule for a header word 10 (analog
// samples per frame) of 0 in a file with analog words or ANALOG:USED: the
// count is ANALOG:RATE over the point rate when that is a count word 10
// could hold, else word 3 over ANALOG:USED. It returns 0 when neither gives
// one (the file then has no analog data).
func (f *File) analogSamplesPerFrame(words, used int, arate float64, hasRate bool) int {
	spf := 0
	switch {
	case hasRate && f.Point.Rate > 0 && arate/f.Point.Rate < 0xffff+0.5:
		spf = int(math.Round(arate / f.Point.Rate))
	case used > 0 && words%used == 0:
		spf = words / used
	}
	if spf > 0 {
		f.warn("header word 10 (analog samples per frame) is 0; using %d", spf)
	}
	return spf
}

// analogChannels applies Open's rule for ANALOG:USED (used channels)
// against header word 3 (words analog words per frame) at spf samples per
// frame, and returns the words and channels that lay out the data. A word 3
// that is the 16-bit wrap of used x spf is replaced by the full count;
// when word 3 holds more channels than ANALOG:USED, the first ANALOG:USED
// are read; when it holds fewer, word 3's count is read; a word 3 that is
// not whole samples is ErrCorrupt.
func (f *File) analogChannels(words, spf, used int) (int, int, error) {
	switch {
	case spf == 0:
	case used*spf == words:
	case spf > 0 && used*spf > 0xffff && words == (used*spf)&0xffff:
		// The header word overflowed: trust the parameters.
		words = used * spf
	case spf > 0 && words%spf == 0 && used < words/spf:
		f.warn("ANALOG:USED is %d but the data hold %d channels per sample; the first %d are read", used, words/spf, used)
	case spf > 0 && words%spf == 0:
		f.warn("ANALOG:USED is %d but the header gives %d analog words per frame (%d channels); %d channels are read", used, words, words/spf, words/spf)
		used = words / spf
	default:
		return 0, 0, errorf(ErrCorrupt, "header", 4, "%d analog words per frame is not a multiple of %d samples per frame", words, spf)
	}
	return words, used, nil
}

// resolveAnalogRate applies Open's rule for ANALOG:RATE absent or not a
// positive number: a file with analog channels gets samples per frame x
// point rate. arate, ok and problem are analogRateParam's answers.
func (f *File) resolveAnalogRate(arate float64, ok bool, problem string) {
	an := &f.Analog
	switch {
	case ok:
		an.Rate = arate
	case an.Count > 0:
		an.Rate = float64(an.SamplesPerFrame) * f.Point.Rate
		f.warn("ANALOG:RATE %s; analog rate derived as %d samples per frame x %g Hz = %g Hz", problem, an.SamplesPerFrame, f.Point.Rate, an.Rate)
	}
}

// resolveAnalogText reads the analog channels' labels, descriptions and
// units (with their LABELS2.. continuations, one per channel, blank when
// missing) and ANALOG:FORMAT and ANALOG:BITS as written; FORMAT UNSIGNED
// makes the samples and offsets unsigned.
func (f *File) resolveAnalogText() {
	an := &f.Analog
	an.Labels = f.labels("ANALOG", "LABELS", an.Count)
	an.Descriptions = f.labels("ANALOG", "DESCRIPTIONS", an.Count)
	an.Units = f.labels("ANALOG", "UNITS", an.Count)
	if p := f.Params.Param("ANALOG", "FORMAT"); p != nil {
		an.Format = p.String()
		an.Unsigned = strings.EqualFold(strings.TrimSpace(an.Format), "UNSIGNED")
	}
	if p := f.Params.Param("ANALOG", "BITS"); p != nil {
		an.Bits, _ = p.Uint()
	}
}

// resolveAnalogScales applies Open's rule for missing analog scales:
// ANALOG:GEN_SCALE absent or not finite is 1, and channels beyond
// ANALOG:SCALE's values (or with a non-finite one) use 1.
func (f *File) resolveAnalogScales() {
	an := &f.Analog
	an.GenScale = 1
	if p := f.Params.Param("ANALOG", "GEN_SCALE"); p != nil {
		if v, ok := p.Float(); ok && finite(v) {
			an.GenScale = v
		}
	}
	an.Scales = make([]float64, an.Count)
	scales := f.numbers("ANALOG", "SCALE", false)
	for i := range an.Scales {
		an.Scales[i] = 1
		if i < len(scales) && finite(scales[i]) {
			an.Scales[i] = scales[i]
		}
	}
	if an.Count > 0 && len(scales) < an.Count {
		f.warn("ANALOG:SCALE has %d values for %d channels; the rest use 1", len(scales), an.Count)
	}
}

// resolveAnalogOffsets applies Open's offset rules: offsets are read as
// uint16 when ANALOG:FORMAT is UNSIGNED; when ANALOG:FORMAT is absent an
// offset of -32768 is read as +32768; channels beyond ANALOG:OFFSET's
// values use 0. It needs resolveAnalogText's Format and Unsigned.
func (f *File) resolveAnalogOffsets() {
	an := &f.Analog
	an.Offsets = make([]float64, an.Count)
	offsets := f.numbers("ANALOG", "OFFSET", an.Unsigned)
	adjusted := 0
	for i := range an.Offsets {
		if i < len(offsets) {
			o := offsets[i]
			if an.Format == "" && o == -32768 {
				o = 32768
				adjusted++
			}
			an.Offsets[i] = o
		}
	}
	if adjusted > 0 {
		f.warn("ANALOG:FORMAT is absent and %d offsets are stored as -32768; they are read as unsigned 32768", adjusted)
	}
	if an.Count > 0 && len(offsets) < an.Count {
		f.warn("ANALOG:OFFSET has %d values for %d channels; the rest use 0", len(offsets), an.Count)
	}
}

// labels gathers NAME, NAME2, ... of a group as trimmed strings, n of them
// (padded with blanks when the file has fewer).
func (f *File) labels(group, name string, n int) []string {
	var out []string
	for _, p := range f.Params.series(group, name) {
		out = append(out, p.Strings()...)
	}
	if len(out) > n {
		out = out[:n]
	}
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

// numbers gathers NAME, NAME2, ... of a group as float64; integer values
// are read unsigned when unsigned is true.
func (f *File) numbers(group, name string, unsigned bool) []float64 {
	var out []float64
	for _, p := range f.Params.series(group, name) {
		if unsigned && (p.Type == Int16 || p.Type == Byte) {
			for _, v := range p.Uints() {
				out = append(out, float64(v))
			}
			continue
		}
		out = append(out, p.Float64s()...)
	}
	return out
}

// resolveFrames decides the number of frames (see Open).
func (f *File) resolveFrames() error {
	h, ps := &f.Header, f.Params
	hdr := 0
	if h.LastFrame > 0 && h.LastFrame >= h.FirstFrame {
		hdr = h.LastFrame - h.FirstFrame + 1
	}
	var pf, trial, long int
	pfFloat := false
	if p := ps.Param("POINT", "FRAMES"); p != nil {
		if p.Type == Float32 {
			if v, ok := p.Float(); ok && finite(v) && v > 0 && v < 1<<31 {
				pf, pfFloat = int(v), true
			}
		} else {
			pf, _ = p.Uint()
		}
	}
	if s, e := ps.Param("TRIAL", "ACTUAL_START_FIELD"), ps.Param("TRIAL", "ACTUAL_END_FIELD"); s != nil && e != nil {
		sv, ev := field32(s), field32(e)
		if ev > 0 && ev >= sv {
			trial = ev - sv + 1
			if sv == 0 {
				trial = ev
			}
		}
	}
	if p := ps.Param("POINT", "LONG_FRAMES"); p != nil {
		if p.Type == Float32 {
			if v, ok := p.Float(); ok && finite(v) && v > 0 && v < 1<<31 {
				long = int(v)
			}
		} else {
			long = field32(p)
		}
	}

	capacity := -1
	if f.frameBytes > 0 {
		if f.DataStart <= f.Size {
			capacity = int((f.Size - f.DataStart) / int64(f.frameBytes))
		} else {
			capacity = 0
		}
	}
	fits := func(n int) bool { return capacity < 0 || n <= capacity }
	truncated := func(n int) error {
		return errorf(ErrTruncated, "data section", f.DataStart, "%d frames of %d bytes declared but the file holds %d whole frames", n, f.frameBytes, capacity)
	}

	// 32-bit counts (TRIAL fields, POINT:LONG_FRAMES, a float POINT:FRAMES)
	// win when the 16-bit counts confirm them or cannot hold them.
	wide := []int{trial, long}
	if pfFloat && pf > 0xffff {
		wide = append(wide, pf)
	}
	for _, n := range wide {
		if n <= 0 {
			continue
		}
		if n == hdr || n == pf || n > 0xffff {
			if !fits(n) {
				if n > 0xffff {
					continue // decided below against the file size
				}
				return truncated(n)
			}
			f.Frames = n
			return nil
		}
	}

	var stated []int
	for _, n := range []int{hdr, pf, trial, long} {
		if n > 0 && !slices.Contains(stated, n) {
			stated = append(stated, n)
		}
	}
	if capacity < 0 { // no data per frame: nothing to check against
		if len(stated) > 0 {
			f.Frames = stated[0]
		}
		return nil
	}
	if len(stated) == 0 {
		n := f.trimmedCapacity(capacity)
		if n > 0 {
			f.warn("the header and POINT:FRAMES give 0 frames, but the data section holds %d whole frames; they were read", n)
		}
		f.Frames = n
		return nil
	}
	if len(stated) == 1 {
		n := stated[0]
		if !fits(n) {
			return truncated(n)
		}
		if capacity-n >= 0x10000 {
			if t := f.trimmedCapacity(capacity); t > n && (t-n)%0x10000 == 0 {
				f.warn("frame count %d wrapped at 16 bits; the data section holds %d frames, which were read", n, t)
				n = t
			}
		}
		f.Frames = n
		return nil
	}
	t := f.trimmedCapacity(capacity)
	for _, n := range stated {
		if n == t || (t > n && (t-n)%0x10000 == 0) {
			f.warn("frame counts disagree (%s); the data section holds %d frames, which were read", countsText(hdr, pf, trial, long), t)
			f.Frames = t
			return nil
		}
	}
	best := 0
	for _, n := range stated {
		if fits(n) && n > best {
			best = n
		}
	}
	if best == 0 {
		return truncated(slices.Min(stated))
	}
	f.warn("frame counts disagree (%s); %d frames are read", countsText(hdr, pf, trial, long), best)
	f.Frames = best
	return nil
}

func countsText(hdr, pf, trial, long int) string {
	s := fmt.Sprintf("header %d, POINT:FRAMES %d", hdr, pf)
	if trial > 0 {
		s += fmt.Sprintf(", TRIAL fields %d", trial)
	}
	if long > 0 {
		s += fmt.Sprintf(", POINT:LONG_FRAMES %d", long)
	}
	return s
}

// field32 reads a count stored as one unsigned word or as two words
// (low, high), as TRIAL:ACTUAL_*_FIELD and POINT:LONG_FRAMES do.
func field32(p *Parameter) int {
	v := p.Uints()
	switch {
	case len(v) >= 2 && p.Type == Int16:
		return v[0] + v[1]<<16
	case len(v) >= 1:
		return v[0]
	}
	return 0
}

// trimmedCapacity returns how many whole frames the data section holds,
// not counting trailing all-zero frames that lie within the last 511 bytes
// of the file (the zero padding of the last block).
func (f *File) trimmedCapacity(capacity int) int {
	if capacity <= 0 || f.frameBytes <= 0 {
		return max(capacity, 0)
	}
	fb := int64(f.frameBytes)
	padStart := f.Size - (blockSize - 1)
	// Frames starting at or after padStart may be padding.
	first := capacity
	for first > 0 && f.DataStart+int64(first-1)*fb >= padStart {
		first--
	}
	if first == capacity {
		return capacity
	}
	off := f.DataStart + int64(first)*fb
	buf := make([]byte, int64(capacity-first)*fb)
	if readFull(f.r, buf, off, "data section") != nil {
		return capacity
	}
	n := capacity
	for n > first {
		fr := buf[int64(n-1-first)*fb : int64(n-first)*fb]
		if !allZero(fr) {
			break
		}
		n--
	}
	return n
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

func (f *File) readEvents() {
	g := f.Params
	lab := g.Param("EVENT", "LABELS")
	times := g.Param("EVENT", "TIMES")
	if lab == nil || times == nil {
		return
	}
	n := lab.Len()
	if p := g.Param("EVENT", "USED"); p != nil {
		if u, ok := p.Uint(); ok && u < n {
			n = u
		}
	}
	labels := lab.Strings()
	var contexts, descs []string
	if p := g.Param("EVENT", "CONTEXTS"); p != nil {
		contexts = p.Strings()
	}
	if p := g.Param("EVENT", "DESCRIPTIONS"); p != nil {
		descs = p.Strings()
	}
	tv := times.Float64s()
	for i := 0; i < n && i < len(labels) && 2*i+1 < len(tv); i++ {
		e := Event{Label: labels[i], Time: tv[2*i]*60 + tv[2*i+1]}
		if i < len(contexts) {
			e.Context = contexts[i]
		}
		if i < len(descs) {
			e.Description = descs[i]
		}
		f.Events = append(f.Events, e)
	}
}
