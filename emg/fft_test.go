package emg

import (
	"math"
	"math/cmplx"
	"testing"
)

func naiveDFT(x []complex128) []complex128 {
	n := len(x)
	tw := make([]complex128, n)
	for i := range tw {
		tw[i] = cmplx.Exp(complex(0, -2*math.Pi*float64(i)/float64(n)))
	}
	out := make([]complex128, n)
	for k := 0; k < n; k++ {
		var s complex128
		for j, v := range x {
			s += v * tw[j*k%n]
		}
		out[k] = s
	}
	return out
}

func TestFFTMatchesDFT(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 32, 64, 100, 128, 256, 500, 512, 990, 1024} {
		g := gauss(uint64(n), 2*n)
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(g[2*i], g[2*i+1])
		}
		want := naiveDFT(x)
		got := append([]complex128(nil), x...)
		NewFFT(n).Forward(got)
		for k := range want {
			if cmplx.Abs(got[k]-want[k]) > 1e-9*math.Sqrt(float64(n)) {
				t.Fatalf("n=%d bin %d: %v, want %v", n, k, got[k], want[k])
			}
		}
		NewFFT(n).Inverse(got)
		for i := range x {
			if cmplx.Abs(got[i]-x[i]) > 1e-12*math.Sqrt(float64(n)) {
				t.Fatalf("n=%d inverse sample %d: %v, want %v", n, i, got[i], x[i])
			}
		}
		// real transform of the real parts
		re := make([]float64, n)
		for i := range re {
			re[i] = g[2*i]
		}
		cx := make([]complex128, n)
		for i := range cx {
			cx[i] = complex(re[i], 0)
		}
		wantR := naiveDFT(cx)
		rf := NewRealFFT(n)
		gotR := rf.Forward(nil, re)
		if len(gotR) != n/2+1 {
			t.Fatalf("n=%d: %d real bins", n, len(gotR))
		}
		for k := range gotR {
			if cmplx.Abs(gotR[k]-wantR[k]) > 1e-9*math.Sqrt(float64(n)) {
				t.Fatalf("n=%d real bin %d: %v, want %v", n, k, gotR[k], wantR[k])
			}
		}
		back := rf.Inverse(nil, gotR)
		for i := range re {
			if math.Abs(back[i]-re[i]) > 1e-12*math.Sqrt(float64(n)) {
				t.Fatalf("n=%d irfft sample %d: %v, want %v", n, i, back[i], re[i])
			}
		}
		if rf.fastPower() {
			psd := make([]float64, n/2+1)
			rev := rf.half.rev
			for i, j := range rev {
				rf.buf[j] = complex(re[2*i], re[2*i+1])
			}
			rf.addPower(psd, 1)
			for k := range psd {
				w := real(wantR[k])*real(wantR[k]) + imag(wantR[k])*imag(wantR[k])
				if math.Abs(psd[k]/4-w) > 1e-9*float64(n) {
					t.Fatalf("n=%d power bin %d: %v, want %v", n, k, psd[k], w)
				}
			}
		}
	}
}

// TestSIMDMatchesGo checks that the assembly loops (fft_amd64.s) give the
// results of the Go loops bit for bit: FFTs of several lengths, real FFTs
// and Welch spectra (whose 256-sample path uses all three loops).
func TestSIMDMatchesGo(t *testing.T) {
	if !useSIMD {
		t.Skip("no assembly on this build")
	}
	defer func() { useSIMD = true }()
	same := func(what string, a, b []float64) {
		t.Helper()
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				t.Fatalf("%s [%d]: %v with SIMD, %v without", what, i, a[i], b[i])
			}
		}
	}
	run := func(simd bool, f func() []float64) []float64 {
		useSIMD = simd
		defer func() { useSIMD = true }()
		return f()
	}
	for _, n := range []int{0, 1, 3, 4, 7, 990, 173250} {
		x := gauss(uint64(n)+5, n)
		mom := func() []float64 {
			s, q, a := moments(x)
			return []float64{s, q, a}
		}
		same("moments", run(true, mom), run(false, mom))
	}
	for _, n := range []int{4, 8, 16, 32, 64, 128, 256, 512, 1024, 990} {
		g := gauss(uint64(n)+11, 2*n)
		for i := range g {
			g[i] = 5 + g[i] // an offset: the detrend matters
		}
		fft := func() []float64 {
			x := make([]complex128, n)
			for i := range x {
				x[i] = complex(g[2*i], g[2*i+1])
			}
			NewFFT(n).Forward(x)
			out := make([]float64, 0, 2*n)
			for _, v := range x {
				out = append(out, real(v), imag(v))
			}
			return out
		}
		same("FFT", run(true, fft), run(false, fft))
		for _, seg := range []int{256, 64, 512} {
			if 2*n < seg {
				continue
			}
			welch := func() []float64 {
				w, _ := NewWelch(990, seg)
				p, _ := w.PSD(g)
				return append([]float64(nil), p...)
			}
			same("Welch", run(true, welch), run(false, welch))
		}
	}
}

// TestEnvelopePairMatchesSingle checks that the envelopes of two channels
// filtered together (Go and SSE2 forms) equal those of one channel at a
// time bit for bit.
func TestEnvelopePairMatchesSingle(t *testing.T) {
	defer func(v bool) { useSIMD = v }(useSIMD)
	simd := useSIMD
	for _, fs := range []float64{990, 2000, 30} { // 30 Hz: no high-pass (cutoff above Nyquist)
		n := int(12 * fs)
		raw, _ := synthEMG(fs, n, 3)
		raw2, _ := synthEMG(fs, n, 4)
		ef, err := newEnvelopeFilters(fs)
		if err != nil {
			t.Fatal(err)
		}
		want, want2 := make([]float64, n), make([]float64, n)
		buf := make([]float64, n+2*ef.padlen())
		buf2 := make([]float64, n+2*ef.padlen())
		if ef.envelope(want, raw, buf) != nil || ef.envelope(want2, raw2, buf2) != nil {
			t.Fatal("envelope")
		}
		for _, s := range []bool{false, simd} {
			useSIMD = s
			got, got2 := make([]float64, n), make([]float64, n)
			if err := ef.envelopePair(got, got2, raw, raw2, buf, buf2); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(got2[i]) != math.Float64bits(want2[i]) {
					t.Fatalf("fs %g simd %v sample %d: %v %v, single %v %v", fs, s, i, got[i], got2[i], want[i], want2[i])
				}
			}
		}
	}
}

// TestMovingSumPair checks movingSumPair against movingSum bit for bit,
// around the block length and for windows longer than the signal.
func TestMovingSumPair(t *testing.T) {
	for _, n := range []int{1, 2, 5, 49, 50, 1023, 1024, 1025, 3000, 5000} {
		for _, w := range []int{1, 2, 3, 49, 50, 1500, 6000} {
			x, x2 := gauss(uint64(n), n), gauss(uint64(n)+1, n)
			want, want2 := make([]float64, n), make([]float64, n)
			movingSum(want, x, w, 1/float64(w), false)
			movingSum(want2, x2, w, 1/float64(w), false)
			got, got2 := make([]float64, n), make([]float64, n)
			movingSumPair(got, got2, x, x2, w, 1/float64(w))
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) || math.Float64bits(got2[i]) != math.Float64bits(want2[i]) {
					t.Fatalf("n %d w %d sample %d: %v %v, movingSum %v %v", n, w, i, got[i], got2[i], want[i], want2[i])
				}
			}
		}
	}
}
