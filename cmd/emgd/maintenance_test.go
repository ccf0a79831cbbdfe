package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// writeObject puts a recording straight into folder storage, as if its
// webhook had been lost.
func writeObject(t *testing.T, dir, key string, seed uint64, mtime time.Time) {
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

func TestReconcileCommand(t *testing.T) {
	dir := t.TempDir()
	writeObject(t, dir, "P001/Ghostly_Emg_20230321_17-23-09-0409.c3d", 1, time.Time{})
	writeObject(t, dir, "P002/lost event (2).c3d", 2, time.Time{})
	code, out, stderr := runCLI("reconcile", "--data-dir", dir, "--dry-run")
	if code != 0 || strings.Count(out, "would enqueue") != 3 || !strings.Contains(out, "2 objects listed, 2 .c3d, 0 with a session") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI("reconcile", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "enqueued c3d-examples/P002/lost event (2).c3d as P002S001") {
		t.Fatalf("run: exit %d\n%s%s", code, out, stderr)
	}
	// A serve started afterwards works the enqueued jobs.
	addr, stop := startServe(t, serverConfig{DataDir: dir}, true)
	for _, c := range []string{"P001S001", "P002S001"} {
		if st := waitCompleted(t, "http://"+addr, c); st["status"] != "completed" {
			t.Fatalf("%s: %v", c, st)
		}
	}
	stop()
	code, out, _ = runCLI("reconcile", "--data-dir", dir, "--json")
	var rep service.ReconcileReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Known != 2 || len(rep.Enqueued) != 0 {
		t.Fatalf("again: exit %d %v %+v", code, err, rep)
	}
}

// serve --reconcile-every picks up an object whose webhook never came.
func TestServeReconcileEvery(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, serverConfig{DataDir: dir, ReconcileEvery: 100 * time.Millisecond}, true)
	writeObject(t, dir, "P007/no webhook.c3d", 7, time.Time{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, st := getJSON(t, "http://"+addr+"/webhooks/storage/status/P007S001")
		if code == 200 && st["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed session: %d %v", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// oldSessions makes two sessions through serve (one to be made 400 days
// old, one recent) and stops it.
func oldSessions(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-400 * 24 * time.Hour)
	writeObject(t, dir, "P001/old.c3d", 1, old)
	writeObject(t, dir, "P002/recent.c3d", 2, time.Time{})
	addr, stop := startServe(t, serverConfig{DataDir: dir}, true)
	for _, k := range []string{"P001/old.c3d", "P002/recent.c3d"} {
		code, out := postJSON(t, "http://"+addr+"/webhooks/storage/c3d-upload", []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"`+k+`","metadata":{}}}`))
		if code != 200 {
			t.Fatalf("%s: %d %v", k, code, out)
		}
		waitCompleted(t, "http://"+addr, out["session_code"].(string))
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

func countSessions(t *testing.T, dir string) int {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "emgd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ListSessions(context.Background(), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Sessions)
}

func TestPurgeCommand(t *testing.T) {
	dir := t.TempDir()
	oldSessions(t, dir)
	oldFile := filepath.Join(dir, "storage", "c3d-examples", "P001", "old.c3d")
	if code, _, stderr := runCLI("purge", "--data-dir", dir); code != 2 || !strings.Contains(stderr, "--older-than") {
		t.Fatalf("without --older-than: exit %d %s", code, stderr)
	}
	code, out, stderr := runCLI("purge", "--data-dir", dir, "--older-than", "365d")
	if code != 0 || !strings.Contains(out, "would delete P001S001") || !strings.Contains(out, "dry run") || strings.Contains(out, "P002S001") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(oldFile); err != nil || countSessions(t, dir) != 2 {
		t.Fatalf("dry run changed something: %v", err)
	}
	code, out, stderr = runCLI("purge", "--data-dir", dir, "--older-than", "365d", "--yes", "--json")
	var rep service.PurgeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s%s", code, err, out, stderr)
	}
	if rep.Sessions != 1 || rep.Analyses != 1 || rep.Files != 1 || rep.FileBytes <= 0 || rep.Items[0].SessionCode != "P001S001" {
		t.Fatalf("%+v", rep)
	}
	if _, err := os.Stat(oldFile); !os.IsNotExist(err) {
		t.Errorf("old file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", "c3d-examples", "P002", "recent.c3d")); err != nil {
		t.Errorf("recent file: %v", err)
	}
	if n := countSessions(t, dir); n != 1 {
		t.Errorf("%d sessions left, want 1", n)
	}
}

// serve --retention removes what is older at start (then hourly).
func TestServeRetention(t *testing.T) {
	dir := t.TempDir()
	oldSessions(t, dir)
	addr, _ := startServe(t, serverConfig{DataDir: dir, Retention: 365 * 24 * time.Hour}, true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := getJSON(t, "http://"+addr+"/webhooks/storage/status/P001S001")
		if code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old session still there: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, st := getJSON(t, "http://"+addr+"/webhooks/storage/status/P002S001"); code != 200 || st["status"] != "completed" {
		t.Fatalf("recent session: %d %v", code, st)
	}
}
