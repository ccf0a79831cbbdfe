package main

import (
	"bytes"
	"encoding/json"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

// startEmgd builds cmd/emgd and runs `emgd serve` on folder storage and
// SQLite in dataDir, and returns its address once /healthz answers. The
// server is killed when the test ends.
func startEmgd(t *testing.T, dataDir string) string {
	t.Helper()
	bin := buildEmgd(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir, "--workers", "2", "--log-level", "warn")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMGD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("emgd serve output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("emgd serve exited at start:\n%s", logs.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("emgd serve not ready after 60 s:\n%s", logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// buildEmgd builds cmd/emgd into a temporary folder and returns its path.
func buildEmgd(t *testing.T) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "emgd")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(build.Default.GOROOT, "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/emgd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/emgd: %v\n%s", err, out)
	}
	return bin
}

// emgd-bench against a running server: 20 webhooks over 10 objects (each
// sent twice), every object one completed session, as the responses, the
// status API and the database all tell.
func TestBenchCheckDB(t *testing.T) {
	if testing.Short() {
		t.Skip("short: builds and runs emgd serve")
	}
	dir := t.TempDir()
	addr := startEmgd(t, dir)
	var stdout, stderr bytes.Buffer
	code := run([]string{"--url", "http://" + addr, "--data-dir", dir, "-n", "20", "-c", "4", "-objects", "10",
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

// Bad flags and stray arguments stop emgd-bench with status 2 and a message,
// before it touches storage or the network.
func TestBenchBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"},
		{"-c", "-1"},
		{"-objects", "0"},
		{"--no-such-flag"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append(args, "--data-dir", t.TempDir()), &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("emgd-bench %v: exit %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage: emgd-bench") {
		t.Errorf("emgd-bench -h: exit %d, stderr %q", code, stderr.String())
	}
}

// The server binary does not link the test-recording generator, which only
// emgd-bench and tests use.
func TestEmgdDoesNotLinkGenerator(t *testing.T) {
	if testing.Short() {
		t.Skip("short: runs go list")
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "./cmd/emgd")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/emgd: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "emgd/internal/testrec" {
			t.Errorf("cmd/emgd links %s", p)
		}
	}
}

// emgd-bench compare runs its own servers on SQLite and on a fresh
// PostgreSQL database per run, sends each the concurrent phase then the
// single-sender phase, and reports both: every webhook answered, each a
// session of its own, all analysed, the databases in alternating order.
func TestBenchCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("short: builds and runs emgd serve")
	}
	storetest.NewPostgresDatabase(t) // skips (or fails) without PostgreSQL
	file := testenv.Testdata(t, "ghostly", "Ghostly_Emg_20230321_17-50-17-0881.c3d")
	bin := buildEmgd(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"compare", "--emgd", bin, "--file", file, "--postgres-url", storetest.PostgresAdminURL(),
		"-n", "12", "-c", "4", "--single", "3", "--patients", "5", "--runs", "2", "--wait", "90s",
		"--work-dir", t.TempDir(), "--profile-dir", t.TempDir(), "--profile-seconds", "1", "--json"}, &stdout, &stderr)
	var rep compareReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d: %v\n%s%s", code, err, stdout.String(), stderr.String())
	}
	if code != 0 {
		t.Errorf("exit %d\n%s", code, stderr.String())
	}
	var order []string
	for _, r := range rep.Runs {
		order = append(order, r.Database)
		if r.Concurrent.Requests != 12 || r.Concurrent.Senders != 4 || r.Concurrent.Codes["200"] != 12 ||
			r.Single == nil || r.Single.Codes["200"] != 3 || r.Sessions != 15 || r.Duplicated != 0 ||
			r.Completed != 15 || r.Lost != 0 || r.Failed != 0 {
			t.Errorf("run %d on %s: %+v", r.Run, r.Database, r)
		}
		if r.Concurrent.LatencyMs["p99"] <= 0 || r.Concurrent.Throughput <= 0 || r.Single.LatencyMs["p99"] <= 0 {
			t.Errorf("run %d on %s measured nothing: %+v", r.Run, r.Database, r)
		}
		if st, err := os.Stat(r.Profile); err != nil || st.Size() == 0 {
			t.Errorf("run %d on %s: CPU profile %q: %v", r.Run, r.Database, r.Profile, err)
		}
	}
	if want := []string{"sqlite", "postgres", "postgres", "sqlite"}; !slices.Equal(order, want) {
		t.Errorf("runs in order %v, want %v", order, want)
	}
	for _, db := range []string{"sqlite", "postgres"} {
		if m := rep.Medians[db]; m.P99 <= 0 || m.Throughput <= 0 || m.SingleP99 <= 0 {
			t.Errorf("medians of %s: %+v", db, m)
		}
	}
}

// The table names both phases and gives one row per run and one per
// database's medians.
func TestCompareTable(t *testing.T) {
	phase := func(p50, p99, tput float64) phaseReport {
		return phaseReport{Throughput: tput, LatencyMs: map[string]float64{"p50": p50, "p99": p99}}
	}
	one := phase(1.5, 9, 100)
	rep := &compareReport{
		Runs:    []dbRun{{Database: "sqlite", Run: 1, Concurrent: phase(10, 50, 900), Single: &one, Sessions: 1200}},
		Medians: map[string]medians{"sqlite": {P50: 10, P99: 50, Throughput: 900, SingleP50: 1.5, SingleP99: 9}},
	}
	var b bytes.Buffer
	writeCompareTable(&b, rep, []string{"sqlite"}, 32, 1)
	for _, want := range []string{"| database | run | 32 senders p50 / p99 ms |", "| sqlite | 1 | 10.0 / 50.0 | 900 | 1.5 / 9.0 | 0 | 1200 | 0 |",
		"| sqlite | 10.0 / 50.0 | 900 | 1.5 / 9.0 |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// compare's bad flags stop it with status 2 and a message before it starts
// anything.
func TestCompareBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--emgd", "x"},
		{"--emgd", "x", "--file", "f", "-n", "0"},
		{"--emgd", "x", "--file", "f", "--runs", "0"},
		{"--emgd", "x", "--file", "f", "--databases", "mysql"},
		{"--emgd", "x", "--file", "f", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"compare"}, args...), &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("emgd-bench compare %v: exit %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
