package api

import (
	"fmt"
	"net/http"
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
