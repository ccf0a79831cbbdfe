package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"emgd/emg"
	"emgd/internal/apidoc"
)

// info is the API document's header (built when the server is, not at
// init: emgd's other commands never need it).
func info() apidoc.Info {
	return apidoc.Info{
		Title:   "emgd",
		Version: "1",
		Description: "EMG analytics for GHOSTLY rehabilitation recordings. Phase 1 answers the storage webhook with the recording's metadata; " +
			"phase 2 computes the analytics in the background and stores only aggregates. This document is derived from the Go types the handlers answer. " +
			"With --cors-origins, CORS preflights (OPTIONS with Origin and Access-Control-Request-Method) are answered on every path before routing " +
			"(200 \"OK\", or 400 \"Disallowed CORS origin\"): they are not routes of this document.",
		Security: map[string]any{
			apidoc.ReadToken: map[string]any{"type": "http", "scheme": "bearer",
				"description": "Required once an account exists or --read-token is set: Authorization: Bearer with the read token (admin), an API token (emgd_..., emgd tokens create) or a JWT of a configured identity provider; " +
					"or the dashboard's session cookie (emgd_session, set by POST /auth/login), with X-CSRF-Token on requests that change state. Without any account or read token the service is open."},
			"webhookSignature": map[string]any{"type": "apiKey", "in": "header", "name": "x-supabase-signature",
				"description": "hex HMAC-SHA256 of the body with the webhook secret"},
			"webhookToken": map[string]any{"type": "http", "scheme": "bearer", "description": "the webhook token (also accepted as ?token=)"},
		},
	}
}

func jsonAnswer(code int, desc string, v any) apidoc.Response {
	return apidoc.Response{Status: code, Description: desc, ContentType: "application/json", Type: v}
}

func errAnswer(code int, desc string) apidoc.Response {
	return jsonAnswer(code, desc, apidoc.ErrorResponse{})
}

var (
	unauthorized = errAnswer(http.StatusUnauthorized, "A bearer token is required")
	otherError   = errAnswer(0, "Error")
	unavailable  = errAnswer(http.StatusServiceUnavailable, "Database unavailable")
	ref          = apidoc.Param{Name: "ref", In: "path", Description: "session id, session code or object key", Type: ""}
	sessionRef   = apidoc.Param{Name: "id", In: "path", Description: "session id or session code", Type: ""}
	readers      = []string{apidoc.ReadToken}
)

// routes is every route of the server: its documentation and handler.
func (s *Server) routes() []struct {
	op apidoc.Op
	h  http.Handler
} {
	type route = struct {
		op apidoc.Op
		h  http.Handler
	}
	return []route{
		{apidoc.Op{Method: "POST", Path: "/webhooks/storage/c3d-upload", Tags: []string{"webhook"},
			Summary: "Storage webhook (phase 1)",
			Description: "Accepts the Supabase database webhook on storage.objects (INSERT, UPDATE), S3/MinIO/versitygw event notifications and the Supabase Storage server webhook. " +
				"Reads only the header and parameter section of the object, creates the session and enqueues its analysis in one transaction. " +
				"Authentication when configured: x-supabase-signature (hex HMAC-SHA256 of the body), Authorization: Bearer, or ?token=.",
			Params: []apidoc.Param{{Name: "token", In: "query", Description: "the webhook token", Type: ""}},
			Body:   &apidoc.Body{ContentType: "application/json", Type: map[string]any{}, Required: true, Description: "the storage notification"},
			Responses: []apidoc.Response{
				jsonAnswer(http.StatusOK, "Accepted (session_id, session_code, metadata, analytics_status) or ignored (ignored: true, message)", WebhookResponse{}),
				jsonAnswer(http.StatusMultiStatus, "Every record of a notification of several failed: each one's result", WebhookResponse{}),
				errAnswer(http.StatusBadRequest, "Malformed JSON, unknown shape or invalid key"),
				errAnswer(http.StatusUnauthorized, "Missing or wrong signature or token"),
				errAnswer(http.StatusNotFound, "Object not found in storage"),
				errAnswer(http.StatusRequestEntityTooLarge, "Body over 1 MiB"),
				errAnswer(http.StatusUnsupportedMediaType, "Not JSON"),
				errAnswer(http.StatusUnprocessableEntity, "Not a readable C3D file"),
				errAnswer(http.StatusServiceUnavailable, "Storage or database unavailable: the sender retries"),
				otherError},
			Security: []string{"webhookSignature", "webhookToken"}},
			http.HandlerFunc(s.webhook)},
		{apidoc.Op{Method: "GET", Path: "/webhooks/storage/status/{ref}", Tags: []string{"sessions"},
			Summary: "A session's processing status", Params: []apidoc.Param{ref},
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "The status", StatusResponse{}),
				errAnswer(http.StatusNotFound, "No such session"), unauthorized, unavailable, otherError},
			Security: readers},
			s.read(s.status)},
		{apidoc.Op{Method: "GET", Path: "/sessions", Tags: []string{"sessions"},
			Summary: "Sessions, newest first, a page at a time",
			Params: []apidoc.Param{
				{Name: "patient", In: "query", Description: "a patient code", Type: ""},
				{Name: "status", In: "query", Description: "pending, processing, completed, failed or rejected (recordings phase 1 refused, each with its reason in error; listed with every status when none is given)", Type: "",
					Enum: []string{"pending", "processing", "completed", "failed", "rejected"}},
				{Name: "limit", In: "query", Description: "1 to 500", Type: 0},
				{Name: "cursor", In: "query", Description: "next_cursor of the previous page", Type: ""}},
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "A page of sessions", SessionListResponse{}),
				errAnswer(http.StatusBadRequest, "A parameter out of range or a malformed cursor"), unauthorized, unavailable, otherError},
			Security: readers},
			s.read(s.listSessions)},
		{apidoc.Op{Method: "GET", Path: "/sessions/{id}", Tags: []string{"sessions"},
			Summary: "A session and its current analysis", Params: []apidoc.Param{sessionRef},
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "The session", SessionResponse{}),
				errAnswer(http.StatusNotFound, "No such session"), unauthorized, unavailable, otherError},
			Security: readers},
			s.read(s.getSession)},
		{apidoc.Op{Method: "POST", Path: "/sessions/{id}/recalc", Tags: []string{"sessions"},
			Summary: "Analyse a session again with new parameters", Params: []apidoc.Param{sessionRef},
			Description: "The parameters override the patient's settings (of the session's creation) field by field. The settings' values for a channel " +
				"the recording does not have are left out, with a warning in the analysis's analytics_summary.warnings; a parameter sent here naming " +
				"such a channel is not: the session then fails with an error naming it (invalid parameter mvc: no channel \"CH3\" in the recording).",
			Body: &apidoc.Body{ContentType: "application/json", Type: emg.Params{}, Description: "Session parameters (all optional; an empty body takes the defaults)"},
			Responses: []apidoc.Response{jsonAnswer(http.StatusAccepted, "Enqueued", RecalcResponse{}),
				errAnswer(http.StatusBadRequest, "Not JSON, or unknown fields"), errAnswer(http.StatusNotFound, "No such session"),
				errAnswer(http.StatusConflict, "The object changed after this session was created"),
				errAnswer(http.StatusRequestEntityTooLarge, "Parameters over 1 MiB"),
				errAnswer(http.StatusUnprocessableEntity, "A parameter out of range, or a rejected recording (never analysed)"), unauthorized, unavailable, otherError},
			Security: readers},
			s.read(s.recalc)},
		{apidoc.Op{Method: "GET", Path: "/healthz", Tags: []string{"operations"}, Summary: "Liveness",
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "Alive", ProbeResponse{})}},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, ProbeResponse{Status: "ok"}) })},
		{apidoc.Op{Method: "GET", Path: "/readyz", Tags: []string{"operations"}, Summary: "Readiness: the database answers",
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "Ready", ProbeResponse{}), errAnswer(http.StatusServiceUnavailable, "Database unreachable")}},
			http.HandlerFunc(s.readyz)},
		{apidoc.Op{Method: "GET", Path: "/metrics", Tags: []string{"operations"}, Summary: "Prometheus metrics",
			Responses: []apidoc.Response{{Status: http.StatusOK, Description: "Prometheus text exposition format",
				ContentType: "text/plain; version=0.0.4; charset=utf-8", ContentTypes: []string{"application/openmetrics-text; version=1.0.0; charset=utf-8"}, Type: apidoc.String}}},
			promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})},
		{apidoc.Op{Method: "GET", Path: "/openapi.json", Tags: []string{"operations"}, Summary: "This document",
			Description: "OpenAPI 3.1, derived on first request from the Go types the handlers answer.",
			Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "The OpenAPI document", map[string]any{}),
				errAnswer(http.StatusInternalServerError, "The document cannot be built (a route registered without documentation)")}},
			http.HandlerFunc(s.mux.ServeDocument)},
		{apidoc.Op{Method: "GET", Path: "/docs", Tags: []string{"operations"}, Summary: "This document, rendered",
			Responses: []apidoc.Response{{Status: http.StatusOK, Description: "An HTML page that renders /openapi.json", ContentType: "text/html; charset=utf-8", Type: apidoc.String}}},
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write(docsHTML)
			})},
	}
}
