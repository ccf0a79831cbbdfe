package auth

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"emgd/internal/store"
)

// AuditEntryJSON is one line of the audit trail as GET /audit answers it.
type AuditEntryJSON struct {
	At          time.Time `json:"at"`
	User        string    `json:"user" doc:"who acted: the user's email, open/static for the open service and the read token, or cli for emgd users and tokens; empty for a failed login naming no account"`
	Target      string    `json:"target,omitempty" doc:"the account the action changed (its email), for changes made with emgd users and tokens; absent otherwise"`
	Action      string    `json:"action" doc:"what was done: session.read, signals.read, export.csv, settings.update, auth.login, ..."`
	PatientCode string    `json:"patient_code" doc:"empty when the action concerns no patient"`
	SessionID   string    `json:"session_id" doc:"empty when the action concerns no session"`
	IP          string    `json:"ip"`
}

// AuditEntryOf is e as GET /audit and emgd audit --json show it.
func AuditEntryOf(e store.AuditEntry) AuditEntryJSON {
	return AuditEntryJSON{At: e.At, User: e.User, Target: e.Target, Action: e.Action, PatientCode: e.PatientCode, SessionID: e.SessionID, IP: e.IP}
}

// AuditResponse is a page of the audit trail, newest first.
type AuditResponse struct {
	Success    bool             `json:"success" doc:"always true"`
	Entries    []AuditEntryJSON `json:"entries"`
	NextCursor *string          `json:"next_cursor" doc:"cursor of the next page; null on the last"`
}

// ParseAuditTime reads a from/to filter of the audit trail: RFC 3339, or a date
// (YYYY-MM-DD, UTC). end makes a date mean its end (the whole day
// included) and a time inclusive.
func ParseAuditTime(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		if end {
			t = t.Add(time.Microsecond)
		}
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, err
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// auditList handles GET /audit: admins only (403 for a therapist: the
// trail is no patient's data, and says who saw which patients).
func (g *Guard) auditList(w http.ResponseWriter, r *http.Request) {
	if p := FromContext(r.Context()); p == nil || p.Role != Admin {
		writeError(w, http.StatusForbidden, "the audit trail is for admins")
		return
	}
	if g.Accounts == nil {
		writeJSON(w, http.StatusOK, AuditResponse{Success: true, Entries: []AuditEntryJSON{}})
		return
	}
	q := r.URL.Query()
	f := store.AuditFilter{PatientCode: q.Get("patient"), User: q.Get("user"), Cursor: q.Get("cursor")}
	var err error
	if v := q.Get("from"); v != "" {
		if f.From, err = ParseAuditTime(v, false); err != nil {
			writeError(w, http.StatusBadRequest, "from must be a date (YYYY-MM-DD) or an RFC 3339 time")
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = ParseAuditTime(v, true); err != nil {
			writeError(w, http.StatusBadRequest, "to must be a date (YYYY-MM-DD) or an RFC 3339 time")
			return
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		writeError(w, http.StatusBadRequest, "from is after to")
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(store.MaxAuditLimit))
			return
		}
		f.Limit = n
	}
	page, err := g.Accounts.ListAudit(r.Context(), f)
	if errors.Is(err, store.ErrInvalidInput) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		g.log().Warn("auth: audit unreadable", "error", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	out := AuditResponse{Success: true, Entries: make([]AuditEntryJSON, 0, len(page.Entries))}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, AuditEntryOf(e))
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}
