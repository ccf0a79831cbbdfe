package service_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// weightsChain stores, for therapist T5: an active configuration, custom
// configurations for P051 and P052, and settings with weights for P051
// (version 1) and settings without weights for P052.
type weightsChain struct {
	active, custom51, custom52    *store.ScoringConfig
	wActive, wCustom, wSet, wExpl emg.Weights
	set51                         *store.PatientSettings
}

func newWeightsChain(t *testing.T, st store.Store) *weightsChain {
	t.Helper()
	ctx := context.Background()
	c := &weightsChain{
		wActive: emg.Weights{Compliance: 0.1, Symmetry: 0.9, Completion: 1},
		wCustom: emg.Weights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5},
		wSet:    emg.Weights{Compliance: 0.2, Effort: 0.8, Duration: 1},
		wExpl:   emg.Weights{Compliance: 1, Intensity: 1},
	}
	var err error
	if c.active, err = st.CreateScoringConfig(ctx, store.ScoringConfig{Name: "clinic", Weights: store.ScoringWeights{Compliance: 0.1, Symmetry: 0.9, Completion: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ActivateScoringConfig(ctx, c.active.ID); err != nil {
		t.Fatal(err)
	}
	custom := store.ScoringWeights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}
	if c.custom51, err = st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T5 - P051", Weights: custom, TherapistID: ptr("T5"), PatientID: ptr("P051")}); err != nil {
		t.Fatal(err)
	}
	if c.custom52, err = st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T5 - P052", Weights: custom, TherapistID: ptr("T5"), PatientID: ptr("P052")}); err != nil {
		t.Fatal(err)
	}
	if c.set51, err = st.SaveSettings(ctx, "P051", json.RawMessage(`{"weights":{"w_compliance":0.2,"w_symmetry":0,"w_effort":0.8,"w_game":0,"w_completion":0,"w_intensity":0,"w_duration":1},"threshold_pct":60}`), "api"); err != nil {
		t.Fatal(err)
	}
	if _, err = st.SaveSettings(ctx, "P052", json.RawMessage(`{"threshold_pct":60}`), "api"); err != nil {
		t.Fatal(err)
	}
	return c
}

// Weights resolve, first found winning: explicit parameters, the patient's
// settings, the custom configuration of the recording's therapist and the
// patient, the active configuration; each step on its own.
func TestScoringWeightsChain(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		c := newWeightsChain(t, st)
		svc := &service.Service{Store: st}
		for _, tc := range []struct {
			name     string
			explicit *emg.Weights
			who      service.WeightsFor
			want     service.ScoringChoice
		}{
			{"1 explicit over settings, custom and active", &c.wExpl, service.WeightsFor{Patient: "P051", Therapist: "T5", CurrentSettings: true},
				service.ScoringChoice{Weights: c.wExpl, Source: service.WeightsExplicit}},
			{"2 settings over custom and active", nil, service.WeightsFor{Patient: "P051", Therapist: "T5", CurrentSettings: true},
				service.ScoringChoice{Weights: c.wSet, Source: service.WeightsSettings, SettingsVersion: 1}},
			{"2 the settings version given (phase 2)", nil, service.WeightsFor{Patient: "P051", Therapist: "T5", Settings: c.set51},
				service.ScoringChoice{Weights: c.wSet, Source: service.WeightsSettings, SettingsVersion: 1}},
			{"3 custom: settings without weights", nil, service.WeightsFor{Patient: "P052", Therapist: "T5", CurrentSettings: true},
				service.ScoringChoice{ConfigID: c.custom52.ID, Weights: c.wCustom, Source: service.WeightsCustom}},
			{"3 custom: no settings version in force (a session created before the settings)", nil, service.WeightsFor{Patient: "P051", Therapist: "T5"},
				service.ScoringChoice{ConfigID: c.custom51.ID, Weights: c.wCustom, Source: service.WeightsCustom}},
			{"4 active: no settings, no custom configuration", nil, service.WeightsFor{Patient: "P053", Therapist: "T5", CurrentSettings: true},
				service.ScoringChoice{ConfigID: c.active.ID, Weights: c.wActive, Source: service.WeightsActive}},
			{"4 active: the recording names no therapist", nil, service.WeightsFor{Patient: "P052", CurrentSettings: true},
				service.ScoringChoice{ConfigID: c.active.ID, Weights: c.wActive, Source: service.WeightsActive}},
			{"4 active: no patient", nil, service.WeightsFor{CurrentSettings: true},
				service.ScoringChoice{ConfigID: c.active.ID, Weights: c.wActive, Source: service.WeightsActive}},
		} {
			got, err := svc.ScoringWeights(ctx, tc.explicit, tc.who)
			if err != nil || got != tc.want {
				t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
			}
		}
		// With no configuration usable at all: emg's defaults.
		if err := st.DeleteScoringConfig(ctx, c.custom52.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := (&service.Service{Store: noActive{st}}).ScoringWeights(ctx, nil, service.WeightsFor{Patient: "P052", Therapist: "T5", CurrentSettings: true}); err != nil ||
			got != (service.ScoringChoice{Weights: emg.DefaultWeights, Source: service.WeightsDefault}) {
			t.Errorf("nothing stored: %+v, %v", got, err)
		}
	})
}

// noActive is a store with no active scoring configuration.
type noActive struct{ store.Store }

func (noActive) ActiveScoringConfig(context.Context) (*store.ScoringConfig, error) {
	return nil, store.ErrNotFound
}

// Phase 2 resolves its weights through the same chain: the settings' over
// the therapist's custom configuration, and for a session created before
// the patient had settings, the custom one; the stored scores name them.
func TestPhase2WeightsChain(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		rec := testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 12, TherapistID: "T5"})
		// One session before the configurations and settings exist.
		before := ingestDone(t, p, "P051/Ghostly_Emg_20240101_10-00-00-0001.c3d", rec)
		c := newWeightsChain(t, st)
		after := ingestDone(t, p, "P051/Ghostly_Emg_20240102_10-00-00-0001.c3d", rec)
		custom := ingestDone(t, p, "P052/Ghostly_Emg_20240102_10-00-00-0001.c3d", rec)
		for _, tc := range []struct {
			id     string
			config any
			w      emg.Weights
		}{{after, nil, c.wSet}, {custom, c.custom52.ID, c.wCustom}} {
			got := storedScores(t, st, tc.id)
			if got["scoring_config_id"] != tc.config || !reflect.DeepEqual(got["weights"], weightsJSON(t, tc.w)) {
				t.Errorf("session %s: id %v weights %v, want %v %v", tc.id, got["scoring_config_id"], got["weights"], tc.config, tc.w)
			}
		}
		// The session created before the settings is reanalysed with the
		// settings of its creation (none): the custom configuration; the
		// parameters are those of its first analysis ({}), whose row this
		// analysis replaces. With the current settings: the settings'
		// weights, in a row of its own.
		analyses := func() int {
			l, err := st.ListAnalyses(ctx, before)
			if err != nil {
				t.Fatal(err)
			}
			return len(l)
		}
		if _, err := p.svc.Reanalyze(ctx, before, emg.Params{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, before, store.StatusCompleted, 30*time.Second)
		if got := storedScores(t, st, before); got["scoring_config_id"] != c.custom51.ID || analyses() != 1 {
			t.Errorf("reanalysis with the settings of its creation: %v, %d analyses", got["scoring_config_id"], analyses())
		}
		if _, err := p.svc.Reanalyze(ctx, before, emg.Params{}, service.WithCurrentSettings()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, before, store.StatusCompleted, 30*time.Second)
		if got := storedScores(t, st, before); got["scoring_config_id"] != nil || !reflect.DeepEqual(got["weights"], weightsJSON(t, c.wSet)) || analyses() != 2 {
			t.Errorf("reanalysis with the current settings: id %v weights %v, %d analyses", got["scoring_config_id"], got["weights"], analyses())
		}
	})
}
