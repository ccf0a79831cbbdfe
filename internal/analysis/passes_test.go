package analysis

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"emgd/emg"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r interface {
		ReadAt(p []byte, off int64) (int, error)
	}
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// TestAnalyzeReadsOnce: when every base is analysed at once (two bases on
// two workers), the data section is read once, not once per base; with more
// bases than workers, one base per pass. The channels are long enough (600 s
// at 1 kHz) that the short-channel rule (passBytes) does not group them.
func TestAnalyzeReadsOnce(t *testing.T) {
	for _, tc := range []struct {
		bases, workers int
		maxPasses      float64
	}{
		{2, 1, 1}, {2, 2, 1}, {3, 4, 1}, {3, 2, 3},
	} {
		const seconds = 600
		if 2*8*1000*seconds*2 <= passBytes {
			t.Fatalf("channels of %d s fit two bases in one pass of %d bytes anyway", seconds, passBytes)
		}
		path := filepath.Join(t.TempDir(), "rec.c3d")
		writeSynthetic(t, path, tc.bases, 1000, seconds)
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		cr := &countingReaderAt{r: fh}
		res, err := Analyze(cr, st.Size(), path, emg.Params{}, emg.Analyzer{Workers: tc.workers})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Analytics) != tc.bases {
			t.Fatalf("%d bases analysed, want %d", len(res.Analytics), tc.bases)
		}
		if passes := float64(cr.n.Load()) / float64(st.Size()); passes > tc.maxPasses+0.1 {
			t.Errorf("%d bases, %d workers: read %.2f times the file, want at most %g", tc.bases, tc.workers, passes, tc.maxPasses)
		}
	}
}
