package signals

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"emgd/c3d"
	"emgd/emg"
)

// pickReference is how answers were reduced before streaming: over the
// whole decoded window.
func pickReference(x []float64, k, maxPoints int) []int {
	if k < 1 {
		k = 1
	}
	n := (len(x) + k - 1) / k
	if n <= 0 {
		return nil
	}
	if maxPoints <= 0 || n <= maxPoints {
		idx := make([]int, 0, n)
		for i := 0; i < len(x); i += k {
			idx = append(idx, i)
		}
		return idx
	}
	buckets := max(1, maxPoints/2)
	idx := make([]int, 0, 2*buckets)
	for b := 0; b < buckets; b++ {
		p0, p1 := b*n/buckets, (b+1)*n/buckets
		if p0 >= p1 {
			continue
		}
		mi, ma := p0*k, p0*k
		for p := p0; p < p1; p++ {
			i := p * k
			v := x[i]
			if v < x[mi] || math.IsNaN(x[mi]) {
				mi = i
			}
			if v > x[ma] || math.IsNaN(x[ma]) {
				ma = i
			}
		}
		switch {
		case mi == ma:
			idx = append(idx, mi)
		case mi < ma:
			idx = append(idx, mi, ma)
		default:
			idx = append(idx, ma, mi)
		}
	}
	return idx
}

func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

// The streamed reduction (picked samples and RMS envelope) equals, bit for
// bit, the reduction of the whole decoded channel with emg.RMSEnvelope,
// whether the channel streams from a C3D file or from memory, for windows,
// downsampling, caps, rates whose RMS window exceeds the channel, and NaN.
func TestReduceEqualsWholeChannel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	ctx := context.Background()
	for trial := 0; trial < 60; trial++ {
		fs := []float64{990, 2000, 10000, 25, 20, 100}[trial%6]
		spf := []int{1, 10, 3}[trial%3]
		frames := []int{1, 7, 100, 3000, 25000, 70001}[rng.IntN(6)] / spf
		frames = max(1, frames)
		var buf bytes.Buffer
		w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, AnalogLabels: []string{"A", "B"}, AnalogRate: fs, PointRate: fs / float64(spf)})
		if err != nil {
			t.Fatal(err)
		}
		row := make([]float64, 2*spf)
		for fr := 0; fr < frames; fr++ {
			for s := range spf {
				v := rng.NormFloat64() * math.Exp(3*rng.Float64())
				if rng.IntN(5000) == 0 {
					v = math.NaN()
				}
				row[2*s], row[2*s+1] = rng.Float64(), v
			}
			if err := w.WriteFrame(nil, row); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := c3d.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		x, err := f.ReadAnalog(1)
		if err != nil {
			t.Fatal(err)
		}
		n := len(x)
		rms, rmsErr := emg.RMSEnvelope(x, fs)
		for q := 0; q < 6; q++ {
			lo, hi := 0, n
			if q%2 == 1 {
				lo = rng.IntN(n)
				hi = lo + 1 + rng.IntN(n-lo)
			}
			k := []int{1, 1, 3, 17, 1000, 1}[q]
			maxPoints := []int{2, 50, 1000, 1_000_000, 7, 0}[rng.IntN(6)]
			ref := pickReference(x[lo:hi], k, maxPoints)
			for _, withRMS := range []bool{false, true} {
				if withRMS && rmsErr != nil {
					continue
				}
				var win *rmsWindow
				if withRMS {
					win = newRMSWindow(n, fs)
				}
				for _, src := range []source{{f: f, ch: 1}, memSource(x)} {
					got, err := reduce(ctx, n, lo, hi, k, maxPoints, src, nil, win)
					if err != nil {
						t.Fatal(err)
					}
					if len(got.idx) != len(ref) || len(got.data) != len(ref) || (withRMS && len(got.rms) != len(ref)) || (!withRMS && got.rms != nil) {
						t.Fatalf("fs %g n %d [%d,%d) k %d max %d rms %v: %d points, want %d", fs, n, lo, hi, k, maxPoints, withRMS, len(got.idx), len(ref))
					}
					for j, i := range ref {
						i += lo
						if got.idx[j] != i || !same(got.data[j], x[i]) || (withRMS && !same(got.rms[j], rms[i])) {
							t.Fatalf("fs %g n %d [%d,%d) k %d max %d rms %v mem %v: point %d = %d %v (rms %v), want %d %v (rms %v)",
								fs, n, lo, hi, k, maxPoints, withRMS, src.inMem, j, got.idx[j], got.data[j], got.rms, i, x[i], rms)
						}
					}
				}
			}
			// The Processed path: data from memory, RMS of the raw channel.
			proc := make([]float64, n)
			for i := range proc {
				proc[i] = float64(i % 97)
			}
			if rmsErr == nil {
				d := memSource(proc)
				got, err := reduce(ctx, n, lo, hi, k, maxPoints, source{f: f, ch: 1}, &d, newRMSWindow(n, fs))
				if err != nil {
					t.Fatal(err)
				}
				pref := pickReference(proc[lo:hi], k, maxPoints)
				for j, i := range pref {
					i += lo
					if got.idx[j] != i || got.data[j] != proc[i] || !same(got.rms[j], rms[i]) {
						t.Fatalf("processed point %d", j)
					}
				}
			}
		}
	}
}

// A cancelled request stops streaming.
func TestReduceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := make([]float64, 10)
	if _, err := reduce(ctx, 10, 0, 10, 1, 0, memSource(x), nil, nil); err == nil {
		t.Fatal("no error")
	}
}
