package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/testenv"
)

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startEmgd builds cmd/emgd and runs `emgd serve` on folder storage and
// SQLite in dataDir, and returns its address once /healthz answers. The
// server is killed when the test ends.
func startEmgd(t *testing.T, dataDir string) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "emgd")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/emgd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/emgd: %v\n%s", err, out)
	}
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
