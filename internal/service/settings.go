package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"emgd/emg"
	"emgd/internal/store"
)

// settingsOnlyKeys are the keys of a patient's settings document that are
// not session parameters.
var settingsOnlyKeys = []string{"muscle_names", "sessions_per_week"}

// channelMapKeys are the session parameters keyed by channel name, and
// channelListKey the one listing channel names.
var channelMapKeys = []string{"mvc", "mvc_threshold_pct", "duration_thresholds_s", "expected_contractions_per_channel", "muscles"}

const channelListKey = "channels"

// sessionSettings returns the patient's settings version a session's
// analysis uses: the version current when the session was created (the
// highest saved at or before its creation), or with current the
// patient's current version (a reanalysis with the current settings); nil
// when the patient had none.
func (s *Service) sessionSettings(ctx context.Context, sess *store.Session, current bool) (*store.PatientSettings, error) {
	var set *store.PatientSettings
	var err error
	if current {
		set, err = s.Store.CurrentSettings(ctx, sess.PatientCode)
	} else {
		set, err = s.Store.SettingsAt(ctx, sess.PatientCode, sess.CreatedAt)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return set, err
}

// mergeParams merges the settings version set (nil: none) under the
// explicit parameters, top-level field by field (an explicit field wins),
// and returns the parameters to analyse with, as JSON (explicit unchanged
// when there are no settings), with the warnings of what was left out.
//
// A patient's settings name channels once for every recording of that
// patient, while recordings differ (a calibration with three channels, a
// game session with two): with labels (the recording's analog labels;
// nil: unknown) the settings' per-channel values (mvc, mvc_threshold_pct,
// duration_thresholds_s, expected_contractions_per_channel, muscles) and
// selected channels (channels) the recording does not have are left out,
// one warning per channel naming its fields, instead of failing the
// session. A selection of none of the recording's channels is left out
// whole (every channel is analysed, with a warning saying so). Explicit parameters are never pruned: one naming a channel
// the recording does not have fails the analysis, as it always did.
func mergeParams(set *store.PatientSettings, explicit json.RawMessage, labels []string) (json.RawMessage, []string, error) {
	if set == nil {
		return explicit, nil, nil
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(set.Document, &merged); err != nil {
		return nil, nil, fmt.Errorf("patient %s settings version %d: %w", set.PatientCode, set.Version, err)
	}
	for _, k := range settingsOnlyKeys {
		delete(merged, k)
	}
	var over map[string]json.RawMessage
	if len(explicit) > 0 {
		if err := json.Unmarshal(explicit, &over); err != nil {
			return nil, nil, fmt.Errorf("parameters: %w", err)
		}
	}
	var warnings []string
	if labels != nil {
		warnings = pruneAbsentChannels(merged, over, labels, set)
	}
	for k, v := range over {
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, nil, err
	}
	return out, warnings, nil
}

// pruneAbsentChannels removes from the settings' parameters doc the
// per-channel values and selected channels naming a channel the recording
// with these labels does not have, in the fields the explicit parameters
// over do not replace, and returns a warning per such channel. A field
// that does not read as expected is left for the analysis to refuse.
func pruneAbsentChannels(doc, over map[string]json.RawMessage, labels []string, set *store.PatientSettings) []string {
	// A name denotes a channel as emg resolves it: a channel key or the
	// base of one.
	keys := emg.ChannelKeys(labels)
	known := map[string]bool{}
	var bases []string
	for _, k := range keys {
		known[k] = true
		if b := emg.BaseName(k); !slices.Contains(bases, b) {
			known[b] = true
			bases = append(bases, b)
		}
	}
	sort.Strings(bases)
	absent := map[string][]string{} // channel -> fields naming it
	for _, field := range channelMapKeys {
		raw, ok := doc[field]
		if _, replaced := over[field]; !ok || replaced {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || m == nil {
			continue
		}
		changed := false
		for name := range m {
			if !known[name] {
				absent[name] = append(absent[name], field)
				delete(m, name)
				changed = true
			}
		}
		if !changed {
			continue
		}
		if len(m) == 0 {
			delete(doc, field)
		} else if b, err := json.Marshal(m); err == nil {
			doc[field] = b
		}
	}
	noneSelected := false
	if raw, ok := doc[channelListKey]; ok {
		var list []string
		if _, replaced := over[channelListKey]; !replaced && json.Unmarshal(raw, &list) == nil {
			kept := []string{}
			for _, name := range list {
				if known[name] {
					kept = append(kept, name)
				} else if !slices.Contains(absent[name], channelListKey) {
					absent[name] = append(absent[name], channelListKey)
				}
			}
			switch {
			case len(kept) == len(list):
			case len(kept) == 0:
				delete(doc, channelListKey)
				noneSelected = true
			default:
				doc[channelListKey], _ = json.Marshal(kept)
			}
		}
	}
	var out []string
	has := strings.Join(bases, ", ")
	names := make([]string, 0, len(absent))
	for name := range absent {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fields := absent[name]
		sort.Strings(fields)
		out = append(out, fmt.Sprintf("patient %s settings version %d: channel %q (%s) is not in this recording (its channels: %s); ignored for this session",
			set.PatientCode, set.Version, name, strings.Join(fields, ", "), has))
	}
	if noneSelected {
		out = append(out, fmt.Sprintf("patient %s settings version %d: none of the channels selected is in this recording; every channel analysed",
			set.PatientCode, set.Version))
	}
	return out
}

// metadataLabels are the analog labels phase 1 read from the session's
// version of its file (nil when its metadata does not hold them).
func metadataLabels(sess *store.Session) []string {
	var md struct {
		ChannelNames []string `json:"channel_names"`
	}
	if json.Unmarshal(sess.Metadata, &md) != nil {
		return nil
	}
	return md.ChannelNames
}
