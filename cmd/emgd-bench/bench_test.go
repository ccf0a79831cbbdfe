package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// emgd bench against a running server: 20 webhooks over 10 objects (each
// sent twice), every object one completed session, as the responses, the
// status API and the database all tell.
func TestBenchCheckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	addr, _ := startServe(t, serverConfig{DataDir: dir}, true)
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--url", "http://" + addr, "--data-dir", dir, "-n", "20", "-c", "4", "-objects", "10",
		"--wait", "60s", "--check-db", "--json"}, &stdout, &stderr)
	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s%s", code, err, stdout.String(), stderr.String())
	}
	if code != 0 || rep.Codes["200"] != 20 || rep.Sessions != 10 || rep.Duplicated != 0 || rep.Completed != 10 || rep.Lost != 0 {
		t.Errorf("exit %d, report %+v\n%s", code, rep, stderr.String())
	}
	if d := rep.Database; d == nil || *d != (benchRows{Sessions: 10, Objects: 10, Completed: 10, Results: 10}) {
		t.Errorf("database rows %+v, want 10 sessions, objects, completed and results", d)
	}
}
