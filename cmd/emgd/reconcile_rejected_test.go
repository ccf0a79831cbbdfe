package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emgd reconcile records an unreadable .c3d object as rejected and reports
// it, succeeding; the next run reports it again without trying it.
func TestReconcileCommandRejected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage", "c3d-examples", "P009", "broken.c3d")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not a C3D file"), 0o644); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		code, out, stderr := runCLI("reconcile", "--data-dir", dir)
		if code != 0 || !strings.Contains(out, "rejected c3d-examples/P009/broken.c3d as P009R001") ||
			!strings.Contains(out, "0 failed, 1 rejected") {
			t.Fatalf("run %d: exit %d\n%s%s", run, code, out, stderr)
		}
	}
	if n := countSessions(t, dir); n != 1 {
		t.Errorf("%d sessions, want the rejected one", n)
	}
}
