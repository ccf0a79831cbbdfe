package api

import (
	"fmt"
	"net/http"

	"emgd/internal/auth"
)

// The audit trail's actions of this package's routes.
const (
	actionSessionsList  = "sessions.list"  // GET /sessions (patient: the filter's, if any)
	actionSessionRead   = "session.read"   // GET /sessions/{id}
	actionSessionStatus = "session.status" // GET /webhooks/storage/status/{ref}
	actionSessionRecalc = "session.recalc" // POST /sessions/{id}/recalc
)

// notFound is the answer for a session that is absent or not the
// principal's: the same status and message either way.
func notFound(w http.ResponseWriter, ref string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("no session %q", ref))
}

// audit records the request's action (auth.Audit); when the entry cannot
// be written it answers 503 and returns false: nothing is served
// unrecorded.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, action, patient, sessionID string) bool {
	if err := auth.Audit(r, action, patient, sessionID); err != nil {
		s.log.Error("audit trail unavailable", "action", action, "error", err)
		writeError(w, http.StatusServiceUnavailable, "audit trail unavailable")
		return false
	}
	return true
}
