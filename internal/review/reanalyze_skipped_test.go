package review_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// A session whose file is gone is listed in the reanalysis's answer as
// {session_id, session_code, reason}, and only the others are queued.
func TestReanalyzeSkippedShape(t *testing.T) {
	e := newActionEnv(t, storetest.OpenSQLite(t, store.Options{}), 0)
	kept := e.recordReal(patient, realFiles[0])
	gone := e.recordReal(patient, realFiles[1])
	if err := e.fs.Delete(context.Background(), gone.Bucket, gone.ObjectKey); err != nil {
		t.Fatal(err)
	}
	code, b := e.post("/patients/"+patient+"/reanalyze", "application/json", strings.NewReader(`{}`))
	var out struct {
		Sessions int              `json:"sessions"`
		Skipped  []map[string]any `json:"skipped"`
	}
	if code != http.StatusAccepted || json.Unmarshal(b, &out) != nil {
		t.Fatalf("POST reanalyze: %d %s", code, b)
	}
	if out.Sessions != 1 || len(out.Skipped) != 1 {
		t.Fatalf("answer %s, want one session queued and one skipped", b)
	}
	s := out.Skipped[0]
	reason, _ := s["reason"].(string)
	if len(s) != 3 || s["session_id"] != gone.ID || s["session_code"] != gone.SessionCode ||
		!strings.Contains(reason, "no longer in storage") {
		t.Errorf("skipped %v", s)
	}
	if jobs := e.jobs(); len(jobs) != 1 || jobs[0].SessionID != kept.ID {
		t.Errorf("jobs %+v, want the kept session's only", jobs)
	}
}
