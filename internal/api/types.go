package api

import (
	"encoding/json"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/store"
)

// The answers of the API. Their fields are in alphabetical order, the order
// in which the maps they replaced were encoded; the API document
// (/openapi.json) is derived from these types.

// ProbeResponse is GET /healthz ("ok") and GET /readyz ("ready").
type ProbeResponse struct {
	Status string `json:"status" enum:"ok,ready"`
}

// WebhookResponse is the webhook's answer: the first accepted record's
// result, with every record's result in results when the notification
// carried several (status 200); or, when every record failed, success false
// and the results (status 207). One record's result is either accepted
// (session_id, session_code, metadata, analytics_status, duplicate),
// ignored (ignored, message "Ignored: ..."), accepted without session data
// when reads are protected and the sender did not authenticate, or failed
// (success false, error, status).
//
// Beside emgd's own keys it keeps the old backend's WebhookResponse:
// success, message ("C3D processing initiated" when accepted),
// session_code and session_id (null when ignored, failed or withheld) and
// processing_time_ms (phase 1's time; null when ignored).
type WebhookResponse struct {
	AnalyticsStatus  string            `json:"analytics_status,omitempty" enum:"processing,completed,failed"`
	Duplicate        *bool             `json:"duplicate,omitempty" doc:"the object already had this session"`
	Error            string            `json:"error,omitempty"`
	Ignored          bool              `json:"ignored,omitempty"`
	Message          string            `json:"message"`
	Metadata         *map[string]any   `json:"metadata,omitempty" doc:"channel_names, channel_count, sampling_rate, duration_seconds, frame_count, samples_per_channel, file_size_bytes, bucket, object_key, etag, patient_code, recorded_at, game {name, level, score, player, version}"`
	ProcessingTimeMs *float64          `json:"processing_time_ms" doc:"milliseconds spent on this record (phase 1); null when ignored"`
	Results          []WebhookResponse `json:"results,omitempty" doc:"each record's result, when the notification carried several"`
	SessionCode      *string           `json:"session_code" doc:"null when the record was ignored, failed, or its session is withheld"`
	SessionID        *string           `json:"session_id" doc:"null when the record was ignored, failed, or its session is withheld"`
	Status           int               `json:"status,omitempty" doc:"a failed record's HTTP status"`
	Success          bool              `json:"success"`
}

// StatusResponse is GET /webhooks/storage/status/{ref}.
type StatusResponse struct {
	CreatedAt    time.Time       `json:"created_at"`
	Error        *string         `json:"error"`
	ErrorMessage *string         `json:"error_message" doc:"the old backend's name for error"`
	FilePath     string          `json:"file_path" doc:"<bucket>/<object key>, as the old backend named the file"`
	HasAnalysis  bool            `json:"has_analysis"`
	ProcessedAt  *time.Time      `json:"processed_at"`
	SessionCode  string          `json:"session_code"`
	SessionID    string          `json:"session_id"`
	Status       store.Status    `json:"status" enum:"pending,processing,completed,failed,rejected"`
	Success      bool            `json:"success"`
	Timings      json.RawMessage `json:"timings" doc:"phase timings in milliseconds (an object), or null"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// Session is a session as the API shows it.
type Session struct {
	Bucket        string          `json:"bucket"`
	CreatedAt     time.Time       `json:"created_at"`
	Error         *string         `json:"error"`
	ETag          string          `json:"etag"`
	FileSHA256    *string         `json:"file_sha256"`
	FileSizeBytes *int64          `json:"file_size_bytes"`
	HasAnalysis   bool            `json:"has_analysis"`
	ID            string          `json:"id"`
	Metadata      json.RawMessage `json:"metadata" doc:"phase 1's metadata of the recording (an object), or null"`
	ObjectKey     string          `json:"object_key"`
	Overview      *Overview       `json:"overview,omitempty" doc:"in lists, for sessions with an analysis"`
	PatientCode   string          `json:"patient_code"`
	ProcessedAt   *time.Time      `json:"processed_at"`
	RecordedAt    *string         `json:"recorded_at" doc:"the device's local time, without a zone (2006-01-02T15:04:05)"`
	SessionCode   string          `json:"session_code" doc:"<patient>S<nnn>; a rejected recording's is <patient>R<nnn>, a sequence of its own"`
	Status        store.Status    `json:"status" enum:"pending,processing,completed,failed,rejected" doc:"rejected: phase 1 refused the recording (error says why); it has no analysis and does not count among the patient's sessions"`
	SupersededBy  *string         `json:"superseded_by" doc:"the session of the newer version of the object"`
	Timings       json.RawMessage `json:"timings" doc:"phase timings in milliseconds (an object), or null"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// Overview is the few figures a session list shows.
type Overview struct {
	Channels          map[string]ChannelCounts `json:"channels"`
	OverallScore      any                      `json:"overall_score" doc:"the stored scores' overall_score"`
	ProcessingVersion string                   `json:"processing_version"`
}

// ChannelCounts is a channel's contraction counts.
type ChannelCounts struct {
	Contractions int `json:"contractions"`
	Good         int `json:"good"`
}

// SessionListResponse is GET /sessions.
type SessionListResponse struct {
	NextCursor *string   `json:"next_cursor" doc:"the cursor of the next page; null on the last"`
	Sessions   []Session `json:"sessions"`
	Success    bool      `json:"success"`
}

// SessionResponse is GET /sessions/{id}: the session and its current
// analysis.
type SessionResponse struct {
	Analysis *Analysis `json:"analysis" doc:"null until an analysis is stored"`
	Session
	Success bool `json:"success"`
}

// Analysis is a session's current analysis.
type Analysis struct {
	AnalyticsSummary  AnalyticsSummary `json:"analytics_summary"`
	CreatedAt         time.Time        `json:"created_at"`
	Params            json.RawMessage  `json:"params" doc:"the parameters used (an object)"`
	ParamsHash        string           `json:"params_hash"`
	ProcessingVersion string           `json:"processing_version"`
	Scores            json.RawMessage  `json:"scores" doc:"the scores (an object), or null"`
	SettingsVersion   int              `json:"settings_version" doc:"the patient's settings version the analysis used (0: none, the defaults and the request's parameters)"`
}

// AnalyticsSummary is the stored aggregates in emgd analyze's shape.
type AnalyticsSummary struct {
	Analytics         map[string]*emg.ChannelAnalytics `json:"analytics"`
	AvailableChannels []string                         `json:"available_channels" nullable:"true"`
	ProcessingVersion string                           `json:"processing_version"`
	Warnings          []string                         `json:"warnings,omitempty" doc:"what the analysis left out of its parameters, e.g. the patient's settings for a channel the recording does not have"`
}

// RecalcResponse is POST /sessions/{id}/recalc.
type RecalcResponse struct {
	AnalyticsStatus string          `json:"analytics_status" enum:"processing"`
	Params          json.RawMessage `json:"params" doc:"the parameters, as the analysis will use them"`
	SessionCode     string          `json:"session_code"`
	SessionID       string          `json:"session_id"`
	Success         bool            `json:"success"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sessionOf is a session as the API shows it.
func sessionOf(s *store.Session) Session {
	out := Session{ID: s.ID, SessionCode: s.SessionCode, PatientCode: s.PatientCode, Bucket: s.Bucket,
		ObjectKey: s.ObjectKey, ETag: s.ETag, FileSizeBytes: s.FileSizeBytes, FileSHA256: nullable(s.FileSHA256),
		Status: s.Status, Error: nullable(s.Error), Metadata: rawOrNull(s.Metadata), SupersededBy: nullable(s.SupersededBy),
		Timings: rawOrNull(s.Timings), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, ProcessedAt: s.ProcessedAt,
		HasAnalysis: s.HasAnalysis}
	if s.RecordedAt != nil {
		out.RecordedAt = nullable(s.RecordedAt.Format(store.RecordedAtLayout))
	}
	return out
}

// rawOrNull is b, or null when empty.
func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// overviewOf is the few figures a session list shows: contraction counts
// per channel and the overall score.
func overviewOf(a *store.AnalysisResult) *Overview {
	var sum service.StoredSummary
	_ = json.Unmarshal(a.AnalyticsSummary, &sum)
	counts := map[string]ChannelCounts{}
	for base, ch := range sum.Analytics {
		if ch != nil {
			counts[base] = ChannelCounts{Contractions: ch.ContractionCount, Good: ch.GoodContractionCount}
		}
	}
	var scores map[string]any
	_ = json.Unmarshal(a.Scores, &scores)
	return &Overview{Channels: counts, OverallScore: scores["overall_score"], ProcessingVersion: a.ProcessingVersion}
}

// analysisOf is a session's current analysis as the API shows it.
func analysisOf(a *store.AnalysisResult) (*Analysis, error) {
	var stored service.StoredSummary
	if err := json.Unmarshal(a.AnalyticsSummary, &stored); err != nil {
		return nil, err
	}
	expanded := stored.Expand()
	an, _ := expanded["analytics"].(map[string]*emg.ChannelAnalytics)
	return &Analysis{ProcessingVersion: a.ProcessingVersion, Params: rawOrNull(a.Params), ParamsHash: a.ParamsHash,
		AnalyticsSummary: AnalyticsSummary{Analytics: an, AvailableChannels: stored.AvailableChannels, ProcessingVersion: stored.ProcessingVersion,
			Warnings: stored.Warnings},
		Scores: rawOrNull(a.Scores), CreatedAt: a.CreatedAt, SettingsVersion: analysisSettingsVersion(a, stored.SettingsVersion)}, nil
}

// analysisSettingsVersion is the settings version an analysis recorded
// (as the review reads it): a top-level settings_version of its
// parameters, else of its summary (inSummary), else of its scores, else 0.
func analysisSettingsVersion(a *store.AnalysisResult, inSummary int) int {
	var p, sc struct {
		SettingsVersion *int `json:"settings_version"`
	}
	if json.Unmarshal(a.Params, &p) == nil && p.SettingsVersion != nil {
		return *p.SettingsVersion
	}
	if inSummary != 0 {
		return inSummary
	}
	if json.Unmarshal(a.Scores, &sc) == nil && sc.SettingsVersion != nil {
		return *sc.SettingsVersion
	}
	return 0
}
