package emg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// loadingRecording is synthRecording with every channel given by Load,
// counting the loads; onLoad, if set, runs at each.
func loadingRecording(fs, seconds float64, bases int, loads *atomic.Int32, onLoad func()) Recording {
	rec := synthRecording(fs, seconds, bases)
	for i := range rec.Channels {
		x := rec.Channels[i].Samples
		rec.Channels[i].Samples = nil
		rec.Channels[i].Load = func() ([]float64, error) {
			loads.Add(1)
			if onLoad != nil {
				onLoad()
			}
			return x, nil
		}
	}
	return rec
}

// A done context stops an analysis before its next base: it returns the
// context's error and no result, without loading the other bases.
func TestAnalyzeContextStops(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			a := Analyzer{Workers: workers}

			// Done before it starts: nothing is loaded.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var loads atomic.Int32
			res, err := a.AnalyzeContext(ctx, loadingRecording(500, 10, 6, &loads, nil), Params{})
			if !errors.Is(err, context.Canceled) || res != nil {
				t.Fatalf("cancelled before: %v, %v; want context.Canceled and no result", res, err)
			}
			if n := loads.Load(); n != 0 {
				t.Errorf("cancelled before: %d channels loaded, want 0", n)
			}

			// Cancelled while the first base is loaded: the bases in hand
			// are finished, no other is started.
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			loads.Store(0)
			const bases = 6
			res, err = a.AnalyzeContext(ctx, loadingRecording(500, 10, bases, &loads, cancel), Params{})
			if !errors.Is(err, context.Canceled) || res != nil {
				t.Fatalf("cancelled during: %v, %v; want context.Canceled and no result", res, err)
			}
			// raw and activated of each base in hand: a pair on one
			// worker, one base on each of several
			if n, most := loads.Load(), int32(2*max(2, workers)); n > most {
				t.Errorf("cancelled at the first load: %d channels loaded of %d, want at most %d", n, 2*bases, most)
			}

			// A context never done changes nothing.
			loads.Store(0)
			rec := loadingRecording(500, 10, bases, &loads, nil)
			got, err := a.AnalyzeContext(context.Background(), rec, Params{})
			if err != nil {
				t.Fatal(err)
			}
			want := mustAnalyze(t, rec, Params{})
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("with a context: %.300s\nwithout: %.300s", gj, wj)
			}
		})
	}
}

// A workspace goes back to the pool without the arrays of a long signal,
// so that a server does not keep the longest recording's working memory
// between analyses; a short signal's arrays (a GHOSTLY file's) are kept
// for the next analysis.
func TestWorkspacePoolKeepsNoLongArrays(t *testing.T) {
	long := maxPooledSamples + 1000
	for _, tc := range []struct {
		n        int
		wantKept bool
	}{{long, false}, {maxPooledSamples / 4, true}} {
		ws := &workspace{fw: newFeatureWork()}
		rec := synthRecording(float64(tc.n)/10, 10, 2) // two bases of n samples, as a pair
		pl, err := newPlan(rec, Params{Profile: "standard"})
		if err != nil {
			t.Fatal(err)
		}
		r1, r2 := pl.analyzePair(ws, rec, pl.bases[0], pl.bases[1])
		if r1.Errors != nil || r2.Errors != nil {
			t.Fatalf("%d samples: %v %v", tc.n, r1.Errors, r2.Errors)
		}
		ws.trim(maxPooledSamples)
		var held, largest int
		arrays := [][]float64{ws.buf, ws.env, ws.feat, ws.buf2, ws.env2, ws.tv.rms, ws.tv.mav, ws.tv.mpf, ws.tv.mdf, ws.tv.fi, ws.bp.buf}
		for _, z := range []*ZeroPhase{ws.ef.hp, ws.ef.lp} {
			if z != nil {
				arrays = append(arrays, z.buf)
			}
		}
		for _, s := range arrays {
			held += cap(s)
			largest = max(largest, cap(s))
		}
		if largest > maxPooledSamples {
			t.Errorf("%d samples: an array of %d samples kept (limit %d)", tc.n, largest, maxPooledSamples)
		}
		if tc.wantKept && held < 5*tc.n {
			t.Errorf("%d samples: %d samples of arrays kept, want the five working arrays", tc.n, held)
		}
	}
}
