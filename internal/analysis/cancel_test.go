package analysis

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"emgd/c3d"
	"emgd/emg"
)

// cancellingReaderAt cancels its context at the first read past the
// parameters (the first pass over the data section), counting bytes.
type cancellingReaderAt struct {
	countingReaderAt
	dataStart int64
	cancel    context.CancelFunc
}

func (c *cancellingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.dataStart {
		c.cancel()
	}
	return c.countingReaderAt.ReadAt(p, off)
}

// An analysis whose context is done stops: before it reads anything when
// done from the start, after the pass over the data under way when done
// during the first, returning the context's error and no result.
func TestAnalyzeContextStops(t *testing.T) {
	const bases = 6 // three passes on one worker, six on two
	path := filepath.Join(t.TempDir(), "rec.c3d")
	writeSynthetic(t, path, bases, 1000, 600)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	f, err := c3d.Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	dataStart := f.DataStart

	// done before: nothing read
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	cr := &countingReaderAt{r: fh}
	res, err := AnalyzeContext(ctx, cr, st.Size(), path, emg.Params{}, emg.Analyzer{})
	if !errors.Is(err, context.DeadlineExceeded) || res != nil {
		t.Errorf("past its deadline: %v, %v; want context.DeadlineExceeded and no result", res, err)
	}
	if n := cr.n.Load(); n != 0 {
		t.Errorf("past its deadline: %d bytes read, want none", n)
	}

	for _, workers := range []int{1, 2} {
		ctx, cancel := context.WithCancel(context.Background())
		cr := &cancellingReaderAt{countingReaderAt: countingReaderAt{r: fh}, dataStart: dataStart, cancel: cancel}
		res, err := AnalyzeContext(ctx, cr, st.Size(), path, emg.Params{}, emg.Analyzer{Workers: workers})
		cancel()
		if !errors.Is(err, context.Canceled) || res != nil {
			t.Errorf("%d workers, cancelled in the first pass: %v, %v; want context.Canceled and no result", workers, res, err)
		}
		// Each pass reads the data section through; uncancelled, there are
		// three (two bases a pass) on one worker and six on two. Cancelled,
		// the first pass (on several workers, one pass per worker already
		// under way) and no more.
		if passes, most := float64(cr.n.Load())/float64(st.Size()), float64(workers)+0.1; passes > most {
			t.Errorf("%d workers, cancelled in the first pass: read %.2f times the file, want at most %.1f", workers, passes, most)
		}
	}

	// a context never done: the analysis of Analyze
	want, err := Analyze(fh, st.Size(), path, emg.Params{}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := AnalyzeContext(context.Background(), fh, st.Size(), path, emg.Params{}, emg.Analyzer{})
	if err != nil || len(got.Analytics) != bases || *got.Analytics["CH4"].RMS != *want.Analytics["CH4"].RMS {
		t.Errorf("not cancelled: %v, %d bases", err, len(got.Analytics))
	}
}

// Long sample buffers are reused by the passes of their analysis and not
// kept after it; short ones go to the shared pool.
func TestSampleBuffersKeepNoLongBuffer(t *testing.T) {
	var b sampleBuffers
	long := b.get(maxPooledSamples + 1)
	b.put(long)
	if again := b.get(maxPooledSamples + 1); &again[0] != &long[0] {
		t.Error("a long buffer released was not reused by the same analysis")
	}
	b.put(long)
	b.drop()
	if len(b.long) != 0 {
		t.Errorf("%d long buffers kept after the analysis", len(b.long))
	}

	// An analysis of long channels leaves none of them in the shared pool.
	drain := func() (n, longest int) {
		for {
			p, ok := sampleBufs.Get().(*[]float64)
			if !ok {
				return n, longest
			}
			n++
			longest = max(longest, cap(*p))
		}
	}
	drain()
	path := filepath.Join(t.TempDir(), "long.c3d")
	writeSynthetic(t, path, 2, 1000, (maxPooledSamples+1000)/1000)
	forced := func() uint32 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.NumForcedGC
	}
	before := forced()
	if _, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{}); err != nil {
		t.Fatal(err)
	}
	if _, longest := drain(); longest > maxPooledSamples {
		t.Errorf("a buffer of %d samples kept in the shared pool after the analysis (limit %d)", longest, maxPooledSamples)
	}
	// ... and the memory they held is collected and returned at once,
	if forced() == before {
		t.Error("no collection at the end of an analysis of long channels")
	}
	// ... which a short file's analysis does not pay for.
	short := filepath.Join(t.TempDir(), "short.c3d")
	writeSynthetic(t, short, 2, 1000, 60)
	before = forced()
	if _, err := AnalyzeFile(short, emg.Params{}, emg.Analyzer{}); err != nil {
		t.Fatal(err)
	}
	if n := forced() - before; n != 0 {
		t.Errorf("%d collections forced by the analysis of a short file", n)
	}

	// A short file's buffers go back to the shared pool for the next
	// analysis (sync.Pool may drop any, so only the kind is checked).
	few := b.get(1000)
	b.put(few)
	if p, ok := sampleBufs.Get().(*[]float64); ok && cap(*p) > maxPooledSamples {
		t.Errorf("a buffer of %d samples in the shared pool", cap(*p))
	}
}
