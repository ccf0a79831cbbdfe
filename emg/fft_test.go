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
			rf.addPower(psd, false)
			for k := range psd {
				w := real(wantR[k])*real(wantR[k]) + imag(wantR[k])*imag(wantR[k])
				if math.Abs(psd[k]/4-w) > 1e-9*float64(n) {
					t.Fatalf("n=%d power bin %d: %v, want %v", n, k, psd[k], w)
				}
			}
		}
	}
}
