package emg

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
)

// BandType selects the response of a Butterworth design.
type BandType int

const (
	Lowpass BandType = iota
	Highpass
	Bandpass
)

func (t BandType) String() string {
	switch t {
	case Lowpass:
		return "lowpass"
	case Highpass:
		return "highpass"
	case Bandpass:
		return "bandpass"
	}
	return fmt.Sprintf("BandType(%d)", int(t))
}

// ZPK is a digital filter as zeros, poles and gain.
type ZPK struct {
	Z []complex128
	P []complex128
	K float64
}

// Section is one second-order section [b0 b1 b2 a0 a1 a2] (a0 = 1), as the
// rows of scipy's sos arrays.
type Section [6]float64

// Butter designs a digital Butterworth filter of the given order, equal to
// scipy.signal.butter(order, cutoffs, btype, fs=fs, output='zpk'): analog
// prototype, pre-warped band edges, bilinear transform. Lowpass and Highpass
// take one cutoff in Hz, Bandpass two (low, high); every cutoff must lie
// strictly between 0 and fs/2. A band-pass of order N has 2N poles.
func Butter(order int, band BandType, fs float64, cutoffs ...float64) (ZPK, error) {
	if order < 1 || order > 32 {
		return ZPK{}, fmt.Errorf("emg: Butterworth order %d outside 1..32", order)
	}
	if !(fs > 0) || math.IsInf(fs, 0) {
		return ZPK{}, fmt.Errorf("emg: sampling rate %v must be positive and finite", fs)
	}
	want := 1
	if band == Bandpass {
		want = 2
	} else if band != Lowpass && band != Highpass {
		return ZPK{}, fmt.Errorf("emg: unknown band type %v", band)
	}
	if len(cutoffs) != want {
		return ZPK{}, fmt.Errorf("emg: %v design needs %d cutoff frequencies, got %d", band, want, len(cutoffs))
	}
	const fs2 = 2.0 // designs run at a normalised sampling rate of 2
	warped := make([]float64, len(cutoffs))
	for i, c := range cutoffs {
		wn := 2 * c / fs
		if !(wn > 0 && wn < 1) {
			return ZPK{}, fmt.Errorf("emg: cutoff %v Hz must lie strictly between 0 and fs/2 = %v Hz", c, fs/2)
		}
		warped[i] = 2 * fs2 * math.Tan(math.Pi*wn/fs2)
	}
	if band == Bandpass && !(cutoffs[0] < cutoffs[1]) {
		return ZPK{}, fmt.Errorf("emg: band-pass edges %v and %v Hz must be increasing", cutoffs[0], cutoffs[1])
	}
	// Analog prototype: no zeros, poles on the left unit half-circle.
	p := make([]complex128, order)
	for i := range p {
		m := float64(-order + 1 + 2*i)
		p[i] = -cmplx.Exp(complex(0, math.Pi*m/float64(2*order)))
	}
	var z []complex128
	k := 1.0
	switch band {
	case Lowpass:
		wo := warped[0]
		for i := range p {
			p[i] *= complex(wo, 0)
		}
		k *= math.Pow(wo, float64(len(p)-len(z)))
	case Highpass:
		wo := warped[0]
		degree := len(p) - len(z)
		num, den := complex(1, 0), complex(1, 0)
		for _, v := range z {
			num *= -v
		}
		for _, v := range p {
			den *= -v
		}
		for i := range p {
			p[i] = complex(wo, 0) / p[i]
		}
		for i := 0; i < degree; i++ {
			z = append(z, 0)
		}
		k *= real(num / den)
	case Bandpass:
		bw := warped[1] - warped[0]
		wo := math.Sqrt(warped[0] * warped[1])
		degree := len(p) - len(z)
		hb := complex(bw/2, 0)
		wo2 := complex(wo*wo, 0)
		pp := make([]complex128, 0, 2*len(p))
		for _, v := range p {
			v *= hb
			pp = append(pp, v+cmplx.Sqrt(v*v-wo2))
		}
		for _, v := range p {
			v *= hb
			pp = append(pp, v-cmplx.Sqrt(v*v-wo2))
		}
		p = pp
		for i := 0; i < degree; i++ {
			z = append(z, 0)
		}
		k *= math.Pow(bw, float64(degree))
	}
	// Bilinear transform at fs = 2.
	const f2 = 2 * fs2
	degree := len(p) - len(z)
	num, den := complex(1, 0), complex(1, 0)
	for i, v := range z {
		num *= complex(f2, 0) - v
		z[i] = (complex(f2, 0) + v) / (complex(f2, 0) - v)
	}
	for i, v := range p {
		den *= complex(f2, 0) - v
		p[i] = (complex(f2, 0) + v) / (complex(f2, 0) - v)
	}
	for i := 0; i < degree; i++ {
		z = append(z, -1)
	}
	k *= real(num / den)
	return ZPK{Z: z, P: p, K: k}, nil
}

// poly returns the monic polynomial with the given roots (numpy.poly), real part.
func poly(roots []complex128) []float64 {
	c := []complex128{1}
	for _, r := range roots {
		next := make([]complex128, len(c)+1)
		for i, v := range c {
			next[i] += v
			next[i+1] -= v * r
		}
		c = next
	}
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = real(v)
	}
	return out
}

// TF returns the transfer-function coefficients b, a (scipy zpk2tf); a[0] = 1.
// High orders lose precision in this form; prefer SOS for band-pass designs of
// order above 4.
func (f ZPK) TF() (b, a []float64) {
	b = poly(f.Z)
	for i := range b {
		b[i] *= f.K
	}
	a = poly(f.P)
	// zpk2tf pads nothing: len(b) = len(Z)+1, len(a) = len(P)+1 (equal for Butterworth).
	return b, a
}

// SOS returns second-order sections equal to scipy.signal.zpk2sos with its
// default 'nearest' pairing: poles closest to the unit circle go last, each
// paired with its nearest zeros; the gain sits in the first section.
func (f ZPK) SOS() []Section {
	z := append([]complex128(nil), f.Z...)
	p := append([]complex128(nil), f.P...)
	if len(z) == 0 && len(p) == 0 {
		return []Section{{f.K, 0, 0, 1, 0, 0}}
	}
	nSec := (max(len(p), len(z)) + 1) / 2
	for len(p) < len(z) {
		p = append(p, 0)
	}
	for len(z) < len(p) {
		z = append(z, 0)
	}
	if len(p)%2 == 1 {
		p = append(p, 0)
		z = append(z, 0)
	}
	z = cplxReal(z)
	p = cplxReal(p)
	isReal := func(c complex128) bool { return imag(c) == 0 }
	del := func(s []complex128, i int) []complex128 { return append(s[:i:i], s[i+1:]...) }
	nearestKind := func(from []complex128, to complex128, wantReal bool) int {
		best, bd := -1, math.Inf(1)
		for i, v := range from {
			if isReal(v) != wantReal {
				continue
			}
			if d := cmplx.Abs(v - to); d < bd {
				best, bd = i, d
			}
		}
		return best
	}
	type pair struct{ p1, p2, z1, z2 complex128 }
	secs := make([]pair, nSec)
	for si := 0; si < nSec; si++ {
		// next "worst" pole: closest to the unit circle
		i1, bd := 0, math.Inf(1)
		for i, v := range p {
			if d := math.Abs(1 - cmplx.Abs(v)); d < bd {
				i1, bd = i, d
			}
		}
		p1 := p[i1]
		p = del(p, i1)
		var p2, z1, z2 complex128
		nRealP := 0
		for _, v := range p {
			if isReal(v) {
				nRealP++
			}
		}
		if isReal(p1) && nRealP == 0 {
			// last remaining real pole
			zi := nearestKind(z, p1, true)
			if zi < 0 {
				zi = 0
			}
			z1 = z[zi]
			z = del(z, zi)
		} else {
			nRealZ := 0
			for _, v := range z {
				if isReal(v) {
					nRealZ++
				}
			}
			var zi int
			if !isReal(p1) && nRealZ == 1 {
				zi = nearestKind(z, p1, false)
			} else {
				zi, bd = 0, math.Inf(1)
				for i, v := range z {
					if d := cmplx.Abs(p1 - v); d < bd {
						zi, bd = i, d
					}
				}
			}
			z1 = z[zi]
			z = del(z, zi)
			if !isReal(p1) {
				p2 = conj(p1)
				if !isReal(z1) {
					z2 = conj(z1)
				} else {
					zj := nearestKind(z, p1, true)
					z2 = z[zj]
					z = del(z, zj)
				}
			} else {
				var pj int
				if !isReal(z1) {
					z2 = conj(z1)
					pj = nearestKind(p, z1, true)
				} else {
					pj, bd = -1, math.Inf(1)
					for i, v := range p {
						if !isReal(v) {
							continue
						}
						if d := math.Abs(cmplx.Abs(v) - 1); d < bd {
							pj, bd = i, d
						}
					}
					zj := nearestKind(z, p[pj], true)
					z2 = z[zj]
					z = del(z, zj)
				}
				p2 = p[pj]
				p = del(p, pj)
			}
		}
		secs[si] = pair{p1, p2, z1, z2}
	}
	out := make([]Section, nSec)
	for i := range secs {
		s := secs[nSec-1-i] // reversed: worst poles last
		g := 1.0
		if i == 0 {
			g = f.K
		}
		b := poly([]complex128{s.z1, s.z2})
		a := poly([]complex128{s.p1, s.p2})
		out[i] = Section{g * b[0], g * b[1], g * b[2], a[0], a[1], a[2]}
	}
	return out
}

// cplxReal orders roots as scipy's _cplxreal: one member (positive imaginary
// part) of each conjugate pair sorted by real part, then the real roots sorted.
func cplxReal(z []complex128) []complex128 {
	const tol = 100 * 2.220446049250313e-16
	var cp, re []complex128
	for _, v := range z {
		if math.Abs(imag(v)) <= tol*cmplx.Abs(v) {
			re = append(re, complex(real(v), 0))
		} else if imag(v) > 0 {
			cp = append(cp, v)
		}
	}
	sort.SliceStable(cp, func(i, j int) bool {
		if real(cp[i]) != real(cp[j]) {
			return real(cp[i]) < real(cp[j])
		}
		return imag(cp[i]) < imag(cp[j])
	})
	sort.SliceStable(re, func(i, j int) bool { return real(re[i]) < real(re[j]) })
	return append(cp, re...)
}
