package emg

import (
	"fmt"
	"math"
	"math/cmplx"
	"strconv"
	"strings"
	"testing"

	"emgd/internal/testenv"
)

// refTol is the relative tolerance against the scipy references: the Go
// and the assembly paths both agree to a few 1e-12 (filtfilt in b/a form
// against scipy's sosfiltfilt is the farthest).
const refTol = 1e-11

func scipyRef(t *testing.T) jsonDoc {
	return loadJSON(t, testenv.Testdata(t, "emg", "emg_reference.json"))
}

func TestReferencePRNG(t *testing.T) {
	ref := scipyRef(t)
	want := ref.get("prng", "gauss_seed_1_first5").floats()
	got := gauss(1, len(want))
	for i := range want {
		rel(t, fmt.Sprintf("gauss(1)[%d]", i), got[i], want[i], 1e-12)
	}
}

func sectionsOf(d jsonDoc) []Section {
	a := d.v.([]any)
	out := make([]Section, len(a))
	for i := range a {
		copy(out[i][:], d.get(i).floats())
	}
	return out
}

func checkSOS(t *testing.T, what string, got []Section, want []Section) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d sections, want %d", what, len(got), len(want))
	}
	m := 0.0
	for _, s := range want {
		m = math.Max(m, maxAbs(s[:]))
	}
	for i := range want {
		for j := range want[i] {
			near(t, fmt.Sprintf("%s[%d][%d]", what, i, j), got[i][j], want[i][j], refTol, m)
		}
	}
}

// sosGain returns |H(exp(i 2 pi f/fs))| of a section cascade.
func sosGain(sos []Section, f, fs float64) float64 {
	z := cmplx.Exp(complex(0, -2*math.Pi*f/fs))
	h := complex(1, 0)
	for _, s := range sos {
		num := complex(s[0], 0) + complex(s[1], 0)*z + complex(s[2], 0)*z*z
		den := complex(s[3], 0) + complex(s[4], 0)*z + complex(s[5], 0)*z*z
		h *= num / den
	}
	return cmplx.Abs(h)
}

func TestReferenceFilters(t *testing.T) {
	ref := scipyRef(t)
	for _, key := range ref.get("filters").keys() {
		t.Run(key, func(t *testing.T) {
			c := ref.get("filters", key)
			fs := parseNum(t, strings.TrimPrefix(key, "fs"))
			bp, err := Butter(4, Bandpass, fs, 20, 450)
			if err != nil {
				t.Fatal(err)
			}
			b, a := bp.TF()
			wb, wa := c.get("bandpass_20_450_N4_b").floats(), c.get("bandpass_20_450_N4_a").floats()
			if len(b) != len(wb) || len(a) != len(wa) {
				t.Fatalf("b/a lengths %d/%d, want %d/%d", len(b), len(a), len(wb), len(wa))
			}
			for i := range wb {
				near(t, fmt.Sprintf("b[%d]", i), b[i], wb[i], refTol, maxAbs(wb))
				near(t, fmt.Sprintf("a[%d]", i), a[i], wa[i], refTol, maxAbs(wa))
			}
			sos := bp.SOS()
			checkSOS(t, "bandpass sos", sos, sectionsOf(c.get("bandpass_20_450_N4_sos")))
			for _, d := range []struct {
				name  string
				order int
				band  BandType
				cut   float64
			}{{"lowpass_6_N2_sos", 2, Lowpass, 6}, {"lowpass_10_N4_sos", 4, Lowpass, 10}, {"highpass_20_N4_sos", 4, Highpass, 20}} {
				z, err := Butter(d.order, d.band, fs, d.cut)
				if err != nil {
					t.Fatal(err)
				}
				checkSOS(t, d.name, z.SOS(), sectionsOf(c.get(d.name)))
			}
			zp, err := NewZeroPhaseSOS(sos)
			if err != nil {
				t.Fatal(err)
			}
			wzi := c.get("sosfilt_zi_bandpass")
			for i := range sos {
				w := wzi.get(i).floats()
				for j := 0; j < 2; j++ {
					near(t, fmt.Sprintf("sosfilt_zi[%d][%d]", i, j), zp.sosZi[i][j], w[j], refTol, 1)
				}
			}
			if got, want := zp.PadLen(), int(c.get("sosfiltfilt_padlen").f()); got != want {
				t.Errorf("sosfiltfilt padlen %d, want %d", got, want)
			}
			zba, err := NewZeroPhase(b, a)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := zba.PadLen(), int(c.get("filtfilt_ba_padlen").f()); got != want {
				t.Errorf("filtfilt padlen %d, want %d", got, want)
			}

			x := gauss(7, int(2*fs))
			checkChecksum(t, "test input", x, c.get("test_input_checksum"), refTol)
			ySOS, err := zp.Apply(nil, x)
			if err != nil {
				t.Fatal(err)
			}
			checkChecksum(t, "sosfiltfilt band-pass", ySOS, c.get("bandpass_sosfiltfilt_out"), refTol)
			yBA, err := FiltFilt(b, a, x)
			if err != nil {
				t.Fatal(err)
			}
			checkChecksum(t, "filtfilt b/a band-pass", yBA, c.get("bandpass_sosfiltfilt_out"), refTol)

			lp6, _ := Butter(2, Lowpass, fs, 6)
			ax := make([]float64, len(x))
			for i, v := range x {
				ax[i] = math.Abs(v)
			}
			yLP, err := SOSFiltFilt(lp6.SOS(), ax)
			if err != nil {
				t.Fatal(err)
			}
			checkChecksum(t, "low-pass 6 Hz of |x|", yLP, c.get("lowpass6_of_abs_sosfiltfilt_out"), refTol)
			lb, la := lp6.TF()
			yLPba, err := FiltFilt(lb, la, ax)
			if err != nil {
				t.Fatal(err)
			}
			checkChecksum(t, "low-pass 6 Hz of |x| (b/a)", yLPba, c.get("lowpass6_of_abs_sosfiltfilt_out"), refTol)

			g := c.get("bandpass_single_pass_gain_at_hz")
			for _, k := range g.keys() {
				var f float64
				fmt.Sscan(k, &f)
				near(t, "gain at "+k+" Hz", sosGain(sos, f, fs), g.get(k).f(), refTol, 1)
			}
		})
	}
}

// stationarySignal rebuilds a stationary_signals entry from its name.
func stationarySignal(t *testing.T, name string) (x []float64, fs float64) {
	t.Helper()
	var lo, hi float64
	switch {
	case strings.HasPrefix(name, "sine100_amp1_fs"):
		fs = parseNum(t, strings.TrimPrefix(strings.Split(name, "_")[2], "fs"))
		phase := 0.0
		if strings.HasSuffix(name, "phase_pi_over_4") {
			phase = math.Pi / 4
		}
		n := int(fs)
		x = make([]float64, n)
		for i := range x {
			x[i] = math.Sin(2*math.Pi*100*(float64(i)/fs) + phase)
		}
	case strings.HasPrefix(name, "flat_multisine_"), strings.HasPrefix(name, "bandnoise_"):
		// <kind>_<lo>_<hi>Hz_fs<fs>_10s
		parts := strings.Split(name, "_")
		k := len(parts)
		lo = parseNum(t, parts[k-4])
		hi = parseNum(t, strings.TrimSuffix(parts[k-3], "Hz"))
		fs = parseNum(t, strings.TrimPrefix(parts[k-2], "fs"))
		if strings.HasPrefix(name, "flat") {
			x = flatMultisine(fs, int(10*fs), lo, hi, 99)
		} else {
			x = bandLimit(gauss(42, int(10*fs)), fs, lo, hi)
		}
	default:
		t.Fatalf("unknown signal %s", name)
	}
	return x, fs
}

func TestReferenceFeatures(t *testing.T) {
	ref := scipyRef(t)
	sig := ref.get("stationary_signals")
	for _, name := range sig.keys() {
		t.Run(name, func(t *testing.T) {
			d := sig.get(name)
			x, fs := stationarySignal(t, name)
			if d.has("x_checksum") {
				checkChecksum(t, "input", x, d.get("x_checksum"), refTol)
			}
			f, err := ComputeFeatures(x, fs)
			if err != nil {
				t.Fatal(err)
			}
			rel(t, "rms", f.RMS, d.get("rms").f(), refTol)
			rel(t, "mav", f.MAV, d.get("mav").f(), refTol)
			if f.MPF == nil || f.MDF == nil || f.FINSM5 == nil {
				t.Fatalf("spectral features missing: %+v", f)
			}
			rel(t, "mpf", *f.MPF, d.get("mpf_hz").f(), refTol)
			rel(t, "mdf", *f.MDF, d.get("mdf_ge_hz").f(), refTol)
			rel(t, "fi_nsm5", *f.FINSM5, d.get("finsm5").f(), refTol)
			freqs, psd, err := WelchPSD(x, fs, 256)
			if err != nil {
				t.Fatal(err)
			}
			tot := 0.0
			for _, p := range psd {
				tot += p
			}
			rel(t, "sum of PSD", tot, d.get("total_power_density_sum").f(), refTol)
			if len(freqs) != 129 || freqs[128] != fs/2 {
				t.Errorf("frequencies: %d bins up to %v", len(freqs), freqs[len(freqs)-1])
			}
		})
	}
}

func parseNum(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return v
}
