package analysis

import (
	"encoding/binary"
	"io"
	"math"
	"sync"

	"emgd/c3d"
)

// Decoding the analog channels is a tenth of the work of a GHOSTLY file.
// Package c3d decodes any layout; this file adds a fast path for the one
// GHOSTLY and most systems write (IEEE floats, little-endian), and recycles
// the sample buffers and the read buffer between analyses, so that a file
// costs neither a page-faulting allocation of every channel nor the garbage
// collection of the last file's.

// readChunk is the size of the reads of the data section.
const readChunk = 1 << 20

var (
	readBufs   = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}
	sampleBufs sync.Pool // *[]float64 of any capacity
)

// getSamples returns a slice of n samples (contents undefined), recycled when
// possible.
func getSamples(n int) []float64 {
	if p, ok := sampleBufs.Get().(*[]float64); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]float64, n)
}

// putSamples hands a slice back for reuse; the caller must not use it again.
func putSamples(x []float64) {
	if cap(x) > 0 {
		sampleBufs.Put(&x)
	}
}

// readChannels returns the scaled samples of channels chs, in one pass over
// the data section: (raw - offset) * scale * gen_scale, as
// c3d.File.ReadAnalogChannels, whose results it equals bit for bit. The
// slices come from getSamples. Layouts other than little-endian floats go
// through package c3d.
func readChannels(f *c3d.File, r io.ReaderAt, chs []int) ([][]float64, error) {
	spf := f.Analog.SamplesPerFrame
	fb := f.FrameBytes()
	if f.Storage != c3d.Float || f.Processor != c3d.Intel || spf <= 0 || fb <= 0 || r == nil {
		return f.ReadAnalogChannels(chs)
	}
	// Frame layout: 4 words per point, then spf samples of stride channels.
	base := 16 * f.Point.Count
	words := fb/4 - 4*f.Point.Count
	stride := words / spf
	for _, ch := range chs {
		if ch < 0 || ch >= f.Analog.Count || ch >= stride || len(f.Analog.Offsets) <= ch || len(f.Analog.Scales) <= ch {
			return f.ReadAnalogChannels(chs) // let c3d report the error
		}
	}
	n := f.SamplesPerChannel()
	out := make([][]float64, len(chs))
	for i := range out {
		out[i] = getSamples(n)
	}
	if len(chs) == 0 || n == 0 {
		return out, nil
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	per := max(1, readChunk/fb)
	if per*fb > len(*bp) {
		*bp = make([]byte, per*fb)
	}
	le := binary.LittleEndian
	for i := 0; i < f.Frames; {
		nf := min(per, f.Frames-i)
		b := (*bp)[:nf*fb]
		if got, _ := r.ReadAt(b, f.DataStart+int64(i)*int64(fb)); got < len(b) {
			for _, x := range out {
				putSamples(x)
			}
			// c3d reports a short data section as it does for any file
			return f.ReadAnalogChannels(chs)
		}
		for j, ch := range chs {
			off, mul := f.Analog.Offsets[ch], f.Analog.Scales[ch]*f.Analog.GenScale
			dst := out[j][i*spf : (i+nf)*spf]
			// sample s of frame fr is at byte fr*fb + base + 4*(s*stride+ch),
			// so the channel's samples are 4*stride bytes apart within a
			// frame and continue at the next frame's base
			step := 4 * stride
			for fr := 0; fr < nf; fr++ {
				p := fr*fb + base + 4*ch
				d := dst[fr*spf : (fr+1)*spf]
				for s := range d {
					d[s] = (float64(math.Float32frombits(le.Uint32(b[p:p+4]))) - off) * mul
					p += step
				}
			}
		}
		i += nf
	}
	return out, nil
}
