package signals

import (
	"fmt"
	"net/http"

	"emgd/internal/auth"
)

// The audit trail's actions of the signals routes.
const (
	actionChannelsRead = "channels.read" // GET /signals/jit/{session_id}/channels
	actionSignalsRead  = "signals.read"  // a channel's signal (either route)
)

// notMine is the answer for a session of a patient the principal may not
// see: the same as for an absent session.
func notMine(ref string) *errResp {
	return &errResp{http.StatusNotFound, fmt.Sprintf("no session %q", ref)}
}

// audit records the request's read (auth.Audit); when the entry cannot be
// written it answers 503 and returns false: nothing is served unrecorded.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request, action, patient, sessionID string) bool {
	if err := auth.Audit(r, action, patient, sessionID); err != nil {
		h.logger().Error("audit trail unavailable", "action", action, "error", err)
		fail(w, http.StatusServiceUnavailable, "audit trail unavailable")
		return false
	}
	return true
}
