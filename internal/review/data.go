package review

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"emgd/emg"
	"emgd/internal/store"
)

// Settings are what the review needs of a patient's settings.
type Settings struct {
	// Version is the current settings version (0: the patient has none).
	Version int
	// MuscleNames maps a channel (base name, e.g. "CH1") to the muscle.
	MuscleNames map[string]string
	// SessionsPerWeek is the prescribed number of sessions a week.
	SessionsPerWeek int
}

// DefaultSessionsPerWeek is the prescription of a patient without settings.
const DefaultSessionsPerWeek = 3

// SettingsSource gives patients' current settings. Versioned patient
// settings plug in here; until then NoSettings answers for everyone.
type SettingsSource interface {
	// Settings returns the patient's current settings (Version 0 and the
	// defaults when there are none).
	Settings(ctx context.Context, patientCode string) (Settings, error)
	// Versions returns the current settings version of every patient that
	// has settings (a patient exists once a session or a settings version
	// names it).
	Versions(ctx context.Context) (map[string]int, error)
}

// NoSettings is the SettingsSource of a server without patient settings:
// version 0, no muscle names, DefaultSessionsPerWeek.
type NoSettings struct{}

// Settings implements SettingsSource.
func (NoSettings) Settings(context.Context, string) (Settings, error) {
	return Settings{SessionsPerWeek: DefaultSessionsPerWeek}, nil
}

// Versions implements SettingsSource.
func (NoSettings) Versions(context.Context) (map[string]int, error) { return map[string]int{}, nil }

// channelStats is a channel's stored analytics; its contractions are left
// undecoded (the review shows counts only).
type channelStats struct {
	emg.ChannelAnalytics
	Contractions json.RawMessage `json:"contractions"`
}

// storedScores is analysis_results.scores (service.StoredScores).
type storedScores struct {
	emg.Performance
	ScoringConfigID *string `json:"scoring_config_id"`
	// SettingsVersion, when the analysis recorded one here.
	SettingsVersion *int `json:"settings_version"`
}

// sessionData is a session and its decoded current analysis.
type sessionData struct {
	S        store.Session
	A        *store.AnalysisResult // nil: not analysed
	Channels map[string]*channelStats
	Bases    []string       // sorted channel bases of the analysis
	Scores   *storedScores  // nil: no scores
	Params   emg.Params     // the parameters of the analysis
	Meta     map[string]any // the session's metadata
	// SettingsVersion is the settings version the analysis used (0: none).
	SettingsVersion int
}

func decode(sa store.SessionAnalysis) *sessionData {
	d := &sessionData{S: sa.Session, A: sa.Analysis, Channels: map[string]*channelStats{}}
	_ = json.Unmarshal(sa.Session.Metadata, &d.Meta)
	if a := sa.Analysis; a != nil {
		var sum struct {
			Analytics       map[string]*channelStats `json:"analytics"`
			SettingsVersion *int                     `json:"settings_version"`
		}
		_ = json.Unmarshal(a.AnalyticsSummary, &sum)
		for base, ch := range sum.Analytics {
			if ch != nil {
				d.Channels[base] = ch
				d.Bases = append(d.Bases, base)
			}
		}
		sort.Strings(d.Bases)
		if len(a.Scores) > 0 && !bytes.Equal(bytes.TrimSpace(a.Scores), []byte("null")) {
			var sc storedScores
			if json.Unmarshal(a.Scores, &sc) == nil {
				d.Scores = &sc
			}
		}
		_ = json.Unmarshal(a.Params, &d.Params)
		d.SettingsVersion = analysisSettingsVersion(a, sum.SettingsVersion, d.Scores)
	}
	return d
}

// analysisSettingsVersion is the settings version an analysis recorded: a
// top-level "settings_version" of its parameters, summary or scores (the
// first found), else 0.
func analysisSettingsVersion(a *store.AnalysisResult, inSummary *int, sc *storedScores) int {
	var p struct {
		SettingsVersion *int `json:"settings_version"`
	}
	if json.Unmarshal(a.Params, &p) == nil && p.SettingsVersion != nil {
		return *p.SettingsVersion
	}
	if inSummary != nil {
		return *inSummary
	}
	if sc != nil && sc.SettingsVersion != nil {
		return *sc.SettingsVersion
	}
	return 0
}

// expected is the number of contractions expected of a channel under the
// analysis's parameters.
func (d *sessionData) expected(base string) int {
	p := d.Params
	if v, ok := p.ExpectedContractionsPerChannel[base]; ok {
		return v
	}
	if d.Scores != nil {
		for side, ch := range map[string]string{"left": d.Scores.LeftChannel, "right": d.Scores.RightChannel} {
			if ch == base {
				if v, ok := p.ExpectedContractionsPerChannel[side]; ok {
					return v
				}
			}
		}
	}
	if p.ExpectedContractions != nil {
		return *p.ExpectedContractions
	}
	return emg.DefaultExpectedContractions
}

// day is the session's recording date (the device's clock), else the date
// emgd received it (UTC).
func (d *sessionData) day() time.Time {
	t := d.S.CreatedAt.UTC()
	if d.S.RecordedAt != nil {
		t = *d.S.RecordedAt
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func (d *sessionData) recordedAt() *string {
	if d.S.RecordedAt == nil {
		return nil
	}
	s := d.S.RecordedAt.Format(store.RecordedAtLayout)
	return &s
}

func (d *sessionData) score(f func(*emg.Performance) *float64) *float64 {
	if d.Scores == nil {
		return nil
	}
	return f(&d.Scores.Performance)
}

func muscleOf(set Settings, base string) *string {
	if m, ok := set.MuscleNames[base]; ok {
		return &m
	}
	return nil
}

// isoWeek formats t's ISO week as 2026-W48.
func isoWeek(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// weekStart is the Monday of t's ISO week.
func weekStart(t time.Time) time.Time {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	wd := (int(t.Weekday()) + 6) % 7 // Monday 0
	return t.AddDate(0, 0, -wd)
}

// game is a field of the metadata's game object (name, level, player,
// score), as text.
func (d *sessionData) game(key string) string {
	g, _ := d.Meta["game"].(map[string]any)
	switch v := g[key].(type) {
	case string:
		return v
	case float64:
		return num(v)
	}
	return ""
}
