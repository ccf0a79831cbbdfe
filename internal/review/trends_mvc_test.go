package review_test

import (
	"context"
	"math"
	"testing"

	"emgd/emg"
	"emgd/internal/review"
	"emgd/internal/store"
)

// TestTrendsMVC: each channel of a trend carries the MVC its analysis
// used and whether it was estimated from the session: estimated (the
// threshold over its percentage, the session's or 75 %), a channel's own
// MVC from the parameters, the session-wide MVC; null without a
// threshold is covered by the type (a pointer).
func TestTrendsMVC(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, settings{patient: patient, s: review.Settings{Version: 1}})
		threeSessions(t, e) // the 24th: estimated, threshold 60 %
		ctx := context.Background()
		fifty, global := 50.0, 0.02
		if _, err := e.svc.Reanalyze(ctx, e.ids["20261209"], emg.Params{MVC: map[string]float64{"CH1": 0.0123}, ThresholdPct: &fifty}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Reanalyze(ctx, e.ids["20261126"], emg.Params{MVCGlobal: &global, MVCThresholdPct: map[string]float64{"CH2": 40}}); err != nil {
			t.Fatal(err)
		}
		e.drain()
		var tr review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends", 200, &tr)
		if len(tr.Sessions) != 3 {
			t.Fatalf("%d sessions", len(tr.Sessions))
		}
		type want struct {
			pct       float64
			mvc       float64 // 0: estimated, from the stored threshold
			estimated bool
		}
		wants := map[string]map[string]want{
			"20261124": {"CH1": {60, 0, true}, "CH2": {60, 0, true}},
			"20261126": {"CH1": {75, 0.02, false}, "CH2": {40, 0.02, false}},
			"20261209": {"CH1": {50, 0.0123, false}, "CH2": {50, 0, true}},
		}
		for _, s := range tr.Sessions {
			var date string
			for d, id := range e.ids {
				if id == s.SessionID {
					date = d
				}
			}
			stored := e.stored(s.SessionID)
			for base, w := range wants[date] {
				got := s.Channels[base]
				thr := stored.summary.Analytics[base].MVC75Threshold
				if thr == nil || got.MVC == nil {
					t.Errorf("%s %s: mvc %v, stored threshold %v", date, base, got.MVC, thr)
					continue
				}
				mvc := w.mvc
				if mvc == 0 {
					mvc = *thr / (w.pct / 100)
				}
				if *got.MVC != mvc || got.MVCEstimated != w.estimated {
					t.Errorf("%s %s: mvc %v estimated %v, want %v %v", date, base, *got.MVC, got.MVCEstimated, mvc, w.estimated)
				}
				// The threshold the analysis used is that MVC's percentage.
				if math.Abs(*got.MVC*w.pct/100-*thr) > 1e-12*math.Abs(*thr) {
					t.Errorf("%s %s: %v %% of mvc %v is not the threshold %v", date, base, w.pct, *got.MVC, *thr)
				}
				if *got.MVC <= 0 {
					t.Errorf("%s %s: mvc %v", date, base, *got.MVC)
				}
			}
		}
	})
}
