package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"emgd/internal/store"
)

// settingsOnlyKeys are the keys of a patient's settings document that are
// not session parameters.
var settingsOnlyKeys = []string{"muscle_names", "sessions_per_week"}

// effectiveParams merges the patient's settings version current when the
// session was created (the highest saved at or before its creation) under
// the explicit parameters, top-level field by field (an explicit field
// wins). It returns the parameters to analyse with, as JSON (explicit
// unchanged when the patient had no settings then), and the settings
// version used (0: none).
func (s *Service) effectiveParams(ctx context.Context, sess *store.Session, explicit json.RawMessage) (json.RawMessage, int, error) {
	set, err := s.Store.SettingsAt(ctx, sess.PatientCode, sess.CreatedAt)
	if errors.Is(err, store.ErrNotFound) {
		return explicit, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(set.Document, &merged); err != nil {
		return nil, 0, fmt.Errorf("patient %s settings version %d: %w", sess.PatientCode, set.Version, err)
	}
	for _, k := range settingsOnlyKeys {
		delete(merged, k)
	}
	if len(explicit) > 0 {
		var over map[string]json.RawMessage
		if err := json.Unmarshal(explicit, &over); err != nil {
			return nil, 0, fmt.Errorf("parameters: %w", err)
		}
		for k, v := range over {
			merged[k] = v
		}
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, 0, err
	}
	return out, set.Version, nil
}
