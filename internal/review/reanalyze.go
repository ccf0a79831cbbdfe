package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/upload"
)

// actions are what the review's changing routes (reanalysis, MVC
// calibration) need beyond the store.
type actions struct {
	svc   *service.Service // nil: those routes answer 501
	limit int64            // largest calibration recording
	turns chan struct{}    // MVC estimates running at once
}

// mvcTurns bounds the MVC estimates one server runs at once (each is an
// analysis of a recording); further requests wait for a turn.
const mvcTurns = 2

func newActions(d Deps) actions {
	a := actions{svc: d.Service, limit: d.UploadLimit, turns: make(chan struct{}, mvcTurns)}
	if a.limit <= 0 {
		a.limit = upload.DefaultLimit
	}
	return a
}

// pipeline is the server's pipeline, or an error answer without one.
func (h *handler) pipeline() (*service.Service, error) {
	if h.act.svc == nil {
		return nil, &requestError{http.StatusNotImplemented, "this server runs no analyses"}
	}
	return h.act.svc, nil
}

// failService answers an error of the service with httperr's status (the
// review's own errors as fail does).
func (h *handler) failService(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if errors.As(err, &re) {
		h.fail(w, r, err)
		return
	}
	code := httperr.Status(err)
	switch {
	case code == httperr.StatusClientClosed:
		return
	case code >= 500:
		h.fail(w, r, err) // logged, "database unavailable"
		return
	}
	writeJSON(w, code, apidoc.ErrorResponse{Error: err.Error()})
}

// ReanalyzeRequest is POST /patients/{code}/reanalyze's body (optional).
type ReanalyzeRequest struct {
	From string `json:"from,omitempty" doc:"first recording date, YYYY-MM-DD (inclusive); absent: from the first"`
	To   string `json:"to,omitempty" doc:"last recording date, YYYY-MM-DD (inclusive); absent: to the last"`
}

// ReanalyzeResponse is POST /patients/{code}/reanalyze's answer.
type ReanalyzeResponse struct {
	PatientCode string `json:"patient_code"`
	Sessions    int    `json:"sessions" doc:"sessions queued for a new analysis (each is pending until its analysis is done)"`
	// SettingsVersion is the version the analyses will use unless the
	// settings change again before they run.
	SettingsVersion int                      `json:"settings_version" doc:"the patient's current settings version (0: none); each analysis records the version it used"`
	Skipped         []service.SkippedSession `json:"skipped" doc:"sessions of the range not queued, with why"`
}

// maxActionBody bounds the JSON bodies of the reanalysis and the MVC
// calibration.
const maxActionBody = 64 << 10

// readJSONBody decodes r's body into v: empty is allowed when optional;
// unknown keys, trailing data and malformed JSON are 400.
func readJSONBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActionBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &requestError{http.StatusRequestEntityTooLarge, "the body is over 64 KiB"}
		}
		return badRequest("reading the body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil
		}
		return badRequest("a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest("unknown key %s", name)
		}
		return badRequest("the body is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return badRequest("trailing data after the JSON object")
	}
	return nil
}

func (h *handler) reanalyze(w http.ResponseWriter, r *http.Request) {
	if err := h.doReanalyze(w, r); err != nil {
		h.failService(w, r, err)
	}
}

func (h *handler) doReanalyze(w http.ResponseWriter, r *http.Request) error {
	if _, err := allowed(r); err != nil {
		return err
	}
	svc, err := h.pipeline()
	if err != nil {
		return err
	}
	code, _, err := h.patient(r)
	if err != nil {
		return err
	}
	var q ReanalyzeRequest
	if err := readJSONBody(w, r, &q, true); err != nil {
		return err
	}
	dr, err := parseDates(q.From, q.To)
	if err != nil {
		return err
	}
	if err := auth.Audit(r, actionPatientReanalyze, code, ""); err != nil {
		return err
	}
	pr := dr.storeRange(code)
	re, err := svc.ReanalyzePatient(r.Context(), code, pr.RecordedFrom, pr.RecordedBefore)
	if err != nil {
		return err
	}
	out := ReanalyzeResponse{PatientCode: code, Sessions: re.Sessions, SettingsVersion: re.SettingsVersion, Skipped: re.Skipped}
	if out.Skipped == nil {
		out.Skipped = []service.SkippedSession{}
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// actionRoutes documents the reanalysis (here) and the MVC calibration
// (mvc.go).
func actionRoutes(tags, guarded []string, code apidoc.Param, noPatient apidoc.Response) []route {
	none := errAnswer(http.StatusNotImplemented, "The server runs no analyses")
	return []route{
		{apidoc.Op{Method: "POST", Path: "/patients/{code}/reanalyze", Tags: tags, Security: guarded,
			Summary: "Analyse a patient's sessions again with the current settings",
			Description: "Queues a new analysis of each current session of the patient (not superseded by a newer upload of its file, not rejected) " +
				"recorded from `from` to `to` (inclusive; either may be left out, and with either given, sessions without a recording time are left out) " +
				"with the patient's current settings version: each session is pending until its analysis is done, the new analysis becomes the session's " +
				"current one and records settings_version and the parameters used, and earlier analyses are kept (an analysis with exactly the " +
				"parameters of an earlier one replaces that one). The session's RPE and game points are kept from its current analysis. " +
				"Sessions are queued in batches, each session's status and job in one transaction; a session whose file was overwritten or deleted " +
				"is skipped and listed. No session in the range: 202 with sessions 0. The request is recorded in the audit trail first " +
				"(patient.reanalyze); when it cannot be, 503 and nothing is done.",
			Params: []apidoc.Param{code},
			Body:   &apidoc.Body{ContentType: "application/json", Type: ReanalyzeRequest{}, Description: "Optional: no body analyses every session."},
			Responses: []apidoc.Response{jsonAnswer(http.StatusAccepted, "The sessions queued", ReanalyzeResponse{}),
				errAnswer(http.StatusBadRequest, "A malformed patient code or date, from after to, a range over 3660 days, an unknown key or malformed JSON"),
				noPatient, errAnswer(http.StatusRequestEntityTooLarge, "A body over 64 KiB"), none}},
			func(h *handler) http.HandlerFunc { return h.reanalyze }},
		mvcRoute(tags, guarded, code, none),
	}
}
