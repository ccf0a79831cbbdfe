package signals

import (
	"context"
	"math"

	"emgd/c3d"
)

// window returns the sample range [lo, hi) covering [start, end) seconds.
func window(n int, fs, start, end float64) (lo, hi int) {
	// Clamp before converting: a float beyond the int range (start_s=1e308)
	// converts to the most negative int, which read as sample 0.
	lo = int(math.Floor(max(0, min(start*fs, float64(n)))))
	hi = n
	if !math.IsInf(end, 1) {
		hi = int(math.Ceil(max(0, min(end*fs, float64(n)))))
	}
	return lo, max(lo, hi)
}

// points are the samples an answer sends: their indices in the channel,
// their values and, with include_rms, the RMS envelope at each.
type points struct {
	idx  []int
	data []float64
	rms  []float64 // nil without include_rms
}

// picker chooses the samples to send as they stream by, in time order:
// every k-th sample of the window (downsample_factor), then, when more than
// maxPoints remain, the minimum and maximum of each of maxPoints/2 buckets,
// so that peaks survive. Only the chosen samples are kept, so its memory is
// bounded by maxPoints, whatever the length of the channel. maxPoints 0
// means no cap.
type picker struct {
	n, buckets int // positions (decimated samples) and buckets
	all        bool
	pos        int // position of the next add
	cb, p0, p1 int // current bucket and its positions [p0, p1)
	mi, ma     int
	dmi, dma   float64
	rmi, rma   float64
	out        points
}

func newPicker(samples, k, maxPoints int, withRMS bool) *picker {
	if k < 1 {
		k = 1
	}
	p := &picker{n: max(0, (samples+k-1)/k)}
	p.all = maxPoints <= 0 || p.n <= maxPoints
	size := p.n
	if !p.all {
		p.buckets = max(1, maxPoints/2)
		size = 2 * p.buckets
		p.cb = -1
		p.nextBucket()
	}
	p.out.idx = make([]int, 0, size)
	p.out.data = make([]float64, 0, size)
	if withRMS {
		p.out.rms = make([]float64, 0, size)
	}
	return p
}

// nextBucket moves to the next bucket holding positions. Bucket b covers
// positions [b*n/buckets, (b+1)*n/buckets).
func (p *picker) nextBucket() {
	for p.cb++; p.cb < p.buckets; p.cb++ {
		p.p0, p.p1 = p.cb*p.n/p.buckets, (p.cb+1)*p.n/p.buckets
		if p.p0 < p.p1 {
			return
		}
	}
}

func (p *picker) emit(i int, d, r float64) {
	p.out.idx = append(p.out.idx, i)
	p.out.data = append(p.out.data, d)
	if p.out.rms != nil {
		p.out.rms = append(p.out.rms, r)
	}
}

// add takes the next position's sample: index i in the channel, value d and
// RMS r.
func (p *picker) add(i int, d, r float64) {
	pos := p.pos
	p.pos++
	if p.all {
		p.emit(i, d, r)
		return
	}
	if pos == p.p0 {
		p.mi, p.ma, p.dmi, p.dma, p.rmi, p.rma = i, i, d, d, r, r
	} else {
		if d < p.dmi || math.IsNaN(p.dmi) {
			p.mi, p.dmi, p.rmi = i, d, r
		}
		if d > p.dma || math.IsNaN(p.dma) {
			p.ma, p.dma, p.rma = i, d, r
		}
	}
	if pos == p.p1-1 {
		switch {
		case p.mi == p.ma:
			p.emit(p.mi, p.dmi, p.rmi)
		case p.mi < p.ma:
			p.emit(p.mi, p.dmi, p.rmi)
			p.emit(p.ma, p.dma, p.rma)
		default:
			p.emit(p.ma, p.dma, p.rma)
			p.emit(p.mi, p.dmi, p.rmi)
		}
		p.nextBucket()
	}
}

// addRange adds the positions at samples i, i+k, ... below end, whose
// values are x[i-x0], ... (no RMS): add, in tight loops over each bucket.
func (p *picker) addRange(x []float64, x0, i, end, k int) {
	for i < end {
		if p.all || p.cb >= p.buckets {
			for ; i < end; i += k {
				p.add(i, x[i-x0], 0)
			}
			return
		}
		m := min(p.p1-p.pos, (end-i+k-1)/k) // positions of this bucket here
		if p.pos == p.p0 {
			v := x[i-x0]
			p.mi, p.ma, p.dmi, p.dma = i, i, v, v
		}
		mi, ma, dmi, dma := p.mi, p.ma, p.dmi, p.dma
		for j := i; j < i+m*k; j += k {
			v := x[j-x0]
			if v < dmi || math.IsNaN(dmi) {
				mi, dmi = j, v
			}
			if v > dma || math.IsNaN(dma) {
				ma, dma = j, v
			}
		}
		p.mi, p.ma, p.dmi, p.dma = mi, ma, dmi, dma
		p.pos += m
		i += m * k
		if p.pos == p.p1 {
			switch {
			case mi == ma:
				p.emit(mi, dmi, 0)
			case mi < ma:
				p.emit(mi, dmi, 0)
				p.emit(ma, dma, 0)
			default:
				p.emit(ma, dma, 0)
				p.emit(mi, dmi, 0)
			}
			p.nextBucket()
		}
	}
}

// rmsBlock is the stretch after which emg's moving sum restarts its running
// sum; the streamed envelope restarts at the same samples so that it equals
// emg.RMSEnvelope bit for bit.
const rmsBlock = 1024

// segment is the number of samples read at once: a multiple of rmsBlock.
const segment = 64 * rmsBlock

// rmsWindow holds emg.RMSEnvelope's 50 ms window over a channel of n
// samples.
type rmsWindow struct {
	n, h1, h2, addBelow int
	scale               float64
}

func newRMSWindow(n int, fs float64) *rmsWindow {
	w := min(int(0.050*fs), n)
	return &rmsWindow{n: n, h1: w / 2, h2: (w - 1) / 2, addBelow: n - 1 - (w-1)/2, scale: 1 / float64(w)}
}

// source reads samples [a, b) of one channel: from memory, or from the
// file (each read decodes only the frames holding them).
type source struct {
	mem   []float64
	inMem bool
	f     *c3d.File
	ch    int
}

func memSource(x []float64) source { return source{mem: x, inMem: true} }

func (s source) read(a, b int) ([]float64, error) {
	if s.inMem {
		return s.mem[a:b], nil
	}
	return s.f.ReadAnalogRange(s.ch, a, b)
}

// reduce streams samples [lo, hi) of a channel of n samples, segment by
// segment, and returns the points picked from them (see picker). raw is the
// channel; data, when not nil, is what is sent instead of the raw samples
// (the Processed envelope), raw still giving the RMS envelope. With rms the
// envelope is computed on the way, as emg.RMSEnvelope does on the whole
// channel.
func reduce(ctx context.Context, n, lo, hi, k, maxPoints int, raw source, data *source, rms *rmsWindow) (points, error) {
	if k < 1 {
		k = 1
	}
	p := newPicker(hi-lo, k, maxPoints, rms != nil)
	if p.n == 0 {
		return p.out, nil
	}
	a := lo
	if rms != nil {
		a = lo - lo%rmsBlock // the moving sum restarts at block starts
	}
	var sq []float64
	for a < hi {
		if ctx.Err() != nil {
			return points{}, ctx.Err()
		}
		b := min(hi, (a/segment+1)*segment)
		ra, rb := a, b
		if rms != nil {
			ra, rb = max(0, a-rms.h1), min(n, b+rms.h2+1)
		}
		var xr []float64
		var err error
		if data == nil || rms != nil {
			if xr, err = raw.read(ra, rb); err != nil {
				return points{}, err
			}
		}
		d0 := max(a, lo) // first sample of the window in this segment
		var xd []float64
		if data == nil {
			xd = xr[d0-ra : b-ra]
		} else if xd, err = data.read(d0, b); err != nil {
			return points{}, err
		}
		// next is the first sample at or after d0 that the window's
		// downsampling keeps.
		next := lo + (d0-lo+k-1)/k*k
		if rms == nil {
			p.addRange(xd, d0, next, b, k)
			a = b
			continue
		}
		sq = squares(sq, xr)
		rms.addSegment(p, sq, xd, a, b, ra, d0, next, k)
		a = b
	}
	return p.out, nil
}

// squares returns the squares of x, in buf when it is large enough.
func squares(buf, x []float64) []float64 {
	if cap(buf) < len(x) {
		buf = make([]float64, len(x))
	}
	buf = buf[:len(x)]
	for j, v := range x {
		buf[j] = v * v
	}
	return buf
}

// addSegment adds to p the kept samples of segment [a, b) with their RMS
// envelope: xd holds the sent samples from d0, the first kept one is next
// and every k-th after it; sq holds the squared raw samples from ra (the
// segment and the window's reach either side). The moving sum restarts at
// every block of rmsBlock samples, as emg.RMSEnvelope's does.
func (rms *rmsWindow) addSegment(p *picker, sq, xd []float64, a, b, ra, d0, next, k int) {
	n, h1, h2, addBelow := rms.n, rms.h1, rms.h2, rms.addBelow
	for b0 := a; b0 < b; b0 += rmsBlock {
		b1 := min(b, b0+rmsBlock)
		s := 0.0
		for j := max(0, b0-h1); j <= min(n-1, b0+h2); j++ {
			s += sq[j-ra]
		}
		for i := b0; i < b1; i++ {
			if i == next {
				v := s * rms.scale
				p.add(i, xd[i-d0], math.Sqrt(math.Max(v, 0)))
				next += k
			}
			enter, leave := i < addBelow, i >= h1
			switch {
			case enter && leave:
				s += sq[i+1+h2-ra] - sq[i-h1-ra]
			case enter:
				s += sq[i+1+h2-ra]
			case leave:
				s -= sq[i-h1-ra]
			}
		}
	}
}
