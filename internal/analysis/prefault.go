package analysis

import (
	"sync/atomic"
	"unsafe"
)

// A new process pays for each page of a new buffer the first time it is
// written: a trap into the kernel per 4 KB page, about 3,100 of them for a
// 175 s GHOSTLY file (the channels' samples and emg's envelope arrays, 11
// MB), the larger part of what `emgd analyze` costs beyond start-up and the
// analysis itself. With PrefaultBuffers on, each new buffer of
// minPrefaultBytes or more is handed to the kernel at once: on Linux it is
// backed by 2 MB pages where the kernel has them (MADV_HUGEPAGE over the
// 2 MB-aligned range around it) and faulted in by one call
// (MADV_POPULATE_WRITE, Linux 5.14); elsewhere nothing is done.

// minPrefaultBytes is the smallest buffer prefaulted: 256 KB.
const minPrefaultBytes = 256 << 10

var (
	prefaultOn atomic.Bool
	prefaulted atomic.Int64 // buffers handed to prefault
)

// PrefaultBuffers(true) makes the analyses of this process prefault the new
// buffers of 256 KB or more that they allocate (see above), for a
// short-lived process whose every buffer is new (emgd analyze: a GHOSTLY
// file costs about a sixth less CPU, with 2,500 fewer page faults). A
// server leaves it off: its analyses reuse their buffers from job to job
// (no gain measured), and the memory it keeps for long stays in 4 KB pages.
func PrefaultBuffers(on bool) { prefaultOn.Store(on) }

// PrefaultedBuffers returns how many buffers the analyses of this process
// have prefaulted.
func PrefaultedBuffers() int64 { return prefaulted.Load() }

// newSamples returns n zero samples, prefaulted when PrefaultBuffers is on
// and they take minPrefaultBytes or more.
func newSamples(n int) []float64 {
	x := make([]float64, n)
	if n >= minPrefaultBytes/8 && prefaultOn.Load() {
		prefault(uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(n)*8)
		prefaulted.Add(1)
	}
	return x
}
