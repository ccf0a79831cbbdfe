package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"emgd/internal/api"
)

// TestWebhookRefusesSpecialFiles: a named pipe (or a device) named like a
// recording in folder storage is answered 400 at once, instead of the
// webhook blocking for ever on opening it; no session is made.
func TestWebhookRefusesSpecialFiles(t *testing.T) {
	e := newEnv(t, api.Config{})
	dir := filepath.Join(e.fs.Dir(), "c3d-examples", "P001")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.c3d"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := []string{"P001/fifo.c3d"}
	// As /dev/zero (reading never ends); only root may make one.
	if err := syscall.Mknod(filepath.Join(dir, "zero.c3d"), syscall.S_IFCHR|0o644, 1<<8|5); err == nil {
		keys = append(keys, "P001/zero.c3d")
	}
	for _, key := range keys {
		for _, etag := range []string{"", "abc"} {
			done := make(chan struct{})
			var code int
			var body map[string]any
			go func() {
				defer close(done)
				code, body = e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, etag, 10))
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("webhook for %s blocked", key)
			}
			msg, _ := body["error"].(string)
			if code != http.StatusBadRequest || !strings.Contains(msg, "not a regular file") {
				t.Errorf("webhook for %s (etag %q) = %d %q, want 400 \"not a regular file\"", key, etag, code, msg)
			}
		}
	}
	if n := len(e.queue.jobs); n != 0 {
		t.Errorf("%d jobs enqueued", n)
	}
}
