package review

import (
	"net/http"
	"sort"

	"emgd/internal/apidoc"
)

// route is one route of the review and its handler.
type route struct {
	op apidoc.Op
	h  func(*handler) http.HandlerFunc
}

func jsonAnswer(code int, desc string, v any) apidoc.Response {
	return apidoc.Response{Status: code, Description: desc, ContentType: "application/json", Type: v}
}

func errAnswer(code int, desc string) apidoc.Response {
	return jsonAnswer(code, desc, apidoc.ErrorResponse{})
}

func routes() []route {
	tags := []string{"review"}
	guarded := []string{apidoc.ReadToken}
	code := apidoc.Param{Name: "code", In: "path", Description: "a patient code (P followed by 1 to 12 digits, e.g. P001)", Type: ""}
	id := apidoc.Param{Name: "id", In: "path", Description: "session id or session code", Type: ""}
	rng := []apidoc.Param{code,
		{Name: "from", In: "query", Description: "first recording date, YYYY-MM-DD (inclusive)", Type: ""},
		{Name: "to", In: "query", Description: "last recording date, YYYY-MM-DD (inclusive)", Type: ""}}
	badPatient := errAnswer(http.StatusBadRequest, "A malformed patient code or date, from after to, or a range over 3660 days")
	noPatient := errAnswer(http.StatusNotFound, "No session or settings name this patient")
	noSession := errAnswer(http.StatusNotFound, "No such session")
	common := []apidoc.Response{errAnswer(http.StatusUnauthorized, "A bearer token is required"),
		errAnswer(http.StatusServiceUnavailable, "Database unavailable")}
	csvAnswer := func(desc string) apidoc.Response {
		return apidoc.Response{Status: http.StatusOK, Description: desc, ContentType: "text/csv; charset=utf-8", Type: apidoc.String,
			Headers: map[string]string{"Content-Disposition": "attachment; filename=\"<name>.csv\""}}
	}
	htmlAnswer := func(desc string) apidoc.Response {
		return apidoc.Response{Status: http.StatusOK, Description: desc, ContentType: "text/html; charset=utf-8", Type: apidoc.String}
	}
	rs := []route{
		{apidoc.Op{Method: "GET", Path: "/patients", Tags: tags, Security: guarded, Summary: "Patients and their session counts",
			Description: "Every patient a session (or a settings version) names, by patient code: current sessions (a re-uploaded recording counts once), completed, failed, the newest recording and the settings version.",
			Responses:   []apidoc.Response{jsonAnswer(http.StatusOK, "The patients", PatientsResponse{})}},
			func(h *handler) http.HandlerFunc { return h.patients }},
		{apidoc.Op{Method: "GET", Path: "/patients/{code}/trends", Tags: tags, Security: guarded, Summary: "A patient's trends and weekly adherence",
			Description: "The current analysis of each current session recorded in the range, oldest first, and every ISO week of the range with the sessions done against those prescribed.",
			Params:      rng,
			Responses:   []apidoc.Response{jsonAnswer(http.StatusOK, "The trends", TrendsResponse{}), badPatient, noPatient}},
			func(h *handler) http.HandlerFunc { return h.trends }},
		{apidoc.Op{Method: "GET", Path: "/sessions/{id}/export.csv", Tags: tags, Security: guarded, Summary: "A session as CSV",
			Description: "RFC 4180, UTF-8, a header row, one row per channel: the session's fields, every analytics field, the scores and the parameters' key values; numbers at full precision (shortest form that reads back exactly).",
			Params:      []apidoc.Param{id},
			Responses:   []apidoc.Response{csvAnswer("The export (an attachment)"), noSession}},
			func(h *handler) http.HandlerFunc { return h.sessionCSV }},
		{apidoc.Op{Method: "GET", Path: "/patients/{code}/export.csv", Tags: tags, Security: guarded, Summary: "A patient's sessions as CSV",
			Description: "The columns of a session's export, one row per session and channel, oldest recording first, streamed.",
			Params:      rng,
			Responses:   []apidoc.Response{csvAnswer("The export (an attachment)"), badPatient, noPatient}},
			func(h *handler) http.HandlerFunc { return h.patientCSV }},
		{apidoc.Op{Method: "GET", Path: "/sessions/{id}/report", Tags: tags, Security: guarded, Summary: "A session's printable report",
			Description: "An HTML page with a print stylesheet (A4) and charts drawn as inline SVG: no script needed to print or save it as PDF.",
			Params:      []apidoc.Param{id},
			Responses:   []apidoc.Response{htmlAnswer("The report"), noSession}},
			func(h *handler) http.HandlerFunc { return h.sessionReport }},
		{apidoc.Op{Method: "GET", Path: "/patients/{code}/report", Tags: tags, Security: guarded, Summary: "A patient's printable report over a date range",
			Description: "An HTML page with a print stylesheet (A4) and inline SVG charts: good against expected contractions per muscle, scores over time, weekly adherence; and the sessions of the range.",
			Params:      rng,
			Responses:   []apidoc.Response{htmlAnswer("The report"), badPatient, noPatient}},
			func(h *handler) http.HandlerFunc { return h.patientReport }},
	}
	rs = append(rs, settingsRoutes(tags, guarded, code, badPatient, noPatient)...)
	rs = append(rs, actionRoutes(tags, guarded, code, noPatient)...)
	for i := range rs {
		rs[i].op.Responses = append(rs[i].op.Responses, common...)
	}
	return rs
}

func sortPatients(ps []Patient) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].PatientCode < ps[j].PatientCode })
}
