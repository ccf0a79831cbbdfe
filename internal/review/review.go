// Package review is the read-only patient review: the patient list, a
// patient's trends over a date range with weekly adherence, CSV exports
// and printable HTML reports of a session or of a patient's range.
//
// Everything is read from the stored sessions and their current analyses
// (store.Review); nothing is recomputed from the recordings. Patient
// settings (muscle names, sessions per week, the settings version) come
// from a SettingsSource: the store's versioned settings (StoreSettings),
// which the settings routes (settings.go) read and write.
package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/store"
)

// Store is what the review reads of emgd's database.
type Store interface {
	store.Review
	FindSession(ctx context.Context, ref string) (*store.Session, error)
	CurrentAnalysis(ctx context.Context, sessionID string) (*store.AnalysisResult, error)
}

// Deps are the package's dependencies.
type Deps struct {
	Store Store // required
	// PatientSettings are the versioned settings the settings routes read
	// and write (nil: those routes answer 501).
	PatientSettings store.Settings
	// Settings gives patients' settings to the review (when nil:
	// StoreSettings over PatientSettings, or NoSettings without them).
	Settings SettingsSource
	Log      *slog.Logger
	// Guard, when set, wraps every route (for instance the read API's
	// bearer-token check).
	Guard func(http.HandlerFunc) http.HandlerFunc
	// Service runs reanalyses and MVC estimates (nil: those routes answer
	// 501); UploadLimit is the largest calibration recording accepted
	// (0: upload.DefaultLimit, as POST /upload).
	Service     *service.Service
	UploadLimit int64
}

type handler struct {
	st  Store
	set SettingsSource
	ps  store.Settings // nil: the store keeps no settings
	log *slog.Logger
	act actions // reanalyze.go, mvc.go
}

// Register adds the review's routes to mux, each documented (routes.go).
func Register(mux apidoc.Router, d Deps) {
	h := &handler{st: d.Store, set: d.Settings, ps: d.PatientSettings, log: d.Log, act: newActions(d)}
	if h.set == nil {
		h.set = NoSettings{}
		if h.ps != nil {
			h.set = StoreSettings{Store: h.ps}
		}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	guard := d.Guard
	if guard == nil {
		guard = func(f http.HandlerFunc) http.HandlerFunc { return f }
	}
	for _, r := range routes() {
		apidoc.HandleFunc(mux, r.op, guard(r.h(h)))
	}
}

// PatientsResponse is GET /patients.
type PatientsResponse struct {
	Patients []Patient `json:"patients"`
}

// Patient is one patient of the list.
type Patient struct {
	PatientCode     string  `json:"patient_code"`
	Sessions        int     `json:"sessions" doc:"current sessions (a re-uploaded recording counts once)"`
	Completed       int     `json:"completed"`
	Failed          int     `json:"failed"`
	LastRecordedAt  *string `json:"last_recorded_at" doc:"the newest recording's wall clock, no zone"`
	SettingsVersion int     `json:"settings_version"`
}

// requestError is a request's own mistake (400) or an unknown patient or
// session (404), with its message.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, a ...any) error {
	return &requestError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &requestError{http.StatusNotFound, fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"success":false,"error":"response encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// fail answers err in emgd's error shape: its own status for a
// requestError, 503 "audit trail unavailable" for an audit entry not
// written (auth.Audit; the guard logged why), 503 for the database.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		writeJSON(w, re.code, apidoc.ErrorResponse{Success: false, Error: re.msg})
	case errors.Is(err, auth.ErrAuditUnavailable):
		writeJSON(w, httperr.Status(err), apidoc.ErrorResponse{Success: false, Error: err.Error()})
	case errors.Is(err, context.Canceled):
	default:
		h.log.Error("review", "path", r.URL.Path, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, apidoc.ErrorResponse{Success: false, Error: "database unavailable"})
	}
}

// dateRange is a request's from/to (recording dates, inclusive).
type dateRange struct {
	From, To time.Time // zero: unbounded
}

// maxRangeDays bounds a range (its weeks are listed one by one).
const maxRangeDays = 3660

// parseRange reads the query's from and to (parseDates).
func parseRange(r *http.Request) (dateRange, error) {
	q := r.URL.Query()
	return parseDates(q.Get("from"), q.Get("to"))
}

// parseDates reads from and to (YYYY-MM-DD, either empty for unbounded):
// a 400 for a malformed date, from after to, or a range over maxRangeDays.
func parseDates(from, to string) (dateRange, error) {
	var dr dateRange
	for _, f := range []struct {
		name, v string
		dst     *time.Time
	}{{"from", from, &dr.From}, {"to", to, &dr.To}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, f.v)
		if err != nil {
			return dr, badRequest("%s: %q is not a date (YYYY-MM-DD)", f.name, f.v)
		}
		*f.dst = t
	}
	if !dr.From.IsZero() && !dr.To.IsZero() {
		if dr.To.Before(dr.From) {
			return dr, badRequest("from (%s) is after to (%s)", dr.From.Format(time.DateOnly), dr.To.Format(time.DateOnly))
		}
		if dr.To.Sub(dr.From) > maxRangeDays*24*time.Hour {
			return dr, badRequest("the range is longer than %d days", maxRangeDays)
		}
	}
	return dr, nil
}

func (dr dateRange) storeRange(code string) store.PatientRange {
	pr := store.PatientRange{PatientCode: code, RecordedFrom: dr.From}
	if !dr.To.IsZero() {
		pr.RecordedBefore = dr.To.AddDate(0, 0, 1)
	}
	return pr
}

// patient checks the path's patient code and that the patient exists (a
// session or settings name it), and returns its settings.
func (h *handler) patient(r *http.Request) (string, Settings, error) {
	code, err := allowed(r)
	if err != nil {
		return "", Settings{}, err
	}
	set, err := h.set.Settings(r.Context(), code)
	if err != nil {
		return "", Settings{}, err
	}
	if set.Version == 0 {
		ps, err := h.st.Patients(r.Context(), store.PatientOptions{PatientCode: code})
		if err != nil {
			return "", Settings{}, err
		}
		if len(ps) == 0 {
			return "", Settings{}, notFound("no patient %s", code)
		}
	}
	return code, set, nil
}

func (h *handler) patients(w http.ResponseWriter, r *http.Request) {
	ps, err := h.st.Patients(r.Context(), store.PatientOptions{Scope: auth.Scope(r.Context())})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	versions, err := h.set.Versions(r.Context())
	if err == nil {
		err = auth.Audit(r, actionPatientsList, "", "")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := PatientsResponse{Patients: []Patient{}}
	seen := map[string]bool{}
	for _, p := range ps {
		var last *string
		if p.LastRecordedAt != nil {
			s := p.LastRecordedAt.Format(store.RecordedAtLayout)
			last = &s
		}
		seen[p.PatientCode] = true
		out.Patients = append(out.Patients, Patient{PatientCode: p.PatientCode, Sessions: p.Sessions, Completed: p.Completed,
			Failed: p.Failed, LastRecordedAt: last, SettingsVersion: versions[p.PatientCode]})
	}
	for code, v := range versions {
		if !seen[code] && auth.May(r.Context(), code) {
			out.Patients = append(out.Patients, Patient{PatientCode: code, SettingsVersion: v})
		}
	}
	sortPatients(out.Patients)
	writeJSON(w, http.StatusOK, out)
}

// eachSession calls fn with each decoded session of the patient's range.
func (h *handler) eachSession(ctx context.Context, code string, dr dateRange, fn func(*sessionData) error) error {
	return h.st.PatientSessions(ctx, dr.storeRange(code), func(sa store.SessionAnalysis) error { return fn(decode(sa)) })
}

func (h *handler) trendsOf(ctx context.Context, code string, set Settings, dr dateRange) (*TrendsResponse, []*sessionData, error) {
	out := &TrendsResponse{PatientCode: code, Sessions: []TrendSession{}}
	var days []time.Time
	var all []*sessionData
	err := h.eachSession(ctx, code, dr, func(d *sessionData) error {
		out.Sessions = append(out.Sessions, trendSession(d, set))
		days = append(days, d.day())
		all = append(all, d)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	out.Weeks = weeks(days, dr.From, dr.To, set.SessionsPerWeek)
	return out, all, nil
}

func (h *handler) trends(w http.ResponseWriter, r *http.Request) {
	code, set, err := h.patient(r)
	if err == nil {
		var dr dateRange
		if dr, err = parseRange(r); err == nil {
			var out *TrendsResponse
			if out, _, err = h.trendsOf(r.Context(), code, set, dr); err == nil {
				if err = auth.Audit(r, actionTrendsRead, code, ""); err == nil {
					writeJSON(w, http.StatusOK, out)
					return
				}
			}
		}
	}
	h.fail(w, r, err)
}

// session finds the path's session (id or code) and its current analysis.
func (h *handler) session(r *http.Request) (*sessionData, error) {
	ref := r.PathValue("id")
	s, err := h.st.FindSession(r.Context(), ref)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput) {
		return nil, notFound("no session %q", ref)
	}
	if err != nil {
		return nil, err
	}
	if !auth.May(r.Context(), s.PatientCode) { // another's patient: as if absent
		return nil, notFound("no session %q", ref)
	}
	sa := store.SessionAnalysis{Session: *s}
	a, err := h.st.CurrentAnalysis(r.Context(), s.ID)
	switch {
	case err == nil:
		sa.Analysis = a
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	return decode(sa), nil
}
