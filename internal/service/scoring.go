package service

import (
	"context"
	"errors"
	"fmt"
	"io"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/store"
)

// ScoringChoice is where the weights of an analysis's performance scores
// came from: ConfigID names the scoring configuration ("" when the weights
// were explicit parameters, or no configuration was stored and emg's
// defaults were used).
type ScoringChoice struct {
	ConfigID string
	Weights  emg.Weights
}

// ScoringWeights fills p.Weights, when the parameters do not give them,
// with the weights of the first of:
//
//  1. the custom scoring configuration of that therapist and patient (the
//     old API's POST /scoring/configurations/custom), when both are known;
//     the therapist is the recording's INFO:THERAPIST_ID, as the old
//     backend took it;
//  2. the active configuration (the newest active one, as GET
//     /scoring/configurations/active answers it; a fresh database's
//     GHOSTLY-TRIAL-DEFAULT, whose weights are emg.DefaultWeights).
//
// With none stored, p keeps emg's defaults. A configuration whose weights
// emg cannot use (every main weight 0, or every compliance sub-weight 0)
// is passed over with a warning. Explicit weights always win. Errors are
// the database's (the caller retries).
func (s *Service) ScoringWeights(ctx context.Context, p *emg.Params, patientCode, therapistID string) (ScoringChoice, error) {
	if p.Weights != nil {
		return ScoringChoice{Weights: *p.Weights}, nil
	}
	usable := func(c *store.ScoringConfig) (emg.Weights, bool) {
		w := weightsOf(c.Weights)
		if err := (&emg.Params{Weights: &w}).Validate(); err != nil {
			s.log().Warn("scoring configuration not usable, passed over", "config", c.ID, "name", c.Name, "error", err)
			return w, false
		}
		return w, true
	}
	if patientCode != "" && therapistID != "" {
		c, err := s.Store.CustomScoringConfig(ctx, therapistID, &patientCode)
		switch {
		case err == nil:
			if w, ok := usable(c); ok {
				p.Weights = &w
				return ScoringChoice{ConfigID: c.ID, Weights: w}, nil
			}
		case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalidInput):
			return ScoringChoice{}, fmt.Errorf("custom scoring configuration: %w", err)
		}
	}
	c, err := s.Store.ActiveScoringConfig(ctx)
	switch {
	case err == nil:
		if w, ok := usable(c); ok {
			p.Weights = &w
			return ScoringChoice{ConfigID: c.ID, Weights: w}, nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return ScoringChoice{}, fmt.Errorf("active scoring configuration: %w", err)
	}
	return ScoringChoice{Weights: emg.DefaultWeights}, nil
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

// therapistOf is the recording's INFO:THERAPIST_ID ("" when absent or the
// file cannot be read: the analysis that follows reports that).
func therapistOf(ra io.ReaderAt, size int64) string {
	f, err := c3d.Open(ra, size)
	if err != nil {
		return ""
	}
	return analysis.ReadMetadata(f, "").TherapistID
}
