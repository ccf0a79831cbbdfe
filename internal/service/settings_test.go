package service_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

type analysed struct {
	a       *store.AnalysisResult
	params  emg.Params
	summary service.StoredSummary
}

func currentAnalysis(t *testing.T, st store.Store, id string) analysed {
	t.Helper()
	var out analysed
	var err error
	if out.a, err = st.CurrentAnalysis(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.a.Params, &out.params); err != nil {
		t.Fatalf("params %s: %v", out.a.Params, err)
	}
	if err := json.Unmarshal(out.a.AnalyticsSummary, &out.summary); err != nil {
		t.Fatal(err)
	}
	return out
}

// Phase 2 analyses a new session with the patient's settings (its MVC per
// channel and threshold used, settings_version and the exact parameters
// recorded); a session analysed before keeps its result, also when the
// settings change again; explicit parameters override one field while the
// others come from the settings.
func TestProcessUsesPatientSettings(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		rec := testrec.Ghostly(testrec.Options{Seed: 21, Seconds: 12})
		before, err := p.svc.Ingest(ctx, p.upload(t, "P021/Ghostly_Emg_20240101_10-00-00-0001.c3d", rec))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, before.Session.ID, store.StatusCompleted, 30*time.Second)
		old := currentAnalysis(t, st, before.Session.ID)
		if old.summary.SettingsVersion != 0 || old.params.MVC != nil {
			t.Fatalf("without settings: version %d, params %s", old.summary.SettingsVersion, old.a.Params)
		}

		doc := `{"mvc":{"CH1":0.002,"CH2":0.004},"threshold_pct":50,"duration_threshold_ms":300,
			"muscle_names":{"CH1":"Left quadriceps"},"sessions_per_week":4}`
		if _, err := st.SaveSettings(ctx, "P021", json.RawMessage(doc), "api"); err != nil {
			t.Fatal(err)
		}
		after, err := p.svc.Ingest(ctx, p.upload(t, "P021/Ghostly_Emg_20240102_10-00-00-0001.c3d", rec))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, after.Session.ID, store.StatusCompleted, 30*time.Second)
		got := currentAnalysis(t, st, after.Session.ID)
		if got.summary.SettingsVersion != 1 {
			t.Errorf("settings_version recorded = %d, want 1", got.summary.SettingsVersion)
		}
		if got.params.MVC["CH1"] != 0.002 || got.params.MVC["CH2"] != 0.004 || got.params.ThresholdPct == nil ||
			*got.params.ThresholdPct != 50 || got.params.DurationThresholdMs == nil || *got.params.DurationThresholdMs != 300 {
			t.Errorf("parameters recorded: %s", got.a.Params)
		}
		var raw map[string]any
		json.Unmarshal(got.a.Params, &raw)
		if _, ok := raw["muscle_names"]; ok {
			t.Errorf("settings-only keys among the parameters: %s", got.a.Params)
		}
		for base, want := range map[string]float64{"CH1": 0.001, "CH2": 0.002} {
			ch := got.summary.Analytics[base]
			if ch == nil || ch.MVC75Threshold == nil || math.Abs(*ch.MVC75Threshold-want) > 1e-12 {
				t.Errorf("%s: MVC threshold %+v, want %g (the settings' MVC at 50 %%)", base, ch, want)
			}
		}
		// The old session keeps its result, also after a new version.
		if _, err := st.SaveSettings(ctx, "P021", json.RawMessage(`{"mvc":{"CH1":0.009}}`), "api"); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]analysed{before.Session.ID: old, after.Session.ID: got} {
			now := currentAnalysis(t, st, id)
			if now.a.ParamsHash != want.a.ParamsHash || !now.a.CreatedAt.Equal(want.a.CreatedAt) ||
				string(now.a.AnalyticsSummary) != string(want.a.AnalyticsSummary) {
				t.Errorf("session %s: its analysis changed after a settings change", id)
			}
		}

		// Explicit parameters override one field; the others come from
		// the settings of the session's creation.
		thr := 80.0
		if _, err := p.svc.Reanalyze(ctx, after.Session.ID, emg.Params{ThresholdPct: &thr}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, after.Session.ID, store.StatusCompleted, 30*time.Second)
		deadline := time.Now().Add(30 * time.Second)
		var re analysed
		for {
			re = currentAnalysis(t, st, after.Session.ID)
			if re.a.ParamsHash != got.a.ParamsHash || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if re.params.ThresholdPct == nil || *re.params.ThresholdPct != 80 || re.params.MVC["CH1"] != 0.002 ||
			re.params.DurationThresholdMs == nil || *re.params.DurationThresholdMs != 300 || re.summary.SettingsVersion != 1 {
			t.Errorf("reanalysis with threshold_pct 80: params %s, settings_version %d", re.a.Params, re.summary.SettingsVersion)
		}
		if ch := re.summary.Analytics["CH1"]; ch == nil || ch.MVC75Threshold == nil || math.Abs(*ch.MVC75Threshold-0.0016) > 1e-12 {
			t.Errorf("CH1 after the override: %+v, want MVC threshold 0.0016", ch)
		}
	})
}
