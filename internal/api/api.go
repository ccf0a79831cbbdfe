// Package api is emgd's HTTP interface: the storage webhook (phase 1), session
// status and listing, re-analysis, health, metrics and the API description.
package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/emg"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/jsonsafe"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/webhook"
)

// MaxWebhookBody is the largest webhook body accepted (413 above).
const MaxWebhookBody = 1 << 20

// Config holds the HTTP settings.
type Config struct {
	WebhookAuth webhook.Auth
	// ReadToken, when set, is required as "Authorization: Bearer" on the
	// read API (sessions, status).
	ReadToken string
	// CORSOrigins are the browser origins allowed to call the API (cors.go);
	// none by default.
	CORSOrigins []string
	// Guard, when set, guards the read API instead of ReadToken alone
	// (internal/auth.Guard: accounts, API tokens, JWTs and the read token).
	Guard Guard
}

// Guard decides who makes a request (internal/auth.Guard).
type Guard interface {
	// Wrap answers 401/403/503 or calls h with the principal in the
	// request's context.
	Wrap(h http.HandlerFunc) http.HandlerFunc
	// Authenticated reports whether r carries accepted credentials (true
	// while the service is open).
	Authenticated(r *http.Request) bool
}

// Server serves the API.
type Server struct {
	svc      *service.Service
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry
	mux      *apidoc.Mux
	cors     *cors // nil without CORSOrigins
}

// New builds the server. reg is the registry /metrics serves (the service's
// metrics should be registered on it).
func New(svc *service.Service, cfg Config, reg *prometheus.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{svc: svc, cfg: cfg, log: log, registry: reg, mux: apidoc.NewMux(info()), cors: newCORS(cfg.CORSOrigins)}
	// Every route is registered with its documentation (routes.go); the
	// document is built on the first request for /openapi.json.
	for _, r := range s.routes() {
		apidoc.Handle(s.mux, r.op, r.h)
	}
	return s
}

// ReadGuard wraps a handler of the read API with its optional bearer token,
// for routes other packages add (signals, dashboard data).
func (s *Server) ReadGuard(h http.HandlerFunc) http.HandlerFunc { return s.read(h) }

// Mux returns the router, for adding routes before serving: register them
// with apidoc.Handle, which documents them (a route registered otherwise is
// served but fails the API document).
func (s *Server) Mux() *apidoc.Mux { return s.mux }

// ServeHTTP routes the request, recording metrics by route pattern. With
// CORS origins, preflights are answered here, before routing, and answers
// to an allowed origin carry its headers (cors.go), whatever route
// answers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: 200}
	corsPreflight := false
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handler panic", "route", r.Pattern, "panic", fmt.Sprint(v))
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error")
			}
		}
		route := r.Pattern
		switch {
		case corsPreflight:
			route = "CORS preflight"
		case route == "":
			route = "unmatched"
		}
		if m := s.svc.Metrics; m != nil {
			m.Requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			m.Latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	}()
	if s.cors != nil {
		if preflight(r) {
			corsPreflight = true
			s.cors.answerPreflight(rec, r)
			return
		}
		s.cors.annotate(rec, r)
	}
	s.mux.ServeHTTP(rec, r)
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func writeJSON(w http.ResponseWriter, code int, v any) {
	// Non-finite numbers are null: an answer is never lost to one.
	b, _, err := jsonsafe.Marshal(v)
	if err != nil {
		code, b = 500, []byte(`{"success":false,"error":"response encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apidoc.ErrorResponse{Success: false, Error: msg})
}

// ReadsProtected reports whether reading session data needs credentials.
func (c Config) ReadsProtected() bool { return c.ReadToken != "" }

// WebhookRedacted reports whether webhook answers leave out session data:
// reads are protected but the webhook is not authenticated, so anyone who
// can name an object could otherwise read its session through the webhook.
func (c Config) WebhookRedacted() bool { return c.ReadsProtected() && !c.WebhookAuth.Enabled() }

// mayRead reports whether r carries the credentials the read API requires.
func (s *Server) mayRead(r *http.Request) bool {
	if s.cfg.Guard != nil {
		return s.cfg.Guard.Authenticated(r)
	}
	if !s.cfg.ReadsProtected() {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && constantEqual(tok, s.cfg.ReadToken)
}

// read guards the read API with the optional bearer token.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	if s.cfg.Guard != nil {
		return s.cfg.Guard.Wrap(h)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.mayRead(r) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		h(w, r)
	}
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", MaxWebhookBody))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if err := s.cfg.WebhookAuth.Verify(r, body); err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		writeError(w, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	events, err := webhook.Parse(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// An unauthenticated sender may trigger phase 1 but, when reads are
	// protected, learns nothing of the session beyond its acceptance.
	// With a guard, reads are protected once an account exists; while
	// none does, the guard asks the database at most once per
	// auth.OpenRecheck here (Authenticated), not on every webhook.
	redact := (s.cfg.WebhookRedacted() || s.cfg.Guard != nil && !s.cfg.WebhookAuth.Enabled()) && !s.mayRead(r)
	var first *WebhookResponse
	results := make([]WebhookResponse, 0, len(events))
	for _, ev := range events {
		start := time.Now()
		out, err := s.ingest(r.Context(), ev)
		took := msSince(start)
		if err != nil {
			code := httperr.Status(err)
			if code >= 500 {
				s.log.Warn("webhook deferred", "error", err)
			}
			if len(events) == 1 {
				writeError(w, code, err.Error())
				return
			}
			results = append(results, WebhookResponse{Success: false, Error: err.Error(), Message: err.Error(), Status: code, ProcessingTimeMs: &took})
			continue
		}
		var res WebhookResponse
		if out.Ignored {
			// The old backend's answer to an event it ignores: "Ignored: ..."
			res = WebhookResponse{Success: true, Ignored: true, Message: "Ignored: " + out.Message}
		} else {
			status := string(out.Session.Status)
			if out.Created || status == string(store.StatusPending) {
				status = "processing"
			}
			md, duplicate := out.Metadata, !out.Created
			id, code := out.Session.ID, out.Session.SessionCode
			res = WebhookResponse{Success: true, Message: acceptedMessage, SessionID: &id, SessionCode: &code,
				Metadata: &md, AnalyticsStatus: status, Duplicate: &duplicate, ProcessingTimeMs: &took}
			if redact {
				res = WebhookResponse{Success: true, Message: acceptedMessage + "; session data needs the read token", ProcessingTimeMs: &took}
			}
		}
		if first == nil {
			first = &res
		}
		results = append(results, res)
	}
	if first == nil { // every record failed
		writeJSON(w, http.StatusMultiStatus, WebhookResponse{Success: false, Message: "every record failed", Results: results})
		return
	}
	answer := *first // a copy: first is itself among the results
	if len(events) > 1 {
		// The answer is the first accepted record's, with every record's
		// result beside it.
		answer.Results = results
	}
	writeJSON(w, http.StatusOK, answer)
}

// acceptedMessage is the old backend's message for an accepted upload.
const acceptedMessage = "C3D processing initiated"

// msSince is the milliseconds since start, as the old processing_time_ms.
func msSince(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// ingest runs phase 1 for one notification; events other than object
// creation are ignored.
func (s *Server) ingest(ctx context.Context, ev webhook.Event) (*service.Outcome, error) {
	if !ev.Created {
		return &service.Outcome{Ignored: true, Message: fmt.Sprintf("event %s is not an object creation", ev.Type)}, nil
	}
	return s.svc.Ingest(ctx, service.Event{Bucket: ev.Bucket, Key: ev.Key, RawKey: ev.RawKey, ETag: ev.ETag, Size: ev.Size})
}

// fail answers err with its status and message (httperr.Status and
// Message): its text, or unavailable when the server cannot answer (the
// cause is not the client's business); an audit entry not written
// (auth.Audit) answers 503 "audit trail unavailable".
func fail(w http.ResponseWriter, err error, unavailable string) {
	writeError(w, httperr.Status(err), httperr.Message(err, unavailable))
}

// findSession finds the session ref names and answers 404 when there is
// none or it is another patient's than the principal's, exactly as for an
// absent session.
func (s *Server) findSession(w http.ResponseWriter, r *http.Request, ref string) *store.Session {
	sess, err := s.svc.FindSession(r.Context(), ref)
	if err != nil {
		fail(w, err, "database unavailable")
		return nil
	}
	if !auth.May(r.Context(), sess.PatientCode) {
		notFound(w, ref)
		return nil
	}
	return sess
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	sess := s.findSession(w, r, r.PathValue("ref"))
	if sess == nil {
		return
	}
	if err := auth.Audit(r, actionSessionStatus, sess.PatientCode, sess.ID); err != nil {
		fail(w, err, "database unavailable")
		return
	}
	writeJSON(w, 200, StatusResponse{Success: true, SessionID: sess.ID, SessionCode: sess.SessionCode,
		Status: sess.Status, Error: nullable(sess.Error), ErrorMessage: nullable(sess.Error), FilePath: sess.Bucket + "/" + sess.ObjectKey,
		Timings: rawOrNull(sess.Timings), HasAnalysis: sess.HasAnalysis,
		CreatedAt: sess.CreatedAt, UpdatedAt: sess.UpdatedAt, ProcessedAt: sess.ProcessedAt})
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := store.ListOptions{Scope: auth.Scope(r.Context()), PatientCode: q.Get("patient"), Status: store.Status(q.Get("status")), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be an integer from 1 to 500")
			return
		}
		opts.Limit = n
	}
	if opts.Status != "" && !opts.Status.Valid() {
		writeError(w, http.StatusBadRequest, "status must be pending, processing, completed, failed or rejected")
		return
	}
	page, err := s.svc.Store.ListSessions(r.Context(), opts)
	if err != nil {
		if errors.Is(err, store.ErrInvalidInput) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	if err := auth.Audit(r, actionSessionsList, opts.PatientCode, ""); err != nil {
		fail(w, err, "database unavailable")
		return
	}
	var withAnalysis []string
	for _, sess := range page.Sessions {
		if sess.HasAnalysis {
			withAnalysis = append(withAnalysis, sess.ID)
		}
	}
	current, err := s.svc.Store.CurrentAnalyses(r.Context(), withAnalysis)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	list := make([]Session, 0, len(page.Sessions))
	for i := range page.Sessions {
		sj := sessionOf(&page.Sessions[i])
		if a := current[page.Sessions[i].ID]; a != nil {
			sj.Overview = overviewOf(a)
		}
		list = append(list, sj)
	}
	writeJSON(w, 200, SessionListResponse{Success: true, Sessions: list, NextCursor: nullable(page.NextCursor)})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess := s.findSession(w, r, r.PathValue("id"))
	if sess == nil {
		return
	}
	out := SessionResponse{Session: sessionOf(sess), Success: true}
	a, err := s.svc.Store.CurrentAnalysis(r.Context(), sess.ID)
	switch {
	case err == nil:
		if out.Analysis, err = analysisOf(a); err != nil {
			writeError(w, http.StatusInternalServerError, "stored summary unreadable: "+err.Error())
			return
		}
	case !errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	if err := auth.Audit(r, actionSessionRead, sess.PatientCode, sess.ID); err != nil {
		fail(w, err, "database unavailable")
		return
	}
	writeJSON(w, 200, out)
}

func (s *Server) recalc(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "parameters over 1 MiB")
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	params, err := emg.ReadParams(bytes.NewReader(body))
	if err != nil {
		// Validation errors are 422; anything the decoder refused is 400.
		code := http.StatusBadRequest
		var pe *emg.ParamError
		if errors.As(err, &pe) {
			code = http.StatusUnprocessableEntity
		}
		writeError(w, code, err.Error())
		return
	}
	// The session is found first: another patient's answers 404 as an
	// absent one, and the change is recorded before it is made.
	sess := s.findSession(w, r, r.PathValue("id"))
	if sess == nil {
		return
	}
	if err := auth.Audit(r, actionSessionRecalc, sess.PatientCode, sess.ID); err != nil {
		fail(w, err, "database unavailable")
		return
	}
	re, err := s.svc.Reanalyze(r.Context(), sess.ID, params)
	if err != nil {
		fail(w, err, "database unavailable")
		return
	}
	writeJSON(w, http.StatusAccepted, RecalcResponse{Success: true, SessionID: re.Session.ID, SessionCode: re.Session.SessionCode,
		AnalyticsStatus: "processing", Params: re.Params})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	writeJSON(w, 200, ProbeResponse{Status: "ready"})
}
