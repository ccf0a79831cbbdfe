package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emgd/internal/app/apptest"
	"emgd/internal/service"
	"emgd/internal/store"
)

func TestReconcileCommand(t *testing.T) {
	dir := t.TempDir()
	apptest.WriteObject(t, dir, "P001/Ghostly_Emg_20230321_17-23-09-0409.c3d", 1, time.Time{})
	apptest.WriteObject(t, dir, "P002/lost event (2).c3d", 2, time.Time{})
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
		if st := apptest.WaitCompleted(t, "http://"+addr, c); st["status"] != "completed" {
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
	apptest.OldSessions(t, dir)
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
