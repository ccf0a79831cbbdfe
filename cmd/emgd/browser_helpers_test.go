package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"emgd/internal/testenv"
)

// requireChromium returns Chromium's path; without it the test is skipped,
// or failed under EMGD_REQUIRE_SERVICES.
func requireChromium(t *testing.T) string {
	t.Helper()
	exe := chromium()
	if exe == "" {
		testenv.Require(t, "Chromium not installed (apt-get install chromium)")
	}
	return exe
}

// startDashServer starts a server with HTTP for a dashboard test in
// Chromium, on cfg with a new data folder; it stops with the test.
func startDashServer(t *testing.T, cfg serverConfig) *dashServer {
	t.Helper()
	requireChromium(t)
	cfg.DataDir = t.TempDir()
	addr, _ := startServe(t, cfg, true)
	return &dashServer{t: t, dir: cfg.DataDir, base: "http://" + addr}
}

// put writes b under key in the server's bucket.
func (s *dashServer) put(key string, b []byte) {
	s.t.Helper()
	path := filepath.Join(s.dir, "storage", "c3d-examples", filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// webhook posts the storage webhook of key and fails the test unless it
// answers want.
func (s *dashServer) webhook(key string, want int) {
	s.t.Helper()
	body := `{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"` + key + `","metadata":{}}}`
	resp, err := http.Post(s.base+"/webhooks/storage/c3d-upload", "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		s.t.Fatalf("webhook %s: %d, want %d", key, resp.StatusCode, want)
	}
}

// allowDownloads lets the browser save downloads in dir.
func allowDownloads(dir string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	})
}
