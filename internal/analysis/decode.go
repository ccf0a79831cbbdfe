package analysis

import (
	"sync"

	"emgd/c3d"
)

// Decoding the analog channels is a tenth of the work of a GHOSTLY file.
// The sample buffers are recycled between analyses (and between the passes
// of one), so that a file costs neither a page-faulting allocation of every
// channel nor the garbage collection of the last file's.

var sampleBufs sync.Pool // *[]float64 of any capacity

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

// readChannels returns the scaled samples of channels chs in one pass over
// the data section, decoded by package c3d into recycled slices.
func readChannels(f *c3d.File, chs []int) ([][]float64, error) {
	n := f.SamplesPerChannel()
	dst := make([][]float64, len(chs))
	for i := range dst {
		dst[i] = getSamples(n)
	}
	out, err := f.ReadAnalogChannelsInto(chs, dst)
	if err != nil {
		for _, x := range dst {
			putSamples(x)
		}
		return nil, err
	}
	return out, nil
}
