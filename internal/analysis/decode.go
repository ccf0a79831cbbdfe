package analysis

import (
	"runtime/debug"
	"sync"
	"sync/atomic"

	"emgd/c3d"
)

// Decoding the analog channels is a tenth of the work of a GHOSTLY file.
// The sample buffers are recycled between the passes of one analysis, and
// short ones between analyses, so that a file costs neither a page-faulting
// allocation of every channel nor the garbage collection of the last
// file's. Long buffers are not kept past their analysis: a server would
// otherwise hold the longest recording's channels between jobs (48 MB per
// channel of 600 s at 10 kHz), and the collector, whose heap goal follows
// what is live, would let the next job's garbage grow to match.

// maxPooledSamples is the longest buffer kept between analyses: 4 MiB,
// 524,288 samples (about 9 minutes at 990 Hz, so a GHOSTLY file's are kept).
const maxPooledSamples = 1 << 19

var sampleBufs sync.Pool // *[]float64 of at most maxPooledSamples

// getSamples returns a slice of n samples (contents undefined), recycled when
// possible.
func getSamples(n int) []float64 {
	if p, ok := sampleBufs.Get().(*[]float64); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return newSamples(n)
}

// putSamples hands a slice back for reuse by any analysis when it is short
// enough to be kept; the caller must not use it again.
func putSamples(x []float64) {
	if c := cap(x); c > 0 && c <= maxPooledSamples {
		sampleBufs.Put(&x)
	}
}

// sampleBuffers recycles one analysis's sample buffers: those too long for
// the shared pool are reused by the analysis's next passes and dropped with
// it.
type sampleBuffers struct {
	mu        sync.Mutex
	long      [][]float64 // released buffers over maxPooledSamples
	allocated int64       // bytes of long buffers allocated
}

func (b *sampleBuffers) get(n int) []float64 {
	if n <= maxPooledSamples {
		return getSamples(n)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.long {
		if cap(x) >= n {
			last := len(b.long) - 1
			b.long[i], b.long[last] = b.long[last], nil
			b.long = b.long[:last]
			return x[:n]
		}
	}
	b.allocated += 8 * int64(n)
	return newSamples(n)
}

// put hands a slice back; the caller must not use it again.
func (b *sampleBuffers) put(x []float64) {
	if cap(x) <= maxPooledSamples {
		putSamples(x)
		return
	}
	b.mu.Lock()
	b.long = append(b.long, x)
	b.mu.Unlock()
}

// drop lets the long buffers go, at the end of the analysis. When the
// analysis allocated any, it collects and returns the free memory to the
// system: the collector lets the heap grow to twice what was live at its
// last cycle, which ran while the long channels (and emg's arrays of the
// same length) were live, and the freed spans of one recording's lengths do
// not make room for another's. Without it a server running a 600 s 10 kHz
// file, then a 290 s 24-channel one, then a 600 s 4-channel 10 kHz one
// peaked 60 MB above the last alone (455 MB against 396 MB; with it, 397
// MB). It costs a long file about a tenth more CPU (a GHOSTLY file's
// buffers are short and pooled: no cost).
func (b *sampleBuffers) drop() {
	b.mu.Lock()
	b.long = nil
	big := b.allocated > 0
	b.mu.Unlock()
	if big && !keepFreed.Load() {
		debug.FreeOSMemory()
	}
}

var keepFreed atomic.Bool

// KeepFreedMemory(true) spares the analyses of this process drop's return
// of free memory to the system, for a process whose soft memory limit
// already bounds its heap (emgd analyze): the collector returns memory as
// the heap nears the limit, and the next long file reuses the pages the
// last one freed instead of faulting them in again (three 77 MB files in a
// row: a fifth less CPU, 45 % fewer page faults, peak RSS 145 MB instead of
// 100 MB under analyze's 150 MB limit).
func KeepFreedMemory(keep bool) { keepFreed.Store(keep) }

// readChannels returns the scaled samples of channels chs in one pass over
// the data section, decoded by package c3d into recycled slices.
func (b *sampleBuffers) readChannels(f *c3d.File, chs []int) ([][]float64, error) {
	n := f.SamplesPerChannel()
	dst := make([][]float64, len(chs))
	for i := range dst {
		dst[i] = b.get(n)
	}
	out, err := f.ReadAnalogChannelsInto(chs, dst)
	if err != nil {
		for _, x := range dst {
			b.put(x)
		}
		return nil, err
	}
	return out, nil
}

// readChannels is readChannels with buffers of no analysis in particular
// (long ones are not kept).
func readChannels(f *c3d.File, chs []int) ([][]float64, error) {
	return (&sampleBuffers{}).readChannels(f, chs)
}
