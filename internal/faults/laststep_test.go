package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/storage"
	"emgd/internal/store/storetest"
)

// kill -9 during a job's last attempt (--max-attempts 1), then restart: River
// discards the job at rescue without running emgd code, and the sweep fails
// the session with a message saying what happened, instead of leaving it
// processing for ever (as it did before the sweep: redelivered webhooks
// answered "duplicate", status "processing"). --job-timeout 5s and
// --rescue-after 7s as in TestKillDuringPhase2; --sweep-interval 1s (default
// 20 s) to keep the test short.
func TestKillDuringLastAttempt(t *testing.T) {
	longRecording()
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			emgdBinary(t)
			t.Parallel()
			dir := t.TempDir()
			var dbURL string
			if db == "Postgres" {
				dbURL = storetest.NewPostgresDatabase(t)
			}
			rec := longRecording()
			const key = "P300/Ghostly_Emg_20240103_10-00-00-0000.c3d"
			putLinked(t, dir, rec, []string{key})
			args := []string{"--data-dir", dir, "--workers", "1", "--max-attempts", "1",
				"--job-timeout", "5s", "--rescue-after", "7s", "--sweep-interval", "1s"}
			if dbURL != "" {
				args = append(args, "--database-url", dbURL)
			}
			srv := startEmgd(t, nil, "serve", args...)
			code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, key, "", int64(len(rec))))
			if code != 200 {
				t.Fatalf("webhook: %d %v", code, out)
			}
			id := out["session_id"].(string)
			deadline := time.Now().Add(30 * time.Second)
			for srv.status(t, id)["status"] != "processing" {
				if time.Now().After(deadline) {
					t.Fatal("the session did not reach processing within 30 s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			srv.kill()
			st := openStore(t, dbURL, dir)
			if n := queryInt(t, st, `SELECT count(*) FROM river_job WHERE state = 'running' AND attempt = max_attempts`); n != 1 {
				t.Fatalf("%d jobs running their last attempt at the kill, want 1", n)
			}

			restarted := time.Now()
			srv = startEmgd(t, nil, "serve", args...)
			got := srv.waitDone(t, id, 2*time.Minute)
			t.Logf("session %v %.1f s after the restart", got["status"], time.Since(restarted).Seconds())
			msg, _ := got["error"].(string)
			if got["status"] != "failed" || !strings.Contains(msg, "interrupted (the worker process stopped") || !strings.Contains(msg, "gave up after 1 attempt") {
				t.Fatalf("session: %v", got)
			}
			q, err := jobs.New(context.Background(), st, jobs.Config{NoMigrate: true})
			if err != nil {
				t.Fatal(err)
			}
			js, err := jobs.JobsByArg(context.Background(), q, "emgd_analyze", "session_id", []string{id})
			if err != nil || len(js) != 1 || js[0].State != "discarded" || !js[0].Rescued || js[0].FinalizedAt == nil {
				t.Fatalf("jobs of the session: %+v %v", js, err)
			}
			if sess, err := st.GetSession(context.Background(), id); err == nil && sess.ProcessedAt != nil {
				t.Logf("failed %.1f s after River discarded the job at rescue", sess.ProcessedAt.Sub(*js[0].FinalizedAt).Seconds())
			}
			// The same event again: the same session, failed, nothing new.
			code, out = srv.webhook(t, supabaseEvent(storage.DefaultBucket, key, "", int64(len(rec))))
			if code != 200 || out["session_id"] != id || out["duplicate"] != true || out["analytics_status"] != "failed" {
				t.Errorf("repeated webhook: %d %v", code, out)
			}
			if strings.Contains(srv.logs.String(), "stranded session failed") == false {
				t.Error("no log line for the stranded session")
			}
			srv.stop()
		})
	}
}
