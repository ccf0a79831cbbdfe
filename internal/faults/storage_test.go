package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
)

// gateway is a versitygw S3 server that the test can stop and start again
// on the same address and folder.
type gateway struct {
	t            *testing.T
	bin, dir     string
	addr         string
	access, secr string
	cmd          *exec.Cmd
	done         chan struct{}
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	bin := storagetest.VersityGWPath()
	if bin == "" {
		testenv.Require(t, "versitygw not found (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or set EMGD_VERSITYGW)")
	}
	g := &gateway{t: t, bin: bin, dir: t.TempDir(), addr: freeAddr(t), access: "faultsaccess", secr: "faultssecret0123456789"}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gateway) start() {
	g.t.Helper()
	var logs syncBuffer
	g.cmd = exec.Command(g.bin, "--access", g.access, "--secret", g.secr, "--port", g.addr, "--quiet", "posix", g.dir)
	g.cmd.Stdout, g.cmd.Stderr = &logs, &logs
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(g.cmd, g.done)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", g.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-g.done:
			g.t.Fatalf("versitygw exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("versitygw not listening on %s: %s", g.addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *gateway) stop() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Kill()
	<-g.done
	g.cmd = nil
}

func (g *gateway) url() string {
	return "s3://" + storage.DefaultBucket + "?endpoint=http://" + g.addr + "&region=us-east-1"
}

func (g *gateway) env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + g.access, "AWS_SECRET_ACCESS_KEY=" + g.secr}
}

// jobErrors reads the attempts River recorded for the only job of a SQLite
// database: their times and messages.
func jobErrors(t *testing.T, dataDir string) (attempt int, state string, errs []struct {
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}) {
	t.Helper()
	st := openStore(t, "", dataDir)
	var raw string
	if err := storetest.DB(st).QueryRowContext(context.Background(),
		`SELECT attempt, state, json(errors) FROM river_job ORDER BY id DESC LIMIT 1`).Scan(&attempt, &state, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &errs); err != nil {
		t.Fatalf("errors column %q: %v", raw, err)
	}
	return attempt, state, errs
}

// checkGaveUp checks that the session failed after two attempts, one second
// or more apart (River's backoff), with a readable message containing want.
func checkGaveUp(t *testing.T, st map[string]any, dataDir, want string) {
	t.Helper()
	msg, _ := st["error"].(string)
	t.Logf("session %v: %q", st["status"], msg)
	if st["status"] != "failed" || !strings.Contains(msg, "gave up after 2 attempts") || !strings.Contains(msg, want) {
		t.Errorf("session %v with error %q; want failed, after 2 attempts, mentioning %q", st["status"], msg, want)
	}
	// River records the job's end in a batch shortly after.
	attempt, state, errs := jobErrors(t, dataDir)
	for wait := time.Now().Add(15 * time.Second); state == "running" && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
		attempt, state, errs = jobErrors(t, dataDir)
	}
	if attempt != 2 || state != "discarded" || len(errs) != 2 {
		t.Fatalf("job: attempt %d, state %s, %d errors; want 2, discarded, 2", attempt, state, len(errs))
	}
	if gap := errs[1].At.Sub(errs[0].At); gap < 900*time.Millisecond {
		t.Errorf("second attempt %s after the first: no backoff", gap)
	} else {
		t.Logf("second attempt %.1f s after the first", gap.Seconds())
	}
}

// Storage unreachable (the S3 server stopped) between phase 1 and phase 2:
// a webhook meanwhile gets 503; the job is retried with backoff, then the
// session is marked failed with the storage error. When the S3 server is
// back, the same worker process analyses new sessions.
func TestS3UnreachableRetriesThenFails(t *testing.T) {
	emgdBinary(t)
	gw := newGateway(t)
	ctx := context.Background()
	s3, err := storage.OpenS3(ctx, storage.S3Config{Bucket: storage.DefaultBucket, Endpoint: "http://" + gw.addr,
		Region: "us-east-1", AccessKey: gw.access, SecretKey: gw.secr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.CreateBucket(ctx, storage.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	rec := testrec.Ghostly(testrec.Options{Seed: 31})
	event := func(key string) []byte {
		info, err := s3.Put(ctx, storage.DefaultBucket, key, bytes.NewReader(rec))
		if err != nil {
			t.Fatal(err)
		}
		return supabaseEvent(storage.DefaultBucket, key, info.ETag, info.Size)
	}
	dir := t.TempDir()
	// The attempts are set by the process that enqueues the job.
	common := []string{"--data-dir", dir, "--storage", gw.url(), "--job-timeout", "5s", "--rescue-after", "7s", "--max-attempts", "2"}
	// The API alone: its jobs wait for the worker started below.
	srv := startEmgd(t, gw.env(), "serve", append(common, "--workers", "0")...)
	code, out := srv.webhook(t, event("P401/Ghostly_Emg_20240104_08-00-00-0001.c3d"))
	if code != 200 {
		t.Fatalf("phase 1 over S3: %d %v", code, out)
	}
	id := out["session_id"].(string)
	later := event("P401/Ghostly_Emg_20240104_08-30-00-0002.c3d")

	gw.stop()
	if code, out := srv.webhook(t, later); code != 503 {
		t.Errorf("webhook with the S3 server stopped: %d %v, want 503", code, out)
	} else {
		t.Logf("S3 stopped: webhook 503 %v", out["error"])
	}
	wk := startEmgd(t, gw.env(), "worker", append(common, "--workers", "2")...)
	checkGaveUp(t, srv.waitDone(t, id, 60*time.Second), dir, "storage")

	gw.start()
	code, out = srv.webhook(t, later)
	if code != 200 {
		t.Fatalf("webhook once the S3 server is back: %d %v", code, out)
	}
	if st := srv.waitDone(t, out["session_id"].(string), 30*time.Second); st["status"] != "completed" {
		t.Errorf("session once the S3 server is back: %v", st)
	}
	if !srv.alive() {
		t.Error("server down")
	}
	wk.stop()
	srv.stop()
}

// The object is deleted from folder storage between phase 1 and phase 2:
// retried with backoff, then failed with "object not found".
func TestFolderObjectDeletedRetriesThenFails(t *testing.T) {
	emgdBinary(t)
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	key := "P402/Ghostly_Emg_20240104_09-00-00-0001.c3d"
	info, err := stg.Put(ctx, storage.DefaultBucket, key, bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 32})))
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"--data-dir", dir, "--job-timeout", "5s", "--rescue-after", "7s", "--max-attempts", "2"}
	srv := startEmgd(t, nil, "serve", append(common, "--workers", "0")...)
	code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, key, info.ETag, info.Size))
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	if err := os.Remove(filepath.Join(dir, "storage", storage.DefaultBucket, filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
	wk := startEmgd(t, nil, "worker", append(common, "--workers", "2")...)
	checkGaveUp(t, srv.waitDone(t, out["session_id"].(string), 60*time.Second), dir, "object not found")
	wk.stop()
	srv.stop()
}
