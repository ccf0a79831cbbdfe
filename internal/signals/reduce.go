package signals

import "math"

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

// pick returns the indices into x of the samples to send: every k-th sample
// (downsample_factor), then, when more than maxPoints remain, the minimum
// and maximum of each of maxPoints/2 buckets, in time order, so that peaks
// survive. maxPoints 0 means no cap.
func pick(x []float64, k, maxPoints int) []int {
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
		// Bucket b covers decimated positions [b*n/buckets, (b+1)*n/buckets).
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
