package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// storedScores reads a session's current analysis's scores.
func storedScores(t *testing.T, st store.Store, id string) map[string]any {
	t.Helper()
	a, err := st.CurrentAnalysis(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(a.Scores, &m); err != nil {
		t.Fatalf("scores %s: %v", a.Scores, err)
	}
	return m
}

// weightsJSON is w as the stored scores' weights.
func weightsJSON(t *testing.T, w emg.Weights) map[string]any {
	t.Helper()
	b, _ := json.Marshal(w)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func ingestDone(t *testing.T, p *pipeline, key string, rec []byte) string {
	t.Helper()
	out, err := p.svc.Ingest(context.Background(), p.upload(t, key, rec))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, p.st, out.Session.ID, store.StatusCompleted, 30*time.Second)
	return out.Session.ID
}

// The old default scoring configuration is emgd's default weights: a
// fresh database scores exactly as an analysis without a database does.
func TestDefaultScoringConfigIsEmgDefault(t *testing.T) {
	w := store.DefaultScoringWeights()
	got := emg.Weights{Compliance: w.Compliance, Symmetry: w.Symmetry, Effort: w.Effort, Game: w.Game,
		Completion: w.Completion, Intensity: w.Intensity, Duration: w.Duration}
	if got != emg.DefaultWeights {
		t.Fatalf("GHOSTLY-TRIAL-DEFAULT %+v, emg.DefaultWeights %+v", got, emg.DefaultWeights)
	}
}

// Phase 2 takes the scores' weights from, first found: the parameters,
// the patient's custom configuration (therapist from INFO:THERAPIST_ID),
// the active configuration; the stored scores name the weights and the
// configuration, and never change when the configuration does.
func TestPhase2ScoringConfiguration(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		rec := testrec.Ghostly(testrec.Options{Seed: 21})

		// A fresh database: GHOSTLY-TRIAL-DEFAULT, exactly today's scores.
		a := ingestDone(t, p, "P001/Ghostly_Emg_20240101_10-00-00-0001.c3d", rec)
		got := storedScores(t, st, a)
		if got["scoring_config_id"] != store.DefaultScoringConfigID {
			t.Errorf("scoring_config_id %v, want the default's", got["scoring_config_id"])
		}
		direct, err := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), "x.c3d", emg.Params{}, emg.Analyzer{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(direct.PerformanceAnalysis)
		var want map[string]any
		json.Unmarshal(b, &want)
		delete(got, "scoring_config_id")
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("default configuration's scores differ from emg's defaults:\n got %v\nwant %v", got, want)
		}
		defaultOverall := want["overall_score"].(float64)

		// An activated configuration changes a new session's overall score.
		wAct := store.ScoringWeights{Compliance: 0.1, Symmetry: 0.9, Completion: 1}
		act, err := st.CreateScoringConfig(ctx, store.ScoringConfig{Name: "symmetry first", Weights: wAct})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.ActivateScoringConfig(ctx, act.ID); err != nil {
			t.Fatal(err)
		}
		b2 := ingestDone(t, p, "P002/Ghostly_Emg_20240101_10-00-00-0001.c3d", rec)
		got = storedScores(t, st, b2)
		actW := emg.Weights{Compliance: 0.1, Symmetry: 0.9, Completion: 1}
		if got["scoring_config_id"] != act.ID || !reflect.DeepEqual(got["weights"], weightsJSON(t, actW)) {
			t.Errorf("active configuration: id %v weights %v", got["scoring_config_id"], got["weights"])
		}
		withAct, _ := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), "x.c3d", emg.Params{Weights: &actW}, emg.Analyzer{})
		if o := got["overall_score"].(float64); o != *withAct.PerformanceAnalysis.OverallScore || o == defaultOverall {
			t.Errorf("overall %v with the active configuration; want %v (default %v)", o, *withAct.PerformanceAnalysis.OverallScore, defaultOverall)
		}
		// The first session keeps what it was scored with.
		if got := storedScores(t, st, a); got["scoring_config_id"] != store.DefaultScoringConfigID || got["overall_score"] != defaultOverall {
			t.Errorf("the first session's scores changed: %v", got)
		}

		// The patient's custom configuration, for the recording's therapist.
		therapist := testrec.Ghostly(testrec.Options{Seed: 21, TherapistID: "T007"})
		wCustom := store.ScoringWeights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}
		custom, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T007 - P003", Weights: wCustom,
			TherapistID: ptr("T007"), PatientID: ptr("P003")})
		if err != nil {
			t.Fatal(err)
		}
		c := ingestDone(t, p, "P003/Ghostly_Emg_20240101_10-00-00-0001.c3d", therapist)
		customW := emg.Weights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}
		if got := storedScores(t, st, c); got["scoring_config_id"] != custom.ID || !reflect.DeepEqual(got["weights"], weightsJSON(t, customW)) {
			t.Errorf("custom configuration: id %v weights %v", got["scoring_config_id"], got["weights"])
		}
		// Another patient of that therapist, or that patient's recording
		// naming no therapist: the active configuration.
		for _, o := range []struct {
			key string
			rec []byte
		}{{"P004/Ghostly_Emg_20240101_10-00-00-0001.c3d", therapist}, {"P003/Ghostly_Emg_20240102_10-00-00-0001.c3d", rec}} {
			if got := storedScores(t, st, ingestDone(t, p, o.key, o.rec)); got["scoring_config_id"] != act.ID {
				t.Errorf("%s: scoring_config_id %v, want the active one", o.key, got["scoring_config_id"])
			}
		}

		// Editing the configuration leaves the stored result alone; a
		// reanalysis takes the configuration as it is then.
		before, _ := st.CurrentAnalysis(ctx, c)
		wEdited := store.ScoringWeights{Compliance: 0.3, Symmetry: 0.7, Completion: 1}
		if _, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T007 - P003", Weights: wEdited,
			TherapistID: ptr("T007"), PatientID: ptr("P003")}); err != nil {
			t.Fatal(err)
		}
		if after, _ := st.CurrentAnalysis(ctx, c); !bytes.Equal(after.Scores, before.Scores) {
			t.Errorf("an edited configuration changed a stored result:\n%s\n%s", before.Scores, after.Scores)
		}
		reanalyse := func(params emg.Params) map[string]any {
			t.Helper()
			// Reanalyze leaves the session pending until the job is done.
			if _, err := p.svc.Reanalyze(ctx, c, params); err != nil {
				t.Fatal(err)
			}
			waitFor(t, st, c, store.StatusCompleted, 30*time.Second)
			return storedScores(t, st, c)
		}
		editedW := emg.Weights{Compliance: 0.3, Symmetry: 0.7, Completion: 1}
		if got := reanalyse(emg.Params{}); got["scoring_config_id"] != custom.ID || !reflect.DeepEqual(got["weights"], weightsJSON(t, editedW)) {
			t.Errorf("reanalysis: id %v weights %v, want the edited configuration", got["scoring_config_id"], got["weights"])
		}

		// Explicit weights win over every configuration.
		explicit := emg.Weights{Compliance: 1, Completion: 1}
		if got := reanalyse(emg.Params{Weights: &explicit}); got["scoring_config_id"] != nil || !reflect.DeepEqual(got["weights"], weightsJSON(t, explicit)) {
			t.Errorf("explicit weights: id %v weights %v", got["scoring_config_id"], got["weights"])
		}
	})
}

// A configuration emg cannot score with (every main weight 0) is passed
// over for the next one, not a failed analysis.
func TestUnusableScoringConfigurationIsPassedOver(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		bad, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "zeros", Weights: store.ScoringWeights{Completion: 1},
			TherapistID: ptr("T1"), PatientID: ptr("P001")})
		if err != nil {
			t.Fatal(err)
		}
		svc := &service.Service{Store: st}
		choice, err := svc.ScoringWeights(ctx, nil, service.WeightsFor{Patient: "P001", Therapist: "T1"})
		if err != nil || choice.ConfigID == bad.ID || choice.ConfigID != store.DefaultScoringConfigID || choice.Weights != emg.DefaultWeights ||
			choice.Source != service.WeightsActive {
			t.Errorf("choice %+v, %v", choice, err)
		}
	})
}

func ptr(s string) *string { return &s }
