package emg

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// splitMix64 is the reference generator's PRNG (emg_reference.py).
type splitMix64 struct{ s uint64 }

func (r *splitMix64) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// uniform returns a value in (0, 1].
func (r *splitMix64) uniform() float64 {
	return float64((r.next()>>11)+1) * (1.0 / 9007199254740992.0)
}

// gauss returns n standard normal values by Box-Muller, as the generator.
func gauss(seed uint64, n int) []float64 {
	r := &splitMix64{s: seed}
	out := make([]float64, 0, n+1)
	for len(out) < n {
		u1, u2 := r.uniform(), r.uniform()
		rad := math.Sqrt(-2 * math.Log(u1))
		out = append(out, rad*math.Cos(2*math.Pi*u2), rad*math.Sin(2*math.Pi*u2))
	}
	return out[:n]
}

// bandLimit zeroes the rfft bins outside [lo, hi] (numpy rfft/irfft).
func bandLimit(x []float64, fs, lo, hi float64) []float64 {
	n := len(x)
	rf := NewRealFFT(n)
	X := rf.Forward(nil, x)
	df := 1 / (float64(n) * (1 / fs))
	for k := range X {
		f := float64(k) * df
		if f < lo || f > hi {
			X[k] = 0
		}
	}
	return rf.Inverse(nil, X)
}

// flatMultisine builds unit-magnitude bins with SplitMix64 phases inside
// [lo, hi], scaled to RMS 1.
func flatMultisine(fs float64, n int, lo, hi float64, seed uint64) []float64 {
	r := &splitMix64{s: seed}
	X := make([]complex128, n/2+1)
	for k := range X {
		f := float64(k) * fs / float64(n)
		if f >= lo && f <= hi {
			s, c := math.Sincos(2 * math.Pi * r.uniform())
			X[k] = complex(c, s)
		}
	}
	x := NewRealFFT(n).Inverse(nil, X)
	rms := RMS(x)
	for i := range x {
		x[i] /= rms
	}
	return x
}

// jsonDoc navigates decoded JSON.
type jsonDoc struct {
	t testing.TB
	v any
}

func loadJSON(t testing.TB, path string) jsonDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return jsonDoc{t, v}
}

func (d jsonDoc) get(keys ...any) jsonDoc {
	d.t.Helper()
	v := d.v
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				d.t.Fatalf("not an object at %q", k)
			}
			if v, ok = m[k]; !ok {
				d.t.Fatalf("missing key %q", k)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				d.t.Fatalf("no index %d", k)
			}
			v = a[k]
		}
	}
	return jsonDoc{d.t, v}
}

func (d jsonDoc) has(key string) bool {
	m, ok := d.v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

func (d jsonDoc) f() float64 {
	d.t.Helper()
	x, ok := d.v.(float64)
	if !ok {
		d.t.Fatalf("not a number: %v", d.v)
	}
	return x
}

func (d jsonDoc) floats() []float64 {
	d.t.Helper()
	a, ok := d.v.([]any)
	if !ok {
		d.t.Fatalf("not an array: %v", d.v)
	}
	out := make([]float64, len(a))
	for i, e := range a {
		out[i] = jsonDoc{d.t, e}.f()
	}
	return out
}

func (d jsonDoc) keys() []string {
	m, ok := d.v.(map[string]any)
	if !ok {
		d.t.Fatalf("not an object")
	}
	return sortedKeys(m)
}

// near checks |got-want| <= tol*scale.
func near(t testing.TB, what string, got, want, tol, scale float64) {
	t.Helper()
	if !(math.Abs(got-want) <= tol*scale) {
		t.Errorf("%s = %.17g, want %.17g (diff %.3g, allowed %.3g)", what, got, want, math.Abs(got-want), tol*scale)
	}
}

// rel checks got against want at tol relative to |want|.
func rel(t testing.TB, what string, got, want, tol float64) {
	t.Helper()
	near(t, what, got, want, tol, math.Max(math.Abs(want), 1e-300))
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// checkChecksum compares n, first5, sum and sum of squares of x with a
// reference checksum object, relative to the signal's largest magnitude.
func checkChecksum(t testing.TB, what string, x []float64, ck jsonDoc, tol float64) {
	t.Helper()
	if n := int(ck.get("n").f()); n != len(x) {
		t.Fatalf("%s: %d samples, reference has %d", what, len(x), n)
	}
	m := maxAbs(x)
	for i, w := range ck.get("first5").floats() {
		near(t, fmt.Sprintf("%s[%d]", what, i), x[i], w, tol, m)
	}
	s, ss := 0.0, 0.0
	for _, v := range x {
		s += v
		ss += v * v
	}
	n := float64(len(x))
	near(t, what+" sum", s, ck.get("sum").f(), tol, m*n)
	near(t, what+" sum_sq", ss, ck.get("sum_sq").f(), tol, m*m*n)
	if ck.has("at_idx") {
		at := ck.get("at_idx")
		for _, k := range at.keys() {
			var i int
			fmt.Sscan(k, &i)
			near(t, fmt.Sprintf("%s at %d", what, i), x[i], at.get(k).f(), tol, m)
		}
	}
}
