package api_test

import (
	"context"
	"strings"
	"testing"

	"emgd/internal/api"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// A webhook of an unreadable .c3d object is answered 422 and leaves one
// session with status rejected and the reason, no job; redelivery is
// answered the same and adds nothing; GET /sessions?status=rejected lists
// it with its reason (and the default list shows it, marked rejected); it
// cannot be recalculated; a readable new version of the key is a normal
// session, completed, that supersedes it. On SQLite and PostgreSQL.
func TestRejectedRecordingListed(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"SQLite", func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{}) }},
		{"Postgres", func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{}) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			e := newEnvOn(t, api.Config{}, db.open(t))
			const key = "P007/Ghostly_Emg_20261130_10-00-00-0001.c3d"
			bad := e.put(key, []byte("not a C3D file at all, not even its header"))
			event := supabaseEvent("INSERT", "c3d-examples", key, bad.ETag, bad.Size)
			code, body := e.do("POST", "/webhooks/storage/c3d-upload", event)
			reason, _ := body["error"].(string)
			if code != 422 || !strings.Contains(reason, "C3D") {
				t.Fatalf("webhook of a broken file: %d %v", code, body)
			}
			list := func(query string) []map[string]any {
				t.Helper()
				code, body := e.do("GET", "/sessions"+query, nil)
				if code != 200 {
					t.Fatalf("GET /sessions%s: %d %v", query, code, body)
				}
				var out []map[string]any
				for _, s := range body["sessions"].([]any) {
					out = append(out, s.(map[string]any))
				}
				return out
			}
			rejected := list("?status=rejected")
			if len(rejected) != 1 {
				t.Fatalf("GET /sessions?status=rejected: %v", rejected)
			}
			r := rejected[0]
			msg, _ := r["error"].(string)
			if r["status"] != "rejected" || msg == "" || !strings.Contains(reason, msg) || r["session_code"] != "P007R001" ||
				r["patient_code"] != "P007" || r["object_key"] != key || r["has_analysis"] != false {
				t.Errorf("rejected session %v (webhook said %q)", r, reason)
			}
			// Redelivery: the same answer, still one row.
			for range 2 {
				code, body := e.do("POST", "/webhooks/storage/c3d-upload", event)
				if code != 422 || body["error"] != reason {
					t.Errorf("redelivery: %d %v, want 422 %q", code, body, reason)
				}
			}
			if all := list(""); len(all) != 1 || all[0]["status"] != "rejected" {
				t.Errorf("GET /sessions after redeliveries: %v", all)
			}
			if n := len(e.queue.jobs); n != 0 {
				t.Errorf("%d jobs queued for a rejected recording", n)
			}
			for _, q := range []string{"?status=completed", "?status=failed", "?status=pending"} {
				if l := list(q); len(l) != 0 {
					t.Errorf("GET /sessions%s lists %v", q, l)
				}
			}
			if code, body := e.do("GET", "/sessions?status=refused", nil); code != 400 || !strings.Contains(body["error"].(string), "rejected") {
				t.Errorf("unknown status: %d %v", code, body)
			}
			if code, body := e.do("GET", "/sessions/P007R001", nil); code != 200 || body["status"] != "rejected" || body["error"] != msg {
				t.Errorf("GET /sessions/P007R001: %d %v", code, body)
			}
			if code, body := e.do("POST", "/sessions/P007R001/recalc", nil); code != 422 {
				t.Errorf("recalc of a rejected recording: %d %v", code, body)
			}

			// A readable new version is tried again: a normal session.
			good := e.put(key, testrec.Ghostly(testrec.Options{Seed: 7, Seconds: 12}))
			code, body = e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, good.ETag, good.Size))
			if code != 200 || body["session_code"] != "P007S001" {
				t.Fatalf("webhook of the readable version: %d %v", code, body)
			}
			for _, err := range e.drain() {
				if err != nil {
					t.Fatal(err)
				}
			}
			completed := list("?status=completed")
			if len(completed) != 1 || completed[0]["session_code"] != "P007S001" {
				t.Fatalf("completed: %v", completed)
			}
			rejected = list("?status=rejected")
			if len(rejected) != 1 || rejected[0]["superseded_by"] != completed[0]["id"] {
				t.Errorf("rejected row after the readable version: %v", rejected)
			}
			if p, err := e.store.Patients(context.Background(), store.PatientOptions{PatientCode: "P007"}); err != nil || len(p) != 1 || p[0].Sessions != 1 {
				t.Errorf("P007's sessions: %+v, %v", p, err)
			}
		})
	}
}
