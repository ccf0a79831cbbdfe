//go:build !purego

package emg

// On amd64 the loops that dominate the Welch spectra (the segment sums,
// packing a 256-sample segment together with the first radix-4 stage, the
// twiddled radix-4 stages, the paired power bins of the real split) run as
// SSE2 assembly in fft_amd64.s, one complex value per register instead of
// two scalars: about half the instructions, the same IEEE operations lane by
// lane, so the same results bit for bit. So do the envelope filters'
// recursion and moving sums on two channels at once (lfilter5symFrom2,
// movingSumPair), one channel per lane, and the moments of a signal. The Go
// loops remain as the reference (and the code on other architectures, or
// with the purego build tag); tests set useSIMD to false to compare.
var useSIMD = true

//go:noescape
func radix4SSE2(x []complex128, tw []float64, l int)

//go:noescape
func powerSSE2(z []complex128, tw []float64, psd []float64)

//go:noescape
func iir5x2SSE2(cc *[14]float64, st *[10]float64, x, src, x2, src2 []float64, mode int)

//go:noescape
func pack8SSE2(part, win *[256]float64, z *[128]complex128, idx *[64]int32, mean float64)

//go:noescape
func moments4SSE2(x []float64, acc *[12]float64)

//go:noescape
func sum4SSE2(x []float64) (m0, m1, m2, m3 float64)

//go:noescape
func msum2SSE2(out, out2, in, in2, old, old2 []float64, s *[2]float64, scale float64)
