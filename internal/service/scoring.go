package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/store"
)

// Where the weights of an analysis's scores came from (ScoringChoice.Source).
const (
	WeightsExplicit = "explicit" // the caller's own parameters
	WeightsSettings = "settings" // the patient's settings
	WeightsCustom   = "custom"   // the old API's custom configuration of the therapist and patient
	WeightsActive   = "active"   // the active scoring configuration
	WeightsDefault  = "default"  // none of them: emg's defaults
)

// ScoringChoice is where the weights of an analysis's performance scores
// came from: Source is one of the Weights* constants; ConfigID names the
// scoring configuration ("" unless Source is custom or active);
// SettingsVersion the patient's settings version (Source settings).
type ScoringChoice struct {
	ConfigID        string
	Weights         emg.Weights
	Source          string
	SettingsVersion int
}

// WeightsFor says whose weights ScoringWeights resolves.
type WeightsFor struct {
	// Patient is the patient code ("": unknown; the settings and custom
	// steps are skipped).
	Patient string
	// Therapist is the recording's INFO:THERAPIST_ID, as the old backend
	// took it ("": the custom step is skipped).
	Therapist string
	// Settings is the patient's settings version the analysis uses, as the
	// caller read it (phase 2: the version its parameters came from; nil:
	// none).
	Settings *store.PatientSettings
	// CurrentSettings makes ScoringWeights read the patient's current
	// settings version itself instead of taking Settings (an analysis made
	// now: POST /upload).
	CurrentSettings bool
}

// ScoringWeights resolves the weights of an analysis's scores, the first
// found winning:
//
//  1. explicit: the caller's own parameters' weights (an upload's params,
//     a recalc body, a job's parameters);
//  2. the patient's settings (their weights key);
//  3. the custom scoring configuration of that therapist and patient (the
//     old API's POST /scoring/configurations/custom), when both are known;
//  4. the active configuration (the newest active one, as GET
//     /scoring/configurations/active answers it; a fresh database's
//     GHOSTLY-TRIAL-DEFAULT, whose weights are emg.DefaultWeights);
//  5. emg's defaults, when no configuration is stored.
//
// Weights emg cannot use (every main weight 0, or every compliance
// sub-weight 0) are passed over with a warning. Phase 2 and POST /upload
// both resolve their weights here. Errors are the database's (the caller
// retries or falls back).
func (s *Service) ScoringWeights(ctx context.Context, explicit *emg.Weights, who WeightsFor) (ScoringChoice, error) {
	usable := func(what string, w emg.Weights) bool {
		if err := (&emg.Params{Weights: &w}).Validate(); err != nil {
			s.log().Warn("scoring weights not usable, passed over", "source", what, "error", err)
			return false
		}
		return true
	}
	if explicit != nil && usable(WeightsExplicit, *explicit) {
		return ScoringChoice{Weights: *explicit, Source: WeightsExplicit}, nil
	}
	set := who.Settings
	if who.CurrentSettings {
		set = nil
		if who.Patient != "" {
			cur, err := s.Store.CurrentSettings(ctx, who.Patient)
			switch {
			case err == nil:
				set = cur
			case !errors.Is(err, store.ErrNotFound):
				return ScoringChoice{}, fmt.Errorf("patient settings: %w", err)
			}
		}
	}
	if set != nil {
		var doc struct {
			Weights *emg.Weights `json:"weights"`
		}
		if err := json.Unmarshal(set.Document, &doc); err != nil {
			s.log().Warn("patient settings' weights not readable, passed over", "patient", set.PatientCode, "version", set.Version, "error", err)
		} else if doc.Weights != nil && usable(fmt.Sprintf("settings %s v%d", set.PatientCode, set.Version), *doc.Weights) {
			return ScoringChoice{Weights: *doc.Weights, Source: WeightsSettings, SettingsVersion: set.Version}, nil
		}
	}
	config := func(c *store.ScoringConfig) (emg.Weights, bool) {
		w := weightsOf(c.Weights)
		return w, usable("configuration "+c.ID+" ("+c.Name+")", w)
	}
	if who.Patient != "" && who.Therapist != "" {
		c, err := s.Store.CustomScoringConfig(ctx, who.Therapist, &who.Patient)
		switch {
		case err == nil:
			if w, ok := config(c); ok {
				return ScoringChoice{ConfigID: c.ID, Weights: w, Source: WeightsCustom}, nil
			}
		case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalidInput):
			return ScoringChoice{}, fmt.Errorf("custom scoring configuration: %w", err)
		}
	}
	c, err := s.Store.ActiveScoringConfig(ctx)
	switch {
	case err == nil:
		if w, ok := config(c); ok {
			return ScoringChoice{ConfigID: c.ID, Weights: w, Source: WeightsActive}, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return ScoringChoice{}, fmt.Errorf("active scoring configuration: %w", err)
	}
	return ScoringChoice{Weights: emg.DefaultWeights, Source: WeightsDefault}, nil
}

func weightsOf(w store.ScoringWeights) emg.Weights {
	return emg.Weights{Compliance: w.Compliance, Symmetry: w.Symmetry, Effort: w.Effort, Game: w.Game,
		Completion: w.Completion, Intensity: w.Intensity, Duration: w.Duration}
}

// StoredScores is what analysis_results.scores holds: the performance
// scores with the weights used (weights) and the scoring configuration
// they came from (scoring_config_id, null for explicit or default
// weights), so that a configuration edited later never changes a stored
// result.
type StoredScores struct {
	*emg.Performance
	ScoringConfigID *string `json:"scoring_config_id"`
}

func nullableID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// TherapistID is the recording's INFO:THERAPIST_ID ("" when absent or the
// file cannot be read: the analysis that follows reports that), the
// therapist of WeightsFor.
func TherapistID(ra io.ReaderAt, size int64) string {
	f, err := c3d.Open(ra, size)
	if err != nil {
		return ""
	}
	return therapistOf(f)
}

// therapistOf is TherapistID of an open file.
func therapistOf(f *c3d.File) string {
	return analysis.ReadMetadata(f, "").TherapistID
}
