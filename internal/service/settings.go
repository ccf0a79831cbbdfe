package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"emgd/emg"
	"emgd/internal/store"
)

// settingsOnlyKeys are the keys of a patient's settings document that are
// not session parameters.
var settingsOnlyKeys = []string{"muscle_names", "sessions_per_week"}

// effectiveParams merges the patient's settings version under the
// explicit parameters, top-level field by field (an explicit field wins):
// the version current when the session was created (the highest saved at
// or before its creation), or with current the patient's current version
// (a reanalysis with the current settings). It returns the parameters to
// analyse with, as JSON (explicit unchanged when the patient had no
// settings), and the settings version used (nil: none).
func (s *Service) effectiveParams(ctx context.Context, sess *store.Session, explicit json.RawMessage, current bool) (json.RawMessage, *store.PatientSettings, error) {
	var set *store.PatientSettings
	var err error
	if current {
		set, err = s.Store.CurrentSettings(ctx, sess.PatientCode)
	} else {
		set, err = s.Store.SettingsAt(ctx, sess.PatientCode, sess.CreatedAt)
	}
	if errors.Is(err, store.ErrNotFound) {
		return explicit, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(set.Document, &merged); err != nil {
		return nil, nil, fmt.Errorf("patient %s settings version %d: %w", sess.PatientCode, set.Version, err)
	}
	for _, k := range settingsOnlyKeys {
		delete(merged, k)
	}
	if len(explicit) > 0 {
		var over map[string]json.RawMessage
		if err := json.Unmarshal(explicit, &over); err != nil {
			return nil, nil, fmt.Errorf("parameters: %w", err)
		}
		for k, v := range over {
			merged[k] = v
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, nil, err
	}
	return out, set, nil
}

// explicitWeights are the weights the job's own parameters give (nil:
// none, or parameters phase 2 refuses anyway).
func explicitWeights(explicit json.RawMessage) *emg.Weights {
	if len(explicit) == 0 {
		return nil
	}
	var p struct {
		Weights *emg.Weights `json:"weights"`
	}
	if json.Unmarshal(explicit, &p) != nil {
		return nil
	}
	return p.Weights
}
