//go:build !amd64 || purego

package emg

// Without the amd64 assembly (see fft_amd64.go) the Go loops run.
var useSIMD = false

func radix4SSE2(x []complex128, tw []float64, l int)        { panic("emg: no SIMD") }
func powerSSE2(z []complex128, tw []float64, psd []float64) { panic("emg: no SIMD") }

func iir5x2SSE2(cc *[14]float64, st *[10]float64, x, src, x2, src2 []float64, mode int) {
	panic("emg: no SIMD")
}

func pack8SSE2(part, win *[256]float64, z *[128]complex128, idx *[64]int32, mean float64) {
	panic("emg: no SIMD")
}
func moments4SSE2(x []float64, acc *[12]float64)    { panic("emg: no SIMD") }
func sum4SSE2(x []float64) (m0, m1, m2, m3 float64) { panic("emg: no SIMD") }

func msum2SSE2(out, out2, in, in2, old, old2 []float64, s *[2]float64, scale float64) {
	panic("emg: no SIMD")
}
