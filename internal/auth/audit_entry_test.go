package auth_test

import (
	"encoding/json"
	"testing"
	"time"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// TestAuditEntryTarget: an entry of GET /audit and emgd audit --json names
// the account a change made with the command line concerns as target,
// beside its user; an entry without one has no target member.
func TestAuditEntryTarget(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		e    store.AuditEntry
		want string
	}{
		{store.AuditEntry{At: at, User: "cli", Target: "theo@example.org", Action: "users.assign", PatientCode: "P001"},
			`{"at":"2026-03-01T09:00:00Z","user":"cli","target":"theo@example.org","action":"users.assign","patient_code":"P001","session_id":"","ip":""}`},
		{store.AuditEntry{At: at, User: "theo@example.org", Action: "auth.login", IP: "192.0.2.7"},
			`{"at":"2026-03-01T09:00:00Z","user":"theo@example.org","action":"auth.login","patient_code":"","session_id":"","ip":"192.0.2.7"}`},
	} {
		if b, err := json.Marshal(auth.AuditEntryOf(tc.e)); err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s %v, want %s", tc.e, b, err, tc.want)
		}
	}
}
