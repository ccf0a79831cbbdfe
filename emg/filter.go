package emg

import (
	"errors"
	"fmt"
	"math"
)

// LFilter filters x with the rational transfer function b/a in direct form II
// transposed (scipy.signal.lfilter), starting from the state zi (nil for
// zeros; len(zi) = max(len(a), len(b)) - 1). It returns the output and the
// final state.
func LFilter(b, a, x, zi []float64) (y, zf []float64, err error) {
	bn, an, err := normalizeBA(b, a)
	if err != nil {
		return nil, nil, err
	}
	n := len(bn)
	z := make([]float64, n-1)
	if zi != nil {
		if len(zi) != n-1 {
			return nil, nil, fmt.Errorf("emg: initial state has %d values, filter needs %d", len(zi), n-1)
		}
		copy(z, zi)
	}
	y = append([]float64(nil), x...)
	lfilterInPlace(bn, an, z, y, false)
	return y, z, nil
}

// normalizeBA pads b and a to a common length and divides by a[0].
func normalizeBA(b, a []float64) (bn, an []float64, err error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, nil, errors.New("emg: filter coefficients b and a must not be empty")
	}
	if a[0] == 0 {
		return nil, nil, errors.New("emg: filter coefficient a[0] must not be zero")
	}
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, errors.New("emg: filter coefficients must be finite")
		}
	}
	for _, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, errors.New("emg: filter coefficients must be finite")
		}
	}
	n := max(len(a), len(b))
	bn = make([]float64, n)
	an = make([]float64, n)
	for i, v := range b {
		bn[i] = v / a[0]
	}
	for i, v := range a {
		an[i] = v / a[0]
	}
	return bn, an, nil
}

// lfilterInPlace filters x in place (backward: from the last sample to the
// first), updating the state z. b and a are normalised and of equal length.
func lfilterInPlace(b, a, z, x []float64, backward bool) {
	if len(b) == 5 && b[0] == b[4] && b[1] == b[3] {
		lfilter5sym((*[5]float64)(b), (*[5]float64)(a), (*[4]float64)(z), x, backward, false)
		return
	}
	if len(b) == 9 {
		lfilter9((*[9]float64)(b), (*[9]float64)(a), (*[8]float64)(z), x, backward)
		return
	}
	if len(b) == 5 {
		lfilter5((*[5]float64)(b), (*[5]float64)(a), (*[4]float64)(z), x, backward)
		return
	}
	n := len(b)
	step, i, end := 1, 0, len(x)
	if backward {
		step, i, end = -1, len(x)-1, -1
	}
	if n == 1 {
		for ; i != end; i += step {
			x[i] *= b[0]
		}
		return
	}
	b0 := b[0]
	for ; i != end; i += step {
		xi := x[i]
		y := b0*xi + z[0]
		for k := 1; k < n-1; k++ {
			z[k-1] = b[k]*xi + z[k] - a[k]*y
		}
		z[n-2] = b[n-1]*xi - a[n-1]*y
		x[i] = y
	}
}

// lfilter5 is lfilterInPlace for order-4 transfer functions (5 coefficients),
// the case of every low- and high-pass in the pipeline. It carries
// q = z0 + a1*y(previous) instead of z0, so that the recursion from one
// output to the next is one multiply and one subtract.
func lfilter5(b, a *[5]float64, z *[4]float64, x []float64, backward bool) {
	// Coefficients are read through c inside the loops: loads are off the
	// recursion's critical path, and keeping them out of registers leaves
	// room for the state (no spills on the y -> y dependency).
	c := &[9]float64{b[0], b[1], b[2], b[3], b[4], a[1], a[2], a[3], a[4]}
	// z0 = q - a1*yp; start from yp = 0, q = z0.
	q, yp, z1, z2, z3 := z[0], 0.0, z[1], z[2], z[3]
	if backward {
		for i := len(x) - 1; i >= 0; i-- {
			xi := x[i]
			y := (c[0]*xi + q) - c[5]*yp
			q = c[1]*xi + z1
			z1 = (c[2]*xi + z2) - c[6]*y
			z2 = (c[3]*xi + z3) - c[7]*y
			z3 = c[4]*xi - c[8]*y
			x[i] = y
			yp = y
		}
	} else {
		for i, xi := range x {
			y := (c[0]*xi + q) - c[5]*yp
			q = c[1]*xi + z1
			z1 = (c[2]*xi + z2) - c[6]*y
			z2 = (c[3]*xi + z3) - c[7]*y
			z3 = c[4]*xi - c[8]*y
			x[i] = y
			yp = y
		}
	}
	z[0], z[1], z[2], z[3] = q-c[5]*yp, z1, z2, z3
}

// lfilter5sym is lfilter5 for symmetric numerators (b0 = b4, b1 = b3), as
// every Butterworth low- and high-pass has: three products of x instead of
// five leave every coefficient and state in a register.
// With absOut (backward only) it stores |y| instead of y.
func lfilter5sym(b, a *[5]float64, z *[4]float64, x []float64, backward, absOut bool) {
	lfilter5symFrom(b, a, z, x, x, backward, absOut)
}

// lfilter5symFrom is lfilter5sym reading its input from src (forward only
// when src is not x; len(src) = len(x)).
func lfilter5symFrom(b, a *[5]float64, z *[4]float64, x, src []float64, backward, absOut bool) {
	c := &[7]float64{b[0], b[1], b[2], a[1], a[2], a[3], a[4]}
	q, yp, z1, z2, z3 := z[0], 0.0, z[1], z[2], z[3]
	if backward && absOut {
		for i := len(x) - 1; i >= 0; i-- {
			xi := x[i]
			p0, p1 := c[0]*xi, c[1]*xi
			y := (p0 + q) - c[3]*yp
			q = p1 + z1
			z1 = (c[2]*xi + z2) - c[4]*y
			z2 = (p1 + z3) - c[5]*y
			z3 = p0 - c[6]*y
			x[i] = math.Abs(y)
			yp = y
		}
	} else if backward {
		for i := len(x) - 1; i >= 0; i-- {
			xi := x[i]
			p0, p1 := c[0]*xi, c[1]*xi
			y := (p0 + q) - c[3]*yp
			q = p1 + z1
			z1 = (c[2]*xi + z2) - c[4]*y
			z2 = (p1 + z3) - c[5]*y
			z3 = p0 - c[6]*y
			x[i] = y
			yp = y
		}
	} else {
		x = x[:len(src)]
		for i, xi := range src {
			p0, p1 := c[0]*xi, c[1]*xi
			y := (p0 + q) - c[3]*yp
			q = p1 + z1
			z1 = (c[2]*xi + z2) - c[4]*y
			z2 = (p1 + z3) - c[5]*y
			z3 = p0 - c[6]*y
			x[i] = y
			yp = y
		}
	}
	z[0], z[1], z[2], z[3] = q-c[3]*yp, z1, z2, z3
}

// lfilter9 is lfilterInPlace for order-8 transfer functions (9
// coefficients), the order-4 band-pass of the standard profile.
func lfilter9(b, a *[9]float64, z *[8]float64, x []float64, backward bool) {
	c := &[17]float64{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], 0, a[1], a[2], a[3], a[4], a[5], a[6], a[7]}
	a8 := a[8]
	q, yp := z[0], 0.0
	z1, z2, z3, z4, z5, z6, z7 := z[1], z[2], z[3], z[4], z[5], z[6], z[7]
	step := func(xi float64) float64 {
		y := (c[0]*xi + q) - c[10]*yp
		q = c[1]*xi + z1
		z1 = (c[2]*xi + z2) - c[11]*y
		z2 = (c[3]*xi + z3) - c[12]*y
		z3 = (c[4]*xi + z4) - c[13]*y
		z4 = (c[5]*xi + z5) - c[14]*y
		z5 = (c[6]*xi + z6) - c[15]*y
		z6 = (c[7]*xi + z7) - c[16]*y
		z7 = c[8]*xi - a8*y
		yp = y
		return y
	}
	if backward {
		for i := len(x) - 1; i >= 0; i-- {
			x[i] = step(x[i])
		}
	} else {
		for i, xi := range x {
			x[i] = step(xi)
		}
	}
	z[0], z[1], z[2], z[3], z[4], z[5], z[6], z[7] = q-c[10]*yp, z1, z2, z3, z4, z5, z6, z7
}

// LFilterZI returns the initial state for LFilter that corresponds to the
// steady state of a unit step input (scipy.signal.lfilter_zi).
func LFilterZI(b, a []float64) ([]float64, error) {
	bn, an, err := normalizeBA(b, a)
	if err != nil {
		return nil, err
	}
	return lfilterZI(bn, an)
}

func lfilterZI(b, a []float64) ([]float64, error) {
	n := len(b)
	if n < 2 {
		return []float64{}, nil
	}
	m := n - 1
	// (I - A^T) zi = b[1:] - a[1:]*b[0], A the companion matrix of a.
	mat := make([][]float64, m)
	rhs := make([]float64, m)
	for i := 0; i < m; i++ {
		row := make([]float64, m)
		row[i] = 1
		row[0] += a[i+1]
		if i+1 < m {
			row[i+1] -= 1
		}
		mat[i] = row
		rhs[i] = b[i+1] - a[i+1]*b[0]
	}
	x, err := solve(mat, rhs)
	if err != nil {
		return nil, fmt.Errorf("emg: filter has no steady state for a step input: %w", err)
	}
	return x, nil
}

// solve runs Gaussian elimination with partial pivoting (mat and rhs are overwritten).
func solve(mat [][]float64, rhs []float64) ([]float64, error) {
	m := len(rhs)
	for c := 0; c < m; c++ {
		p := c
		for r := c + 1; r < m; r++ {
			if math.Abs(mat[r][c]) > math.Abs(mat[p][c]) {
				p = r
			}
		}
		if mat[p][c] == 0 {
			return nil, errors.New("singular system")
		}
		mat[c], mat[p] = mat[p], mat[c]
		rhs[c], rhs[p] = rhs[p], rhs[c]
		for r := c + 1; r < m; r++ {
			f := mat[r][c] / mat[c][c]
			if f == 0 {
				continue
			}
			for k := c; k < m; k++ {
				mat[r][k] -= f * mat[c][k]
			}
			rhs[r] -= f * rhs[c]
		}
	}
	x := make([]float64, m)
	for r := m - 1; r >= 0; r-- {
		s := rhs[r]
		for k := r + 1; k < m; k++ {
			s -= mat[r][k] * x[k]
		}
		x[r] = s / mat[r][r]
	}
	return x, nil
}

// ZeroPhase applies a filter forward and backward (zero phase, squared
// magnitude response) with odd extension of the input at both ends and
// steady-state initial conditions, as scipy.signal.filtfilt (transfer-function
// form, default padlen 3*max(len(a), len(b))) or scipy.signal.sosfiltfilt
// (second-order sections). A ZeroPhase reuses its scratch buffer between
// calls: it is not safe for concurrent use.
type ZeroPhase struct {
	b, a, zi []float64 // transfer-function form
	sos      []Section // second-order-section form
	sosZi    [][2]float64
	padlen   int
	buf      []float64
	state    []float64
}

// NewZeroPhase prepares filtfilt with transfer-function coefficients b, a.
func NewZeroPhase(b, a []float64) (*ZeroPhase, error) {
	bn, an, err := normalizeBA(b, a)
	if err != nil {
		return nil, err
	}
	zi, err := lfilterZI(bn, an)
	if err != nil {
		return nil, err
	}
	return &ZeroPhase{b: bn, a: an, zi: zi, padlen: 3 * max(len(a), len(b)), state: make([]float64, len(zi))}, nil
}

// NewZeroPhaseSOS prepares sosfiltfilt with second-order sections.
func NewZeroPhaseSOS(sos []Section) (*ZeroPhase, error) {
	if len(sos) == 0 {
		return nil, errors.New("emg: no second-order sections")
	}
	f := &ZeroPhase{sos: append([]Section(nil), sos...), sosZi: make([][2]float64, len(sos))}
	scale := 1.0
	zb2, za2 := 0, 0
	for i, s := range sos {
		for _, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errors.New("emg: filter coefficients must be finite")
			}
		}
		if s[3] != 1 {
			return nil, fmt.Errorf("emg: section %d has a0 = %v, want 1", i, s[3])
		}
		zi, err := lfilterZI(s[0:3], s[3:6])
		if err != nil {
			return nil, err
		}
		f.sosZi[i] = [2]float64{scale * zi[0], scale * zi[1]}
		scale *= (s[0] + s[1] + s[2]) / (s[3] + s[4] + s[5])
		if s[2] == 0 {
			zb2++
		}
		if s[5] == 0 {
			za2++
		}
	}
	f.padlen = 3 * (2*len(sos) + 1 - min(zb2, za2))
	return f, nil
}

// PadLen returns the number of samples added at each end.
func (f *ZeroPhase) PadLen() int { return f.padlen }

// Apply filters x forward and backward into dst (grown as needed; dst may be
// x itself) and returns it. x must be longer than PadLen().
func (f *ZeroPhase) Apply(dst, x []float64) ([]float64, error) {
	n := len(x)
	if n <= f.padlen {
		return nil, fmt.Errorf("emg: zero-phase filtering needs more than %d samples, got %d", f.padlen, n)
	}
	need := n + 2*f.padlen
	if cap(f.buf) < need {
		f.buf = make([]float64, need)
	}
	buf := f.buf[:need]
	copy(buf[f.padlen:], x)
	f.run(buf)
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	copy(dst, buf[f.padlen:f.padlen+n])
	return dst, nil
}

// oddExtend fills the padlen samples at each end of buf from its middle part
// (odd extension about the first and last samples).
func oddExtend(buf []float64, padlen int) {
	n := len(buf) - 2*padlen
	mid := buf[padlen : padlen+n]
	x0, xl := mid[0], mid[n-1]
	for i := 1; i <= padlen; i++ {
		buf[padlen-i] = 2*x0 - mid[i]
		buf[padlen+n-1+i] = 2*xl - mid[n-1-i]
	}
}

// run filters buf in place; buf holds the signal in its middle with padlen
// free samples at each end, which it fills first.
func (f *ZeroPhase) run(buf []float64) { f.runMode(buf, false) }

// runAbsFrom is run followed by full-wave rectification (fused into the
// backward pass where the filter allows), with the signal taken from x
// instead of the middle of buf, saving the copy: the forward pass reads x
// and writes buf's middle.
func (f *ZeroPhase) runAbsFrom(buf, x []float64) {
	p := f.padlen
	n := len(x)
	if f.sos != nil || len(f.b) != 5 || f.b[0] != f.b[4] || f.b[1] != f.b[3] {
		copy(buf[p:p+n], x)
		f.runMode(buf, true)
		return
	}
	x0, xl := x[0], x[n-1]
	for i := 1; i <= p; i++ {
		buf[p-i] = 2*x0 - x[i]
		buf[p+n-1+i] = 2*xl - x[n-1-i]
	}
	b, a := (*[5]float64)(f.b), (*[5]float64)(f.a)
	z := (*[4]float64)(f.state)
	for i, v := range f.zi {
		z[i] = v * buf[0]
	}
	lfilter5symFrom(b, a, z, buf[:p], buf[:p], false, false)
	lfilter5symFrom(b, a, z, buf[p:p+n], x, false, false)
	lfilter5symFrom(b, a, z, buf[p+n:], buf[p+n:], false, false)
	y0 := buf[len(buf)-1]
	for i, v := range f.zi {
		z[i] = v * y0
	}
	lfilter5symFrom(b, a, z, buf, buf, true, true)
}

func (f *ZeroPhase) runMode(buf []float64, abs bool) {
	oddExtend(buf, f.padlen)
	if f.sos != nil {
		x0 := buf[0]
		for i, s := range f.sos {
			z := [2]float64{f.sosZi[i][0] * x0, f.sosZi[i][1] * x0}
			biquad(&s, &z, buf, false)
		}
		y0 := buf[len(buf)-1]
		for i, s := range f.sos {
			z := [2]float64{f.sosZi[i][0] * y0, f.sosZi[i][1] * y0}
			biquad(&s, &z, buf, true)
		}
		if abs {
			for i, v := range buf {
				buf[i] = math.Abs(v)
			}
		}
		return
	}
	z := f.state
	x0 := buf[0]
	for i, v := range f.zi {
		z[i] = v * x0
	}
	lfilterInPlace(f.b, f.a, z, buf, false)
	y0 := buf[len(buf)-1]
	for i, v := range f.zi {
		z[i] = v * y0
	}
	if abs && len(f.b) == 5 && f.b[0] == f.b[4] && f.b[1] == f.b[3] {
		lfilter5symFrom((*[5]float64)(f.b), (*[5]float64)(f.a), (*[4]float64)(z), buf, buf, true, true)
		return
	}
	lfilterInPlace(f.b, f.a, z, buf, true)
	if abs {
		for i, v := range buf {
			buf[i] = math.Abs(v)
		}
	}
}

func biquad(s *Section, z *[2]float64, x []float64, backward bool) {
	b0, b1, b2, a1, a2 := s[0], s[1], s[2], s[4], s[5]
	z0, z1 := z[0], z[1]
	if backward {
		for i := len(x) - 1; i >= 0; i-- {
			xi := x[i]
			y := b0*xi + z0
			z0 = b1*xi + z1 - a1*y
			z1 = b2*xi - a2*y
			x[i] = y
		}
	} else {
		for i, xi := range x {
			y := b0*xi + z0
			z0 = b1*xi + z1 - a1*y
			z1 = b2*xi - a2*y
			x[i] = y
		}
	}
	z[0], z[1] = z0, z1
}

// FiltFilt is scipy.signal.filtfilt(b, a, x) with its defaults (odd padding,
// padlen 3*max(len(a), len(b))). It returns a new slice.
func FiltFilt(b, a, x []float64) ([]float64, error) {
	f, err := NewZeroPhase(b, a)
	if err != nil {
		return nil, err
	}
	return f.Apply(nil, x)
}

// SOSFiltFilt is scipy.signal.sosfiltfilt(sos, x) with its defaults.
func SOSFiltFilt(sos []Section, x []float64) ([]float64, error) {
	f, err := NewZeroPhaseSOS(sos)
	if err != nil {
		return nil, err
	}
	return f.Apply(nil, x)
}

// lfilter5symFrom2 is lfilter5symFrom on two signals of the same length at
// once, with the same coefficients and each its own state: x/src and za for
// the first, x2/src2 and zb for the second. An IIR recursion is bound by the
// latency of its output-to-output dependency (a multiply and a subtract per
// sample), so interleaving two independent recursions in one loop runs both
// in little more than the time of one. Each signal gets exactly the
// arithmetic lfilter5symFrom would give it.
func lfilter5symFrom2(b, a *[5]float64, za, zb *[4]float64, x, src, x2, src2 []float64, backward, absOut bool) {
	c := &[7]float64{b[0], b[1], b[2], a[1], a[2], a[3], a[4]}
	q, yp, z1, z2, z3 := za[0], 0.0, za[1], za[2], za[3]
	r, vp, w1, w2, w3 := zb[0], 0.0, zb[1], zb[2], zb[3]
	n := len(x)
	x, src, x2, src2 = x[:n], src[:n], x2[:n], src2[:n]
	if useSIMD {
		// one signal per lane of the SSE2 registers (fft_amd64.s)
		cc := [14]float64{c[0], c[0], c[1], c[1], c[2], c[2], c[3], c[3], c[4], c[4], c[5], c[5], c[6], c[6]}
		st := [10]float64{q, r, yp, vp, z1, w1, z2, w2, z3, w3}
		mode := 0
		if backward {
			mode |= 1
		}
		if absOut {
			mode |= 2
		}
		iir5x2SSE2(&cc, &st, x, src, x2, src2, mode)
		q, r, yp, vp, z1, w1, z2, w2, z3, w3 = st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7], st[8], st[9]
		za[0], za[1], za[2], za[3] = q-c[3]*yp, z1, z2, z3
		zb[0], zb[1], zb[2], zb[3] = r-c[3]*vp, w1, w2, w3
		return
	}
	step := func(xi, ui float64) (y, v float64) {
		p0, p1 := c[0]*xi, c[1]*xi
		y = (p0 + q) - c[3]*yp
		s0, s1 := c[0]*ui, c[1]*ui
		v = (s0 + r) - c[3]*vp
		q = p1 + z1
		r = s1 + w1
		z1 = (c[2]*xi + z2) - c[4]*y
		w1 = (c[2]*ui + w2) - c[4]*v
		z2 = (p1 + z3) - c[5]*y
		w2 = (s1 + w3) - c[5]*v
		z3 = p0 - c[6]*y
		w3 = s0 - c[6]*v
		yp, vp = y, v
		return y, v
	}
	switch {
	case backward && absOut:
		for i := n - 1; i >= 0; i-- {
			y, v := step(src[i], src2[i])
			x[i], x2[i] = math.Abs(y), math.Abs(v)
		}
	case backward:
		for i := n - 1; i >= 0; i-- {
			x[i], x2[i] = step(src[i], src2[i])
		}
	default:
		for i := range x {
			x[i], x2[i] = step(src[i], src2[i])
		}
	}
	za[0], za[1], za[2], za[3] = q-c[3]*yp, z1, z2, z3
	zb[0], zb[1], zb[2], zb[3] = r-c[3]*vp, w1, w2, w3
}

// sym5 reports whether f is an order-4 transfer function with a symmetric
// numerator (every Butterworth low- and high-pass), the case of
// lfilter5symFrom.
func (f *ZeroPhase) sym5() bool {
	return f.sos == nil && len(f.b) == 5 && f.b[0] == f.b[4] && f.b[1] == f.b[3]
}

// runPair is run (abs false) or runAbsFrom (abs true, inputs x and x2) on
// two signals of the same length, buf and buf2, with the two recursions
// interleaved; results are those of the single-signal forms. f must be sym5.
// With abs false, x and x2 are ignored and the signals are read from the
// middle of the buffers.
func (f *ZeroPhase) runPair(buf, buf2, x, x2 []float64, abs bool) {
	p := f.padlen
	n := len(buf) - 2*p
	if !abs {
		x, x2 = buf[p:p+n], buf2[p:p+n]
	}
	for _, s := range [2]struct{ buf, x []float64 }{{buf, x}, {buf2, x2}} {
		x0, xl := s.x[0], s.x[n-1]
		for i := 1; i <= p; i++ {
			s.buf[p-i] = 2*x0 - s.x[i]
			s.buf[p+n-1+i] = 2*xl - s.x[n-1-i]
		}
	}
	b, a := (*[5]float64)(f.b), (*[5]float64)(f.a)
	var za, zb [4]float64
	for i, v := range f.zi {
		za[i], zb[i] = v*buf[0], v*buf2[0]
	}
	if abs {
		// as runAbsFrom: the middle part is read from x
		lfilter5symFrom2(b, a, &za, &zb, buf[:p], buf[:p], buf2[:p], buf2[:p], false, false)
		lfilter5symFrom2(b, a, &za, &zb, buf[p:p+n], x, buf2[p:p+n], x2, false, false)
		lfilter5symFrom2(b, a, &za, &zb, buf[p+n:], buf[p+n:], buf2[p+n:], buf2[p+n:], false, false)
	} else {
		// as run: one pass (a state handed between calls rounds differently)
		lfilter5symFrom2(b, a, &za, &zb, buf, buf, buf2, buf2, false, false)
	}
	y0, v0 := buf[len(buf)-1], buf2[len(buf2)-1]
	for i, v := range f.zi {
		za[i], zb[i] = v*y0, v*v0
	}
	lfilter5symFrom2(b, a, &za, &zb, buf, buf, buf2, buf2, true, abs)
}
