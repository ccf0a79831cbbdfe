package service

import (
	"encoding/json"
	"fmt"

	"emgd/emg"
)

// StoredSummary is what analysis_results.analytics_summary holds: the
// per-channel aggregates of emgd analyze, never a signal. Contractions are
// stored as rows of numbers (see CompactContractions); Expand gives back
// the shape emgd analyze prints.
type StoredSummary struct {
	Analytics         map[string]*StoredChannel `json:"analytics"`
	AvailableChannels []string                  `json:"available_channels"`
	ProcessingVersion string                    `json:"processing_version"`
	// SettingsVersion is the patient's settings version the analysis
	// used (absent: none).
	SettingsVersion int `json:"settings_version,omitempty"`
	// Warnings say what the analysis left out of the parameters it was
	// given (settings naming channels the recording does not have).
	Warnings []string `json:"warnings,omitempty"`
}

// StoredChannel is a channel's analytics with compact contractions.
type StoredChannel struct {
	emg.ChannelAnalytics
	// Contractions shadows ChannelAnalytics.Contractions in JSON.
	Contractions CompactContractions `json:"contractions"`
}

// Summary extracts the stored summary of a result.
func Summary(r *emg.Result) StoredSummary {
	out := StoredSummary{Analytics: map[string]*StoredChannel{}, AvailableChannels: r.AvailableChannels, ProcessingVersion: r.ProcessingVersion}
	for base, ch := range r.Analytics {
		if ch == nil {
			out.Analytics[base] = nil
			continue
		}
		sc := &StoredChannel{ChannelAnalytics: *ch, Contractions: CompactContractions(ch.Contractions)}
		sc.ChannelAnalytics.Contractions = nil
		out.Analytics[base] = sc
	}
	return out
}

// Expand returns the summary in emgd analyze's shape.
func (s StoredSummary) Expand() map[string]any {
	an := make(map[string]*emg.ChannelAnalytics, len(s.Analytics))
	for base, sc := range s.Analytics {
		if sc == nil {
			an[base] = nil
			continue
		}
		ch := sc.ChannelAnalytics
		ch.Contractions = []emg.Contraction(sc.Contractions)
		if ch.Contractions == nil {
			ch.Contractions = []emg.Contraction{}
		}
		an[base] = &ch
	}
	out := map[string]any{"analytics": an, "available_channels": s.AvailableChannels, "processing_version": s.ProcessingVersion}
	if len(s.Warnings) > 0 {
		out["warnings"] = s.Warnings
	}
	return out
}

// ExpandJSON turns a stored analytics_summary into emgd analyze's shape.
func ExpandJSON(raw []byte) (json.RawMessage, error) {
	var s StoredSummary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return json.Marshal(s.Expand())
}

// CompactContractions is stored as
// {"columns":["start_time_ms","end_time_ms","duration_ms","mean_amplitude","max_amplitude","flags"],"rows":[[...],...]}
// where flags is meets_mvc | meets_duration<<1 | is_good<<2: the same
// numbers, in about 40 % of the bytes of one object per contraction.
type CompactContractions []emg.Contraction

var contractionColumns = []string{"start_time_ms", "end_time_ms", "duration_ms", "mean_amplitude", "max_amplitude", "flags"}

// MarshalJSON implements json.Marshaler.
func (c CompactContractions) MarshalJSON() ([]byte, error) {
	rows := make([][6]float64, len(c))
	for i, x := range c {
		flags := 0
		if x.MeetsMVC {
			flags |= 1
		}
		if x.MeetsDuration {
			flags |= 2
		}
		if x.IsGood {
			flags |= 4
		}
		rows[i] = [6]float64{x.StartTimeMs, x.EndTimeMs, x.DurationMs, x.MeanAmplitude, x.MaxAmplitude, float64(flags)}
	}
	return json.Marshal(struct {
		Columns []string     `json:"columns"`
		Rows    [][6]float64 `json:"rows"`
	}{contractionColumns, rows})
}

// UnmarshalJSON implements json.Unmarshaler; it also accepts the expanded
// form (a list of objects).
func (c *CompactContractions) UnmarshalJSON(b []byte) error {
	var list []emg.Contraction
	if err := json.Unmarshal(b, &list); err == nil {
		*c = list
		return nil
	}
	var v struct {
		Columns []string     `json:"columns"`
		Rows    [][6]float64 `json:"rows"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if len(v.Columns) != len(contractionColumns) {
		return fmt.Errorf("contractions: %d columns, want %d", len(v.Columns), len(contractionColumns))
	}
	out := make([]emg.Contraction, len(v.Rows))
	for i, r := range v.Rows {
		f := int(r[5])
		out[i] = emg.Contraction{StartTimeMs: r[0], EndTimeMs: r[1], DurationMs: r[2], MeanAmplitude: r[3], MaxAmplitude: r[4],
			MeetsMVC: f&1 != 0, MeetsDuration: f&2 != 0, IsGood: f&4 != 0}
	}
	*c = out
	return nil
}
