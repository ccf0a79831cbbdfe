package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// emgdBinary builds cmd/emgd once for the package and returns its path. It
// skips the test under -short.
func emgdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("fault tests run emgd as separate processes; skipped under -short")
	}
	buildOnce.Do(func() {
		root, err := testenv.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, buildErr = os.MkdirTemp("", "emgd-faults-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "emgd")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(build.Default.GOROOT, "bin", "go")
		}
		cmd := exec.Command(goTool, "build", "-o", binPath, "./cmd/emgd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/emgd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

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

// proc is one running emgd process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error  // exit status, once done is closed
	base string // http://ADDR for serve
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cleanEnv is the test's environment without EMGD_* settings.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMGD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startEmgd runs `emgd serve` (with a fresh --addr) or `emgd worker` with
// args and waits until it is ready: /healthz answers for serve, the
// "worker running" line for worker. It is killed when the test ends if still
// running.
func startEmgd(t *testing.T, env []string, sub string, args ...string) *proc {
	t.Helper()
	bin := emgdBinary(t)
	p := &proc{t: t, name: sub, logs: &syncBuffer{}, done: make(chan struct{})}
	all := append([]string{sub}, args...)
	if sub == "serve" {
		addr := freeAddr(t)
		all = append(all, "--addr", addr)
		p.base = "http://" + addr
	}
	p.cmd = exec.Command(bin, all...)
	p.cmd.Env = cleanEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("emgd %s output:\n%s", sub, tail(p.logs.String(), 4000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("emgd %s exited at start (%v):\n%s", sub, p.err, p.logs.String())
		default:
		}
		if sub == "serve" {
			if resp, err := http.Get(p.base + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return p
				}
			}
		} else if strings.Contains(p.logs.String(), "worker running") {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("emgd %s not ready after 60 s:\n%s", sub, p.logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Errorf("emgd %s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(90 * time.Second):
		p.t.Errorf("emgd %s did not stop within 90 s of SIGTERM", p.name)
		p.kill()
	}
}

// alive reports whether the process is still running and answers /healthz.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
	}
	if p.base == "" {
		return true
	}
	resp, err := http.Get(p.base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// request sends a request and decodes a JSON answer (nil when not JSON).
func request(t *testing.T, method, url, contentType string, body []byte, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func (p *proc) webhook(t *testing.T, body []byte, header ...string) (int, map[string]any) {
	t.Helper()
	return request(t, "POST", p.base+"/webhooks/storage/c3d-upload", "application/json", body, header...)
}

func (p *proc) status(t *testing.T, id string, header ...string) map[string]any {
	t.Helper()
	_, out := request(t, "GET", p.base+"/webhooks/storage/status/"+id, "", nil, header...)
	return out
}

// waitDone waits until the session is completed or failed and returns its
// status answer.
func (p *proc) waitDone(t *testing.T, id string, within time.Duration, header ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := p.status(t, id, header...)
		if st["status"] == "completed" || st["status"] == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %v after %s", id, st["status"], within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// supabaseEvent is a Supabase database webhook for an inserted object; etag
// may be empty (the server then uses the store's own).
func supabaseEvent(bucket, key, etag string, size int64) []byte {
	md := map[string]any{"size": size}
	if etag != "" {
		md["eTag"] = etag
	}
	b, _ := json.Marshal(map[string]any{"type": "INSERT", "table": "objects", "schema": "storage",
		"record": map[string]any{"bucket_id": bucket, "name": key, "metadata": md}})
	return b
}

// openStore opens the database an emgd process uses (SQLite in dataDir when
// url is empty), for counting rows.
func openStore(t *testing.T, url, dataDir string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, dataDir, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func queryInt(t *testing.T, st store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := storetest.DB(st).QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
