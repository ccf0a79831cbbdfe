package api_test

import (
	"strings"
	"testing"
	"time"

	"emgd/internal/api"
	"emgd/internal/testrec"
)

// TestRecalcOfOverwrittenVersionConflicts: once the object of a session was
// overwritten, asking to analyse that session again answers 409 (its
// version is gone) instead of analysing the newer bytes under the old
// session; the newer version's session can be analysed again.
func TestRecalcOfOverwrittenVersionConflicts(t *testing.T) {
	e := newEnv(t, api.Config{})
	const key = "P030/Ghostly_Emg_20240101_10-00-00-0001.c3d"
	a := e.put(key, testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 10}))
	code, body := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, a.ETag, a.Size))
	if code != 200 {
		t.Fatalf("webhook A: %d %v", code, body)
	}
	idA, _ := body["session_id"].(string)
	for _, err := range e.drain() {
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	b := e.put(key, testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 12}))
	code, body = e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, b.ETag, b.Size))
	if code != 200 {
		t.Fatalf("webhook B: %d %v", code, body)
	}
	idB, _ := body["session_id"].(string)
	if idA == "" || idB == "" || idA == idB {
		t.Fatalf("sessions %q %q", idA, idB)
	}
	code, body = e.do("POST", "/sessions/"+idA+"/recalc", []byte(`{}`))
	if msg, _ := body["error"].(string); code != 409 || !strings.Contains(msg, "the object changed") || !strings.Contains(msg, idB) {
		t.Errorf("recalc of the overwritten version: %d %v, want 409 naming %s", code, body, idB)
	}
	if code, body = e.do("POST", "/sessions/"+idB+"/recalc", []byte(`{}`)); code != 202 {
		t.Errorf("recalc of the current version: %d %v", code, body)
	}
}
