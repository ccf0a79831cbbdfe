package oldapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"emgd/internal/api/httperr"
	"emgd/internal/auth"
	"emgd/internal/store"
)

// The GHOSTLY+ protocol as the old adherence score defined it.
const (
	TrialDays            = 14        // protocol days; later days count as day 14
	TotalSessionsPlanned = 30        // the old patients.total_sessions_planned default
	ExpectedPerDay       = 15.0 / 7. // game sessions expected per protocol day
	minAdherenceDay      = 3
)

// AdherenceResponse is GET /scoring/adherence/{patient_code}. Before
// protocol day 3 it carries adherence_score null and message only; from day
// 3 on the counts, the category and its interpretation.
type AdherenceResponse struct {
	PatientID            string   `json:"patient_id"` // the patient code
	ProtocolDay          int      `json:"protocol_day"`
	AdherenceScore       *float64 `json:"adherence_score"` // percent, at most 100
	CompletedSessions    *int     `json:"completed_sessions,omitempty"`
	ExpectedSessions     *float64 `json:"expected_sessions,omitempty"`
	Category             string   `json:"category,omitempty"` // Excellent, Good, Moderate, Poor
	Interpretation       string   `json:"interpretation,omitempty"`
	Message              string   `json:"message,omitempty"`
	TrialDuration        int      `json:"trial_duration"`
	TotalSessionsPlanned int      `json:"total_sessions_planned"`
}

// sessionDay is the date a session was recorded (the device's clock), else
// the date emgd received it, in UTC.
func sessionDay(s *store.Session) time.Time {
	t := s.CreatedAt
	if s.RecordedAt != nil {
		t = *s.RecordedAt
	}
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// adherence computes the old score from emgd's sessions: the patient's
// treatment starts on the day of its first recording; the protocol day is
// the number of days since, plus one, capped to [1, 14]; completed sessions
// (unless given) are the patient's recordings (newest version of each
// object) from the last protocol-day days, today included; the score is
// completed / (15/7 x protocol day) x 100, at most 100.
func (h *handler) adherence(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("patient_code")
	var given *int
	if v, ok := r.URL.Query()["sessions_completed"]; ok {
		raw := v[len(v)-1]
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			validationError(w, []ValidationError{{Type: "int_parsing", Loc: []any{"query", "sessions_completed"},
				Msg: "Input should be a valid integer, unable to parse string as an integer", Input: rawString(raw)}})
			return
		}
		given = &n
	}
	var days []time.Time
	var first time.Time
	// Another patient's than the principal's lists nothing: not found, as
	// an absent one.
	opts := store.ListOptions{Scope: auth.Scope(r.Context()), PatientCode: code, Limit: store.MaxListLimit}
	for {
		page, err := h.st.ListSessions(r.Context(), opts)
		if err != nil {
			h.internal(w, r, "Calculating adherence", err)
			return
		}
		for i := range page.Sessions {
			s := &page.Sessions[i]
			if s.SupersededBy != "" {
				continue
			}
			start := s.CreatedAt
			if s.RecordedAt != nil {
				start = *s.RecordedAt
			}
			if first.IsZero() || start.Before(first) {
				first = start
			}
			days = append(days, sessionDay(s))
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	if len(days) == 0 {
		httpError(w, r, http.StatusNotFound, "Patient not found: "+code)
		return
	}
	if err := auth.Audit(r, actionAdherenceRead, code, ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	now := h.now().UTC()
	since := int(math.Floor(now.Sub(first).Hours()/24)) + 1
	day := min(TrialDays, max(1, since))
	out := AdherenceResponse{PatientID: code, ProtocolDay: day, TrialDuration: TrialDays, TotalSessionsPlanned: TotalSessionsPlanned}
	if day < minAdherenceDay {
		out.Message = "Minimum 3 days required for adherence calculation"
		writeJSON(w, http.StatusOK, out)
		return
	}
	completed := 0
	if given != nil {
		completed = *given
	} else {
		today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		cutoff := today.AddDate(0, 0, -(day - 1))
		for _, d := range days {
			if !d.Before(cutoff) {
				completed++
			}
		}
	}
	expected := ExpectedPerDay * float64(day)
	score := min(100, float64(completed)/expected*100)
	out.AdherenceScore, out.CompletedSessions, out.ExpectedSessions = &score, &completed, &expected
	switch {
	case score >= 85:
		out.Category, out.Interpretation = "Excellent", "Meeting/exceeding frequency targets"
	case score >= 70:
		out.Category, out.Interpretation = "Good", "Adequate with minor gaps"
	case score >= 50:
		out.Category, out.Interpretation = "Moderate", "Suboptimal, intervention consideration"
	default:
		out.Category, out.Interpretation = "Poor", "Significant concern, support needed"
	}
	writeJSON(w, http.StatusOK, out)
}
