package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

var analysedRe = regexp.MustCompile(`msg="session analysed" session=(\S+)`)

var (
	longRecOnce sync.Once
	longRec     []byte
)

// longRecording is a GHOSTLY-like recording of 590 s (9.7 MB, just under the
// profile's 600 s limit): long enough
// that phase 2 takes a noticeable time, so that a kill lands while jobs run.
func longRecording() []byte {
	longRecOnce.Do(func() { longRec = testrec.Ghostly(testrec.Options{Seconds: 590, Seed: 11}) })
	return longRec
}

// putLinked stores rec under the first key and hard-links the others to it
// (folder storage: <data-dir>/storage/<bucket>/<key>), so that many large
// objects cost one write.
func putLinked(t *testing.T, dataDir string, rec []byte, keys []string) {
	t.Helper()
	stg, err := storage.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := stg.CreateBucket(context.Background(), storage.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	if _, err := stg.Put(context.Background(), storage.DefaultBucket, keys[0], bytes.NewReader(rec)); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dataDir, "storage", storage.DefaultBucket, filepath.FromSlash(keys[0]))
	for _, k := range keys[1:] {
		p := filepath.Join(dataDir, "storage", storage.DefaultBucket, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(first, p); err != nil {
			t.Fatal(err)
		}
	}
}

// kill -9 while phase 2 runs, then restart: every session completes within
// a minute of the restart, none is lost and none is analysed into two
// results. The test uses --job-timeout 5s and --rescue-after 7s (production:
// 45 s and 60 s) so that it runs in seconds. The process killed is `emgd
// serve` (API and workers), or an `emgd worker` beside a serve that only
// takes webhooks.
func TestKillDuringPhase2(t *testing.T) {
	longRecording()
	for _, c := range []struct {
		name, db string
		worker   bool
	}{{"SQLite", "SQLite", false}, {"Postgres", "Postgres", false}, {"SQLite worker process", "SQLite", true}} {
		db := c.db
		t.Run(c.name, func(t *testing.T) {
			emgdBinary(t)
			t.Parallel() // mostly waiting for the new process to take the lead
			dir := t.TempDir()
			var dbURL string
			if db == "Postgres" {
				dbURL = storetest.NewPostgresDatabase(t)
			}
			const n = 30
			keys := make([]string, n)
			for i := range keys {
				keys[i] = fmt.Sprintf("P%03d/Ghostly_Emg_20240102_10-00-%02d-0000.c3d", 200+i%3, i)
			}
			rec := longRecording()
			putLinked(t, dir, rec, keys)
			args := []string{"--data-dir", dir, "--workers", "2", "--job-timeout", "5s", "--rescue-after", "7s"}
			if dbURL != "" {
				args = append(args, "--database-url", dbURL)
			}
			// victim is the process killed and started again: serve itself,
			// or a worker beside a serve without workers.
			var srv, victim *proc
			victimCmd := "serve"
			if c.worker {
				srv = startEmgd(t, nil, "serve", append(args, "--workers", "0")...)
				victim, victimCmd = startEmgd(t, nil, "worker", args...), "worker"
			} else {
				srv = startEmgd(t, nil, "serve", args...)
				victim = srv
			}
			ids := make([]string, n)
			for i, k := range keys {
				code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, k, "", int64(len(rec))))
				if code != 200 {
					t.Fatalf("webhook %s: %d %v", k, code, out)
				}
				ids[i] = out["session_id"].(string)
			}
			// Kill as soon as a job is running.
			deadline := time.Now().Add(30 * time.Second)
		wait:
			for {
				for _, id := range ids {
					if srv.status(t, id)["status"] == "processing" {
						break wait
					}
				}
				if time.Now().After(deadline) {
					t.Fatal("no session reached processing within 30 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			victim.kill()
			first := victim

			st := openStore(t, dbURL, dir)
			running := queryInt(t, st, `SELECT count(*) FROM river_job WHERE state = 'running'`)
			doneBefore := queryInt(t, st, `SELECT count(*) FROM sessions WHERE status = 'completed'`)
			t.Logf("killed with %d jobs running, %d of %d sessions completed", running, doneBefore, n)
			if running == 0 {
				t.Fatal("the kill landed when no job was running")
			}
			if doneBefore == n {
				t.Fatal("every session completed before the kill")
			}

			restarted := time.Now()
			victim = startEmgd(t, nil, victimCmd, args...)
			if !c.worker {
				srv = victim
			}
			for _, id := range ids {
				left := time.Minute - time.Since(restarted)
				st := srv.waitDone(t, id, max(left, time.Second))
				if st["status"] != "completed" {
					t.Fatalf("session %s: %v", id, st)
				}
			}
			t.Logf("all %d sessions completed %.1f s after the restart", n, time.Since(restarted).Seconds())

			// One session per object, one result per session, one job per
			// session, and the jobs that were running when the process died
			// ran again.
			if got := queryInt(t, st, `SELECT count(*) FROM sessions`); got != n {
				t.Errorf("%d sessions for %d objects", got, n)
			}
			if got := queryInt(t, st, `SELECT count(DISTINCT object_key) FROM sessions WHERE status = 'completed'`); got != n {
				t.Errorf("%d objects with a completed session, want %d", got, n)
			}
			if got := queryInt(t, st, `SELECT count(*) FROM analysis_results`); got != n {
				t.Errorf("%d analysis results for %d sessions", got, n)
			}
			// River records finished jobs in batches: give it a moment.
			for wait := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				got := queryInt(t, st, `SELECT count(*) FROM river_job WHERE state = 'completed'`)
				if got == n {
					break
				}
				if time.Now().After(wait) {
					t.Errorf("%d completed jobs for %d sessions", got, n)
					break
				}
			}
			if got := queryInt(t, st, `SELECT count(*) FROM sessions WHERE status = 'completed'`); got != n {
				t.Errorf("%d of %d sessions completed once every job was done", got, n)
			}
			// No session analysed twice: a job rescued after its result was
			// stored does nothing.
			analysed := map[string]int{}
			for _, m := range analysedRe.FindAllStringSubmatch(first.logs.String()+victim.logs.String(), -1) {
				analysed[m[1]]++
			}
			for code, k := range analysed {
				if k > 1 {
					t.Errorf("session %s analysed %d times", code, k)
				}
			}
			if len(analysed) < n-running {
				t.Errorf("%d sessions analysed, want at least %d", len(analysed), n-running)
			}
			if got := queryInt(t, st, `SELECT count(*) FROM river_job WHERE attempt > 1`); got < running {
				t.Errorf("%d jobs ran more than once; %d were running at the kill", got, running)
			}
			// The same events again: the same sessions, nothing new.
			for i, k := range keys {
				code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, k, "", int64(len(rec))))
				if code != 200 || out["session_id"] != ids[i] || out["duplicate"] != true {
					t.Errorf("repeated webhook %s: %d %v", k, code, out)
				}
			}
			if got := queryInt(t, st, `SELECT count(*) FROM sessions`); got != n {
				t.Errorf("%d sessions after repeated webhooks", got)
			}
			if c.worker {
				victim.stop()
			}
			srv.stop()
		})
	}
}
