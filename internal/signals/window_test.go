package signals

import (
	"math"
	"testing"
)

// Windows far beyond the recording are clamped to it, not wrapped by an
// integer overflow.
func TestWindowHugeBounds(t *testing.T) {
	const n, fs = 9900, 990.0
	for _, c := range []struct {
		start, end float64
		lo, hi     int
	}{
		{0, math.Inf(1), 0, n},
		{1, 2, 990, 1980},
		{1e308, math.Inf(1), n, n},
		{1e17, math.Inf(1), n, n},
		{0, 1e308, 0, n},
		{5, 1e17, 4950, n},
	} {
		lo, hi := window(n, fs, c.start, c.end)
		if lo != c.lo || hi != c.hi {
			t.Errorf("window(%g, %g) = [%d, %d), want [%d, %d)", c.start, c.end, lo, hi, c.lo, c.hi)
		}
	}
}
