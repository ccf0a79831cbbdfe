package oldapi

import (
	"net/http"

	"emgd/internal/apidoc"
)

var (
	jsonType = "application/json"
	// the old backend's error answers
	httpErr = func(code int, desc string) apidoc.Response {
		return apidoc.Response{Status: code, Description: desc, ContentType: jsonType, Type: HTTPErrorResponse{}}
	}
	invalid    = apidoc.Response{Status: http.StatusUnprocessableEntity, Description: "Validation error (pydantic's details)", ContentType: jsonType, Type: ValidationErrorResponse{}}
	notAllowed = apidoc.Response{Status: http.StatusMethodNotAllowed, Description: "Method Not Allowed (Starlette's answer)", ContentType: jsonType, Type: DetailResponse{}}
	// the read token's check answers emgd's error shape
	unauthorized = apidoc.Response{Status: http.StatusUnauthorized, Description: "A bearer token is required", ContentType: jsonType, Type: apidoc.ErrorResponse{}}
	otherErrors  = apidoc.Response{Description: "Error (the old backend's HTTP_ERROR)", ContentType: jsonType, Type: HTTPErrorResponse{}}
	// a change that applies to every patient, asked by a therapist
	forbidden   = httpErr(http.StatusForbidden, "Admin only: a therapist may not change what scores every patient")
	scoringBody = &apidoc.Body{ContentType: jsonType, Type: ScoringConfigurationRequest{}, Required: true,
		Description: "Omitted weights take the old defaults; each weight in [0, 1]; the main (compliance, symmetry, effort, game) and compliance (completion, intensity, duration) weights each sum to 1 when their last is given."}
	configID = apidoc.Param{Name: "config_id", In: "path", Type: ""}
	oldTag   = []string{"old API"}
)

func ok(desc string, v any) apidoc.Response {
	return apidoc.Response{Status: http.StatusOK, Description: desc, ContentType: jsonType, Type: v}
}

// route is one of the old backend's routes and its handler.
type route struct {
	op apidoc.Op
	h  func(*handler) http.HandlerFunc
}

func routes() []route {
	guarded := []string{apidoc.ReadToken}
	rs := []route{
		{apidoc.Op{Method: "GET", Path: "/config/defaults", Summary: "The analysis defaults (old backend)", Tags: oldTag, Security: guarded,
			Responses: []apidoc.Response{ok("Default targets", ConfigDefaultsResponse{}), notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.configDefaults }},
		{apidoc.Op{Method: "GET", Path: "/scoring/configurations", Summary: "Every scoring configuration", Tags: oldTag, Security: guarded,
			Responses: []apidoc.Response{ok("The configurations", []ScoringConfigurationResponse{}), notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.listConfigs }},
		{apidoc.Op{Method: "POST", Path: "/scoring/configurations", Summary: "Create a scoring configuration", Tags: oldTag, Security: guarded, Body: scoringBody,
			Description: "Admins only (a configuration without a patient can be activated for every patient): another user gets 403 before the body is read.",
			Responses: []apidoc.Response{ok("The configuration created", ScoringConfigurationResponse{}), invalid, httpErr(413, "Body over 1 MiB"),
				forbidden, notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.createConfig }},
		{apidoc.Op{Method: "GET", Path: "/scoring/configurations/active", Summary: "The active scoring configuration", Tags: oldTag, Security: guarded,
			Responses: []apidoc.Response{ok("The active configuration", ScoringConfigurationResponse{}), httpErr(404, "None is active"), otherErrors}},
			func(h *handler) http.HandlerFunc { return h.activeConfig }},
		{apidoc.Op{Method: "PUT", Path: "/scoring/configurations/{config_id}/activate", Summary: "Activate a scoring configuration", Tags: oldTag, Security: guarded,
			Description: "Admins only, whatever configuration it names (the active configuration scores every patient without a configuration of their own): another user gets 403.",
			Params:      []apidoc.Param{configID},
			Responses:   []apidoc.Response{ok("Activated", MessageResponse{}), forbidden, httpErr(404, "No such configuration"), notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.activateConfig }},
		{apidoc.Op{Method: "DELETE", Path: "/scoring/configurations/{config_id}", Summary: "Delete a scoring configuration", Tags: oldTag, Security: guarded,
			Description: "A configuration naming no patient: admins only (403 for another user). A patient's: users who may see that patient (404 for another's, as for an absent one).",
			Params:      []apidoc.Param{configID},
			Responses: []apidoc.Response{ok("Deleted", MessageResponse{}), httpErr(400, "The configuration is active"), forbidden,
				httpErr(404, "No such configuration"), notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.deleteConfig }},
		{apidoc.Op{Method: "GET", Path: "/scoring/configurations/custom", Summary: "A therapist's (and patient's) custom configuration", Tags: oldTag, Security: guarded,
			Params: []apidoc.Param{{Name: "therapist_id", In: "query", Required: true, Type: ""}, {Name: "patient_id", In: "query", Type: ""}},
			Responses: []apidoc.Response{ok("The whole stored row", CustomScoringConfigurationResponse{}), httpErr(400, "therapist_id missing"),
				httpErr(404, "None found"), otherErrors}},
			func(h *handler) http.HandlerFunc { return h.getCustom }},
		{apidoc.Op{Method: "POST", Path: "/scoring/configurations/custom", Summary: "Save a therapist's custom configuration", Tags: oldTag, Security: guarded, Body: scoringBody,
			Responses: []apidoc.Response{ok("The configuration saved", ScoringConfigurationResponse{}), invalid, httpErr(400, "therapist_id missing"), otherErrors}},
			func(h *handler) http.HandlerFunc { return h.saveCustom }},
		{apidoc.Op{Method: "PUT", Path: "/scoring/configurations/default", Summary: "Replace the default configuration", Tags: oldTag, Security: guarded, Body: scoringBody,
			Description: "Admins only (the default scores every patient): another user gets 403 before the body is read.",
			Responses:   []apidoc.Response{ok("The configuration saved", ScoringConfigurationResponse{}), invalid, forbidden, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.saveDefault }},
		{apidoc.Op{Method: "GET", Path: "/scoring/adherence/{patient_code}", Summary: "A patient's adherence to the protocol", Tags: oldTag, Security: guarded,
			Params: []apidoc.Param{{Name: "patient_code", In: "path", Type: ""},
				{Name: "sessions_completed", In: "query", Description: "count these instead of the stored sessions", Type: 0}},
			Responses: []apidoc.Response{ok("The adherence", AdherenceResponse{}), invalid, httpErr(404, "Patient not found"), notAllowed, otherErrors}},
			func(h *handler) http.HandlerFunc { return h.adherence }},
	}
	for i := range rs {
		rs[i].op.Responses = append(rs[i].op.Responses, unauthorized)
	}
	return rs
}

// healthRoute is GET /health, never guarded.
var healthRoute = apidoc.Op{Method: "GET", Path: "/health", Summary: "Liveness (old backend)", Tags: oldTag,
	Responses: []apidoc.Response{ok("Healthy", HealthResponse{}), notAllowed}}
