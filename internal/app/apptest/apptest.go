// Package apptest starts emgd's server (internal/app.Run) inside a test and
// holds the fixtures the tests of the server and of the commands share.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"emgd/internal/app"
	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// Start runs app.Run with cfg (serve when cfg.HTTP, else worker) until the
// test ends or stop is called, and returns its address ("" for a worker).
// Unset settings get test values: the job timeout and rescue of
// app.Defaults, address 127.0.0.1:0, 2 workers, warnings only (logged
// nowhere); everything else, the sweep included, stays as given (0: off).
// stop returns Run's error.
func Start(t testing.TB, cfg app.Config) (addr string, stop func() error) {
	t.Helper()
	if cfg.JobTimeout == 0 {
		d := app.Defaults()
		cfg.JobTimeout, cfg.RescueAfter = d.JobTimeout, d.RescueAfter
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	cfg.LogLevel = "warn"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready)
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not shut down")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

// PostJSON posts body and decodes the JSON answer.
func PostJSON(t testing.TB, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// GetJSON gets url and decodes the JSON answer.
func GetJSON(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// WaitCompleted waits up to a minute for session code to end (completed or
// failed) on the server at base and returns its status answer.
func WaitCompleted(t testing.TB, base, code string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, st := GetJSON(t, base+"/webhooks/storage/status/"+code)
		if st["status"] == "completed" || st["status"] == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %v", code, st["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WriteObject puts a 12 s recording straight into the folder storage of
// data folder dir (bucket c3d-examples), as if its webhook had been lost;
// mtime, when set, is its modification time.
func WriteObject(t testing.TB, dir, key string, seed uint64, mtime time.Time) {
	t.Helper()
	path := filepath.Join(dir, "storage", "c3d-examples", filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, testrec.Ghostly(testrec.Options{Seed: seed, Seconds: 12}), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		os.Chtimes(path, mtime, mtime)
	}
}

// OldSessions makes, in data folder dir, two completed sessions through
// serve: P001S001 (P001/old.c3d), then made 400 days old, file and session,
// and P002S001 (P002/recent.c3d).
func OldSessions(t testing.TB, dir string) {
	t.Helper()
	old := time.Now().Add(-400 * 24 * time.Hour)
	WriteObject(t, dir, "P001/old.c3d", 1, old)
	WriteObject(t, dir, "P002/recent.c3d", 2, time.Time{})
	addr, stop := Start(t, app.Config{HTTP: true, DataDir: dir})
	for _, k := range []string{"P001/old.c3d", "P002/recent.c3d"} {
		code, out := PostJSON(t, "http://"+addr+"/webhooks/storage/c3d-upload", []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"`+k+`","metadata":{}}}`))
		if code != 200 {
			t.Fatalf("%s: %d %v", k, code, out)
		}
		WaitCompleted(t, "http://"+addr, out["session_code"].(string))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "emgd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := storetest.DB(st).Exec(`UPDATE sessions SET created_at = $1 WHERE session_code = 'P001S001'`, old.UTC().Format("2006-01-02T15:04:05.000000Z")); err != nil {
		t.Fatal(err)
	}
}

// StrandedSession makes, in the SQLite database of data folder dir, a
// session left processing whose job River discarded at rescue (its process
// died during the last attempt), and returns its id.
func StrandedSession(t testing.TB, dir, key string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := jobs.New(ctx, st, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	err = st.InTx(ctx, func(tx store.Tx) error {
		sess, _, err := tx.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: "e1"})
		if err != nil {
			return err
		}
		id = sess.ID
		if _, err := tx.SetStatus(ctx, id, store.StatusUpdate{Status: store.StatusProcessing}); err != nil {
			return err
		}
		_, err = q.EnqueueTx(ctx, tx, service.AnalyzeArgs{SessionID: id}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	errJSON := fmt.Sprintf(`{"at":"2026-01-01T00:00:00Z","attempt":1,"error":%q,"trace":""}`, jobs.RescuedError)
	if _, err := storetest.DB(st).Exec(`UPDATE river_job SET state = 'discarded', attempt = 1, max_attempts = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), finalized_at = strftime('%Y-%m-%d %H:%M:%f', 'now'),
		errors = jsonb(json_array(json($1))) WHERE args ->> 'session_id' = $2`, errJSON, id); err != nil {
		t.Fatal(err)
	}
	return id
}
