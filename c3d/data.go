package c3d

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// chunkBytes is the size of the reads of the data section: large enough to
// stream at disk speed, small enough to keep memory bounded.
const chunkBytes = 1 << 20

// Point is one 3D point sample.
type Point struct {
	X, Y, Z  float64
	Residual float64 // residual in the units of the coordinates; -1 when invalid
	Cameras  uint8   // camera contribution mask
	Valid    bool    // false when the residual word is negative
}

// Frame is one frame of the data section, as passed to ReadFrames.
type Frame struct {
	Index  int     // 0-based frame index in the data section
	Points []Point // Point.Count points
	// Analog holds the frame's analog samples sample by sample:
	// Analog[s*Analog.Count + ch] is channel ch at sub-sample s.
	Analog []float64
}

func (f *File) checkChannel(ch int) error {
	if ch < 0 || ch >= f.Analog.Count {
		return &FormatError{Kind: ErrChannel, Where: "analog", Offset: -1, Msg: fmt.Sprintf("channel %d of %d", ch, f.Analog.Count)}
	}
	return nil
}

// ChannelIndex returns the index of the first analog channel whose label
// (trimmed) equals label, or -1.
func (f *File) ChannelIndex(label string) int {
	label = TrimLabel(label)
	for i, l := range f.Analog.Labels {
		if l == label {
			return i
		}
	}
	return -1
}

// chunkPool recycles the read buffers of scan between calls.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkBytes); return &b }}

// scanFrames reads frames [from, to) in chunks and calls fn with each
// frame's bytes. The slice is only valid during the call.
func (f *File) scanFrames(from, to int, fn func(i int, b []byte)) error {
	return f.scan(from, to, func(i int, b []byte) error { fn(i, b); return nil })
}

// scan is scanFrames whose callback can stop the scan with an error, which
// it returns.
func (f *File) scan(from, to int, fn func(i int, b []byte) error) error {
	if from >= to || f.frameBytes == 0 {
		return nil
	}
	fb := f.frameBytes
	per := max(1, chunkBytes/fb)
	need := min(per, to-from) * fb
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	if cap(*bp) < need {
		*bp = make([]byte, need)
	}
	buf := (*bp)[:need]
	for i := from; i < to; {
		n := min(per, to-i)
		b := buf[:n*fb]
		if err := readFull(f.r, b, f.DataStart+int64(i)*int64(fb), "data section"); err != nil {
			return err
		}
		for k := 0; k < n; k++ {
			if err := fn(i+k, b[k*fb:(k+1)*fb]); err != nil {
				return err
			}
		}
		i += n
	}
	return nil
}

// rawDecoder returns a function that decodes the raw analog sample at the
// start of b, as a float64 before offset and scaling.
func (f *File) rawDecoder() func(b []byte) float64 {
	c := f.c
	if f.Storage == Float {
		return f.floatDecoder()
	}
	if f.Analog.Unsigned {
		return func(b []byte) float64 { return float64(c.u16(b)) }
	}
	return func(b []byte) float64 { return float64(c.i16(b)) }
}

// analogLayout returns the byte offset of the first analog word of a frame
// and the number of channels per analog sample in the data section.
func (f *File) analogLayout() (base, stride int) {
	ws := f.Storage.wordSize()
	base = 4 * f.Point.Count * ws
	if f.Analog.SamplesPerFrame > 0 {
		stride = f.analogWords / f.Analog.SamplesPerFrame
	}
	return base, stride
}

// ReadAnalog returns the scaled samples of analog channel ch:
// (raw - offset) * scale * gen_scale. It reads the data section once and
// decodes only that channel.
func (f *File) ReadAnalog(ch int) ([]float64, error) {
	return f.ReadAnalogRange(ch, 0, f.SamplesPerChannel())
}

// ReadAnalogRange returns samples [start, end) of channel ch, reading only
// the frames that hold them.
func (f *File) ReadAnalogRange(ch, start, end int) ([]float64, error) {
	if err := f.checkChannel(ch); err != nil {
		return nil, err
	}
	n := f.SamplesPerChannel()
	if start < 0 || end > n || start > end {
		return nil, &FormatError{Kind: ErrChannel, Where: "analog", Offset: -1, Msg: fmt.Sprintf("sample range [%d, %d) outside [0, %d)", start, end, n)}
	}
	out := make([]float64, end-start)
	if start == end {
		return out, nil
	}
	spf := f.Analog.SamplesPerFrame
	base, stride := f.analogLayout()
	ws := f.Storage.wordSize()
	dec := f.rawDecoder()
	off, mul := f.Analog.Offsets[ch], f.Analog.Scales[ch]*f.Analog.GenScale
	err := f.scanFrames(start/spf, (end-1)/spf+1, func(i int, b []byte) {
		for s := 0; s < spf; s++ {
			k := i*spf + s
			if k < start || k >= end {
				continue
			}
			out[k-start] = (dec(b[base+(s*stride+ch)*ws:]) - off) * mul
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadAnalogChannels returns the scaled samples of the given channels, in
// the order given, in one pass over the data section.
func (f *File) ReadAnalogChannels(chs []int) ([][]float64, error) {
	return f.ReadAnalogChannelsInto(chs, nil)
}

// ReadAnalogChannelsInto is ReadAnalogChannels decoding into dst[i] (resliced
// to the number of samples) wherever its capacity suffices, so that callers
// analysing many files can recycle their buffers. dst may be nil or shorter
// than chs; the missing slices are allocated.
func (f *File) ReadAnalogChannelsInto(chs []int, dst [][]float64) ([][]float64, error) {
	for _, ch := range chs {
		if err := f.checkChannel(ch); err != nil {
			return nil, err
		}
	}
	n := f.SamplesPerChannel()
	out := make([][]float64, len(chs))
	for i := range out {
		if i < len(dst) && cap(dst[i]) >= n {
			out[i] = dst[i][:n]
		} else {
			out[i] = make([]float64, n)
		}
	}
	if len(chs) == 0 || n == 0 {
		return out, nil
	}
	spf := f.Analog.SamplesPerFrame
	base, stride := f.analogLayout()
	ws := f.Storage.wordSize()
	offs := make([]float64, len(chs))
	muls := make([]float64, len(chs))
	for j, ch := range chs {
		offs[j], muls[j] = f.Analog.Offsets[ch], f.Analog.Scales[ch]*f.Analog.GenScale
	}
	if f.Storage == Float && f.Processor == Intel {
		// The common case, decoded straight from the bytes, channel by
		// channel within each frame so that writes stay sequential.
		le := binary.LittleEndian
		err := f.scanFrames(0, f.Frames, func(i int, b []byte) {
			b = b[base:]
			k0 := i * spf
			for j, ch := range chs {
				dst := out[j][k0 : k0+spf]
				off, mul := offs[j], muls[j]
				src := b[ch*4:]
				for s := range dst {
					dst[s] = (float64(math.Float32frombits(le.Uint32(src[s*stride*4:]))) - off) * mul
				}
			}
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	if 2*len(chs) >= stride {
		// Most channels wanted: decode each frame's analog block in one
		// tight loop, then pick and scale.
		decRow := f.rowDecoder()
		row := make([]float64, stride*spf)
		err := f.scanFrames(0, f.Frames, func(i int, b []byte) {
			decRow(row, b[base:])
			k0 := i * spf
			for j, ch := range chs {
				dst := out[j][k0 : k0+spf]
				off, mul := offs[j], muls[j]
				for s := range dst {
					dst[s] = (row[s*stride+ch] - off) * mul
				}
			}
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	dec := f.rawDecoder()
	err := f.scanFrames(0, f.Frames, func(i int, b []byte) {
		for s := 0; s < spf; s++ {
			row := b[base+s*stride*ws:]
			k := i*spf + s
			for j, ch := range chs {
				out[j][k] = (dec(row[ch*ws:]) - offs[j]) * muls[j]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rowDecoder returns a function decoding len(dst) raw analog words from src.
func (f *File) rowDecoder() func(dst []float64, src []byte) {
	le, be := binary.LittleEndian, binary.BigEndian
	switch {
	case f.Storage == Float && f.Processor == Intel:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(math.Float32frombits(le.Uint32(src[4*i:])))
			}
		}
	case f.Storage == Float && f.Processor == MIPS:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(math.Float32frombits(be.Uint32(src[4*i:])))
			}
		}
	case f.Storage == Float:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(decToFloat(src[4*i:]))
			}
		}
	case f.Processor == MIPS && f.Analog.Unsigned:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(be.Uint16(src[2*i:]))
			}
		}
	case f.Processor == MIPS:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(int16(be.Uint16(src[2*i:])))
			}
		}
	case f.Analog.Unsigned:
		return func(dst []float64, src []byte) {
			for i := range dst {
				dst[i] = float64(le.Uint16(src[2*i:]))
			}
		}
	}
	return func(dst []float64, src []byte) {
		for i := range dst {
			dst[i] = float64(int16(le.Uint16(src[2*i:])))
		}
	}
}

// ReadAllAnalog returns every analog channel's scaled samples.
func (f *File) ReadAllAnalog() ([][]float64, error) {
	chs := make([]int, f.Analog.Count)
	for i := range chs {
		chs[i] = i
	}
	return f.ReadAnalogChannels(chs)
}

// decodePoint decodes the point at the start of b.
func (f *File) decodePoint(b []byte, dec func([]byte) float64) Point {
	ws := f.Storage.wordSize()
	scale := math.Abs(f.Point.Scale)
	var p Point
	var word int
	if f.Storage == Float {
		p.X, p.Y, p.Z = dec(b), dec(b[4:]), dec(b[8:])
		r := dec(b[12:])
		if math.IsNaN(r) || r >= 1<<31 || r < -(1<<31) {
			word = -1
		} else {
			word = int(r)
		}
	} else {
		p.X = float64(f.c.i16(b)) * scale
		p.Y = float64(f.c.i16(b[ws:])) * scale
		p.Z = float64(f.c.i16(b[2*ws:])) * scale
		word = int(f.c.i16(b[3*ws:]))
	}
	if word < 0 {
		p.Residual = -1
		return p
	}
	p.Valid = true
	p.Residual = float64(word&0xff) * scale
	p.Cameras = uint8(word >> 8)
	return p
}

func (f *File) floatDecoder() func(b []byte) float64 {
	switch f.Processor {
	case Intel:
		return func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }
	case MIPS:
		return func(b []byte) float64 { return float64(math.Float32frombits(binary.BigEndian.Uint32(b))) }
	}
	return func(b []byte) float64 { return float64(decToFloat(b)) }
}

// pointDecoder decodes point words: floats as stored, integers as signed.
func (f *File) pointDecoder() func([]byte) float64 {
	if f.Storage == Float {
		return f.floatDecoder()
	}
	return func(b []byte) float64 { return float64(f.c.i16(b)) }
}

// ReadPoint returns every frame's sample of point i.
func (f *File) ReadPoint(i int) ([]Point, error) {
	if i < 0 || i >= f.Point.Count {
		return nil, &FormatError{Kind: ErrChannel, Where: "points", Offset: -1, Msg: fmt.Sprintf("point %d of %d", i, f.Point.Count)}
	}
	out := make([]Point, f.Frames)
	dec := f.pointDecoder()
	off := 4 * i * f.Storage.wordSize()
	err := f.scanFrames(0, f.Frames, func(k int, b []byte) {
		out[k] = f.decodePoint(b[off:], dec)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFrames streams frames [0, Frames) to fn in order, in bounded memory.
// The Frame and its slices are reused between calls; copy what you keep.
// An error from fn stops the scan and is returned.
func (f *File) ReadFrames(fn func(fr *Frame) error) error {
	fr := &Frame{Points: make([]Point, f.Point.Count), Analog: make([]float64, f.Analog.Count*f.Analog.SamplesPerFrame)}
	pdec := f.pointDecoder()
	adec := f.rawDecoder()
	ws := f.Storage.wordSize()
	base, stride := f.analogLayout()
	an := &f.Analog
	muls := make([]float64, an.Count)
	for ch := range muls {
		muls[ch] = an.Scales[ch] * an.GenScale
	}
	return f.scan(0, f.Frames, func(k int, b []byte) error {
		fr.Index = k
		for i := range fr.Points {
			fr.Points[i] = f.decodePoint(b[4*i*ws:], pdec)
		}
		for s := 0; s < an.SamplesPerFrame; s++ {
			for ch := 0; ch < an.Count; ch++ {
				fr.Analog[s*an.Count+ch] = (adec(b[base+(s*stride+ch)*ws:]) - an.Offsets[ch]) * muls[ch]
			}
		}
		return fn(fr)
	})
}
