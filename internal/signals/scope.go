package signals

import (
	"fmt"
	"net/http"
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
