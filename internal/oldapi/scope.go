package oldapi

import (
	"errors"
	"net/http"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// The audit trail's actions of the old backend's routes.
const (
	actionAdherenceRead  = "adherence.read"   // GET /scoring/adherence/{patient_code}
	actionScoringRead    = "scoring.read"     // GET /scoring/configurations/custom naming a patient
	actionScoringCreate  = "scoring.create"   // POST /scoring/configurations
	actionScoringActive  = "scoring.activate" // PUT /scoring/configurations/{config_id}/activate
	actionScoringDelete  = "scoring.delete"   // DELETE /scoring/configurations/{config_id}
	actionScoringCustom  = "scoring.custom"   // POST /scoring/configurations/custom
	actionScoringDefault = "scoring.default"  // PUT /scoring/configurations/default
)

// mayConfig reports whether the request's principal may see c: a
// configuration of a patient is that patient's data.
func mayConfig(r *http.Request, c *store.ScoringConfig) bool {
	return c.PatientID == nil || *c.PatientID == "" || auth.May(r.Context(), *c.PatientID)
}

// configPatient is c's patient, or "".
func configPatient(c *store.ScoringConfig) string {
	if c == nil || c.PatientID == nil {
		return ""
	}
	return *c.PatientID
}

// configInScope answers 404, as for an absent configuration, when the
// configuration id is another patient's than the principal's, and reports
// whether the request may go on; it returns the configuration (nil when
// there is none: the route answers its own 404).
func (h *handler) configInScope(w http.ResponseWriter, r *http.Request, id string) (*store.ScoringConfig, bool) {
	c, err := h.st.GetScoringConfig(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput):
		return nil, true // the route answers its own 404
	case err != nil:
		h.internal(w, r, "Reading the scoring configuration", err)
		return nil, false
	case !mayConfig(r, c):
		httpError(w, r, http.StatusNotFound, "Scoring configuration not found")
		return nil, false
	}
	return c, true
}

// adminOnly answers 403 and returns false unless the request's principal
// sees every patient (an admin, the read token, or no accounts): the
// change it asks for (why) applies to every patient's scores. Checked
// before anything else, so that the answer says nothing of what the
// request names.
func adminOnly(w http.ResponseWriter, r *http.Request, why string) bool {
	if auth.FromContext(r.Context()).All() {
		return true
	}
	httpError(w, r, http.StatusForbidden, "admin only: "+why)
	return false
}
