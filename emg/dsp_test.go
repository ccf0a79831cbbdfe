package emg

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
	"testing"
)

// tfGain returns |B/A| at f.
func tfGain(b, a []float64, f, fs float64) float64 {
	z := cmplx.Exp(complex(0, -2*math.Pi*f/fs))
	var num, den complex128
	p := complex(1, 0)
	for i := range b {
		num += complex(b[i], 0) * p
		if i < len(a) {
			den += complex(a[i], 0) * p
		}
		p *= z
	}
	return cmplx.Abs(num / den)
}

func TestButterSOSMatchesTF(t *testing.T) {
	// Odd orders exercise the real-pole pairing; the sections must give the
	// transfer function's response.
	for _, d := range []struct {
		order int
		band  BandType
		cut   []float64
	}{{1, Lowpass, []float64{50}}, {3, Lowpass, []float64{30}}, {5, Highpass, []float64{20}}, {3, Bandpass, []float64{20, 300}}, {2, Bandpass, []float64{40, 60}}} {
		z, err := Butter(d.order, d.band, 1000, d.cut...)
		if err != nil {
			t.Fatal(err)
		}
		b, a := z.TF()
		sos := z.SOS()
		for _, f := range []float64{1, 10, 20, 45, 50, 100, 250, 400, 499} {
			g1, g2 := tfGain(b, a, f, 1000), sosGain(sos, f, 1000)
			if math.Abs(g1-g2) > 1e-9*math.Max(1, g1) {
				t.Errorf("%d %v %v at %v Hz: tf %v, sos %v", d.order, d.band, d.cut, f, g1, g2)
			}
		}
		// -3 dB at the cutoffs
		for _, c := range d.cut {
			if g := tfGain(b, a, c, 1000); math.Abs(g-math.Sqrt(0.5)) > 1e-9 {
				t.Errorf("%d %v: gain %v at the %v Hz cutoff", d.order, d.band, g, c)
			}
		}
	}
}

func TestButterErrors(t *testing.T) {
	for _, c := range []struct {
		order int
		band  BandType
		fs    float64
		cut   []float64
	}{
		{0, Lowpass, 1000, []float64{10}},
		{4, Lowpass, 1000, []float64{500}},
		{4, Lowpass, 1000, []float64{0}},
		{4, Highpass, 1000, []float64{-5}},
		{4, Bandpass, 1000, []float64{100}},
		{4, Bandpass, 1000, []float64{300, 100}},
		{4, Lowpass, 0, []float64{10}},
		{4, Lowpass, math.NaN(), []float64{10}},
		{4, BandType(9), 1000, []float64{10}},
	} {
		if _, err := Butter(c.order, c.band, c.fs, c.cut...); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

func TestLFilterMatchesDifferenceEquation(t *testing.T) {
	b := []float64{0.2, 0.3, -0.1}
	a := []float64{2, -0.4, 0.1, 0.05} // normalised by a[0]
	x := gauss(11, 200)
	y, _, err := LFilter(b, a, x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range x {
		s := 0.0
		for k := range b {
			if n-k >= 0 {
				s += b[k] * x[n-k]
			}
		}
		for k := 1; k < len(a); k++ {
			if n-k >= 0 {
				s -= a[k] * y[n-k]
			}
		}
		s /= a[0]
		if math.Abs(s-y[n]) > 1e-12 {
			t.Fatalf("y[%d] = %v, want %v", n, y[n], s)
		}
	}
	// order-4 fast paths agree with the generic recursion
	for _, band := range []BandType{Lowpass, Highpass} {
		z, _ := Butter(4, band, 1000, 30)
		bb, aa := z.TF()
		fast, _, _ := LFilter(bb, aa, x, nil)
		bb[0] += 0 // same coefficients through the generic path:
		gen := append([]float64(nil), x...)
		st := make([]float64, 4)
		bn, an, _ := normalizeBA(bb, aa)
		n := len(bn)
		for i, xi := range gen {
			yi := bn[0]*xi + st[0]
			for k := 1; k < n-1; k++ {
				st[k-1] = bn[k]*xi + st[k] - an[k]*yi
			}
			st[n-2] = bn[n-1]*xi - an[n-1]*yi
			gen[i] = yi
		}
		for i := range gen {
			if math.Abs(gen[i]-fast[i]) > 1e-12*math.Max(1, math.Abs(gen[i])) {
				t.Fatalf("%v: sample %d fast %v generic %v", band, i, fast[i], gen[i])
			}
		}
	}
	if _, _, err := LFilter(b, []float64{0, 1}, x, nil); err == nil {
		t.Error("a[0] = 0: no error")
	}
	if _, _, err := LFilter(b, a, x, []float64{1}); err == nil {
		t.Error("wrong state length: no error")
	}
}

func TestLFilterZISteadyState(t *testing.T) {
	z, _ := Butter(4, Lowpass, 1000, 20)
	b, a := z.TF()
	zi, err := LFilterZI(b, a)
	if err != nil {
		t.Fatal(err)
	}
	ones := make([]float64, 50)
	for i := range ones {
		ones[i] = 1
	}
	y, _, _ := LFilter(b, a, ones, zi)
	for i, v := range y {
		if math.Abs(v-1) > 1e-9 {
			t.Fatalf("step response from the steady state: y[%d] = %v", i, v)
		}
	}
}

func TestFiltFiltErrors(t *testing.T) {
	z, _ := Butter(4, Lowpass, 1000, 20)
	b, a := z.TF()
	if _, err := FiltFilt(b, a, make([]float64, 15)); err == nil {
		t.Error("15 samples (padlen 15): no error")
	}
	if _, err := FiltFilt(b, a, make([]float64, 16)); err != nil {
		t.Errorf("16 samples: %v", err)
	}
	if _, err := SOSFiltFilt(nil, make([]float64, 100)); err == nil {
		t.Error("no sections: no error")
	}
	if _, err := FiltFilt(b, []float64{math.NaN()}, make([]float64, 100)); err == nil {
		t.Error("NaN coefficient: no error")
	}
	// A constant passes a low-pass unchanged (steady-state initial conditions).
	c := make([]float64, 300)
	for i := range c {
		c[i] = 3
	}
	y, _ := FiltFilt(b, a, c)
	for i, v := range y {
		if math.Abs(v-3) > 1e-9 {
			t.Fatalf("constant through filtfilt: y[%d] = %v", i, v)
		}
	}
}

func TestMovingAverageMatchesConvolution(t *testing.T) {
	x := gauss(5, 3000)
	for _, w := range []int{1, 2, 49, 100, 101, 2999, 3000} {
		got, err := MovingAverage(nil, x, w)
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			s := 0.0
			for j := i - w/2; j <= i+(w-1)/2; j++ {
				if j >= 0 && j < len(x) {
					s += x[j]
				}
			}
			if math.Abs(got[i]-s/float64(w)) > 1e-12 {
				t.Fatalf("w=%d i=%d: %v, want %v", w, i, got[i], s/float64(w))
			}
		}
	}
	if _, err := MovingAverage(nil, x, 0); err == nil {
		t.Error("window 0: no error")
	}
}

func TestRMSEnvelope(t *testing.T) {
	x := gauss(6, 2000)
	env, err := RMSEnvelope(x, 1000)
	if err != nil {
		t.Fatal(err)
	}
	w := 50
	for _, i := range []int{0, 10, 24, 25, 1000, 1975, 1999} {
		s := 0.0
		for j := i - w/2; j <= i+(w-1)/2; j++ {
			if j >= 0 && j < len(x) {
				s += x[j] * x[j]
			}
		}
		if want := math.Sqrt(s / float64(w)); math.Abs(env[i]-want) > 1e-12 {
			t.Errorf("env[%d] = %v, want %v", i, env[i], want)
		}
	}
	if len(env) != len(x) {
		t.Errorf("length %d", len(env))
	}
	if _, err := RMSEnvelope(x, 10); err == nil {
		t.Error("fs 10 Hz (empty window): no error")
	}
}

func TestProcessedEnvelope(t *testing.T) {
	raw, _ := synthEMG(1000, 20000, 4)
	env, err := ProcessedEnvelope(raw, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != len(raw) {
		t.Fatalf("length %d", len(env))
	}
	// quiet before the first burst (2 s), active inside it
	if !(env[3000] > 10*env[1000]) {
		t.Errorf("envelope %v in the burst, %v at rest", env[3000], env[1000])
	}
	// equals the steps done one by one
	zh, _ := Butter(4, Highpass, 1000, 20)
	zl, _ := Butter(4, Lowpass, 1000, 10)
	bh, ah := zh.TF()
	bl, al := zl.TF()
	y, _ := FiltFilt(bh, ah, raw)
	for i := range y {
		y[i] = math.Abs(y[i])
	}
	y, _ = FiltFilt(bl, al, y)
	want, _ := MovingAverage(nil, y, 50)
	scale := maxAbs(want)
	for i := range want {
		if math.Abs(env[i]-want[i]) > 1e-12*scale {
			t.Fatalf("env[%d] = %v, want %v", i, env[i], want[i])
		}
	}
	if _, err := ProcessedEnvelope(raw[:10], 1000); err == nil {
		t.Error("10 samples: no error")
	}
	if _, err := ProcessedEnvelope(raw, -1); err == nil {
		t.Error("negative rate: no error")
	}
}

func TestPercentile(t *testing.T) {
	inputs := map[string][]float64{}
	for _, n := range []int{1, 2, 3, 10, 21, 100, 1001, 5000, 20000, 100003} {
		inputs[fmt.Sprint("gauss ", n)] = gauss(uint64(n), n)
	}
	sorted := make([]float64, 50000)
	constant := make([]float64, 30000)
	twoValued := make([]float64, 40000)
	spikes := gauss(3, 60000)
	for i := range sorted {
		sorted[i] = float64(i)
	}
	for i := range constant {
		constant[i] = 2.5
	}
	for i := range twoValued {
		twoValued[i] = float64(i % 7 / 6) // six zeros, then a one
	}
	for i := 0; i < len(spikes); i += 1024 { // the sampled values are outliers
		spikes[i] = 1e6
	}
	inputs["sorted"], inputs["constant"], inputs["two values"], inputs["sampled outliers"] = sorted, constant, twoValued, spikes
	for name, x := range inputs {
		n := len(x)
		s := append([]float64(nil), x...)
		sort.Float64s(s)
		for _, q := range []float64{0, 5, 50, 95, 99.9, 100} {
			got, err := Percentile(x, q)
			if err != nil {
				t.Fatal(err)
			}
			v := q / 100 * float64(n-1)
			lo := int(math.Floor(v))
			want := s[lo]
			if lo+1 < n {
				want = s[lo] + (s[lo+1]-s[lo])*(v-float64(lo))
			}
			if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("%s q=%v: %v, want %v", name, q, got, want)
			}
		}
	}
	x := []float64{3, 1, 2}
	Percentile(x, 50)
	if x[0] != 3 || x[1] != 1 {
		t.Error("Percentile modified its input")
	}
	if _, err := Percentile(nil, 50); err == nil {
		t.Error("empty: no error")
	}
	if _, err := Percentile(x, 101); err == nil {
		t.Error("q 101: no error")
	}
}

func TestWelchAndFeaturesEdges(t *testing.T) {
	if _, err := NewWelch(0, 256); err == nil {
		t.Error("fs 0: no error")
	}
	if _, err := NewWelch(1000, 0); err == nil {
		t.Error("nperseg 0: no error")
	}
	w, _ := NewWelch(1000, 256)
	if _, err := w.PSD(make([]float64, 255)); err == nil {
		t.Error("255 samples: no error")
	}
	// an odd and a non-power-of-two segment length give the generic path's answer
	x := gauss(8, 4000)
	for _, n := range []int{100, 255, 512} {
		f, p, err := WelchPSD(x, 1000, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != n/2+1 || len(p) != n/2+1 {
			t.Fatalf("nperseg %d: %d bins", n, len(p))
		}
		// white noise of unit variance: density about 2/fs on average
		mean := 0.0
		for _, v := range p[1 : len(p)-1] {
			mean += v
		}
		mean /= float64(len(p) - 2)
		if math.Abs(mean-2.0/1000) > 0.2*2.0/1000 {
			t.Errorf("nperseg %d: mean density %v", n, mean)
		}
	}
	// short and flat signals have no spectral features
	f, _ := ComputeFeatures(x[:255], 1000)
	if f.MPF != nil || f.MDF != nil || f.FINSM5 != nil || f.RMS == 0 {
		t.Errorf("255 samples: %+v", f)
	}
	flat := make([]float64, 1000)
	for i := range flat {
		flat[i] = 7
	}
	f, _ = ComputeFeatures(flat, 1000)
	if f.MPF != nil || f.RMS != 7 || f.MAV != 7 {
		t.Errorf("flat: %+v", f)
	}
	// temporal windows: 1 s, step 0.5 s
	tm, err := ComputeTemporal(x, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if tm.RMS.ValidWindows != 7 || tm.MDF.ValidWindows != 7 || tm.MPF.MeanValue == nil {
		t.Errorf("temporal: %+v", tm)
	}
	tm, _ = ComputeTemporal(x[:1999], 1000)
	if tm.RMS.ValidWindows != 2 || tm.RMS.MeanValue != nil {
		t.Errorf("two windows must give null stats: %+v", tm.RMS)
	}
	st := Summarize([]float64{1, 2, 3, 6})
	if *st.MeanValue != 3 || math.Abs(*st.StdValue-math.Sqrt(14.0/3)) > 1e-15 || *st.MinValue != 1 || *st.MaxValue != 6 ||
		math.Abs(*st.CoefficientOfVariation-math.Sqrt(14.0/3)/3) > 1e-15 {
		t.Errorf("Summarize %+v", st)
	}
	if st := Summarize([]float64{-1, 0, 1}); st.CoefficientOfVariation != nil {
		t.Error("mean 0 must give a null coefficient of variation")
	}
	sp := SpectralFeatures([]float64{0, 1, 2, 3}, []float64{0, 0, 0, 0})
	if sp.HasMPF || sp.HasMDF || sp.HasFI {
		t.Errorf("zero spectrum %+v", sp)
	}
}

func ExampleButter() {
	z, err := Butter(4, Lowpass, 990, 10)
	if err != nil {
		panic(err)
	}
	b, a := z.TF()
	fmt.Printf("b[0] = %.6e, a[1] = %.6f, %d sections\n", b[0], a[1], len(z.SOS()))
	// Output: b[0] = 9.345916e-07, a[1] = -3.834167, 2 sections
}

func ExampleFiltFilt() {
	z, _ := Butter(4, Highpass, 1000, 20)
	b, a := z.TF()
	x := make([]float64, 1000)
	for i := range x {
		x[i] = 1 + math.Sin(2*math.Pi*100*float64(i)/1000) // offset + 100 Hz
	}
	y, err := FiltFilt(b, a, x)
	if err != nil {
		panic(err)
	}
	mid := y[100:900] // away from the edges
	mean := 0.0
	for _, v := range mid {
		mean += v
	}
	fmt.Printf("offset %.4f, rms %.4f\n", mean/float64(len(mid)), RMS(mid))
	// Output: offset 0.0000, rms 0.7071
}

func ExampleWelchPSD() {
	x := make([]float64, 2000)
	for i := range x {
		x[i] = math.Sin(2 * math.Pi * 125 * float64(i) / 1000)
	}
	f, p, err := WelchPSD(x, 1000, 256)
	if err != nil {
		panic(err)
	}
	s := SpectralFeatures(f, p)
	fmt.Printf("%d bins, MPF %.1f Hz, MDF %.1f Hz\n", len(p), s.MPF, s.MDF)
	// Output: 129 bins, MPF 125.0 Hz, MDF 125.0 Hz
}
