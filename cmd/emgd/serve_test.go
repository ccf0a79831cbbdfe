package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

func startServe(t *testing.T, cfg serverConfig, withHTTP bool) (addr string, stop func() error) {
	t.Helper()
	fs := newFlagSet("serve", "", io.Discard)
	defaults := serverConfig{}
	defaults.bind(fs, true)
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout, cfg.RescueAfter = defaults.JobTimeout, defaults.RescueAfter
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	cfg.LogLevel = "warn"
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, "serve", &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), withHTTP, ready)
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not shut down")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

func postJSON(t *testing.T, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func waitCompleted(t *testing.T, base, code string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, st := getJSON(t, base+"/webhooks/storage/status/"+code)
		if st["status"] == "completed" || st["status"] == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %v", code, st["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve on the embedded defaults (SQLite + folder) and on PostgreSQL: a
// webhook becomes a completed session; shutdown is clean.
func TestServeEndToEnd(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := t.TempDir()
			cfg := serverConfig{DataDir: dir}
			if db == "postgres" {
				cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
			}
			key := "P009/Ghostly_Emg_20230321_17-23-09-0409.c3d"
			path := filepath.Join(dir, "storage", "c3d-examples", filepath.FromSlash(key))
			os.MkdirAll(filepath.Dir(path), 0o755)
			rec := testrec.Ghostly(testrec.Options{Seed: 9})
			os.WriteFile(path, rec, 0o644)
			addr, stop := startServe(t, cfg, true)
			base := "http://" + addr
			body := []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"` + key + `","metadata":{"eTag":"\"v1\"","size":0}}}`)
			code, out := postJSON(t, base+"/webhooks/storage/c3d-upload", body)
			if code != 200 || out["session_code"] != "P009S001" {
				t.Fatalf("%d %v", code, out)
			}
			if st := waitCompleted(t, base, "P009S001"); st["status"] != "completed" {
				t.Fatalf("%v", st)
			}
			// The same object again (an UPDATE event): the same session.
			upd := bytes.Replace(body, []byte(`"INSERT"`), []byte(`"UPDATE"`), 1)
			if code, again := postJSON(t, base+"/webhooks/storage/c3d-upload", upd); code != 200 || again["session_id"] != out["session_id"] {
				t.Fatalf("duplicate: %d %v", code, again)
			}
			_, sess := getJSON(t, base+"/sessions/P009S001")
			an, _ := sess["analysis"].(map[string]any)
			if an == nil {
				t.Fatalf("no analysis: %v", sess)
			}
			// The stored analytics equal emgd analyze on the same file.
			want, err := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), key, emg.Params{}, emg.Analyzer{})
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(map[string]any{"analytics": want.Analytics, "available_channels": want.AvailableChannels, "processing_version": want.ProcessingVersion})
			gotJSON, _ := json.Marshal(an["analytics_summary"])
			var x, y any
			json.Unmarshal(wantJSON, &x)
			json.Unmarshal(gotJSON, &y)
			if !reflect.DeepEqual(x, y) {
				t.Errorf("stored analytics differ from emgd analyze:\n got %.300s\nwant %.300s", gotJSON, wantJSON)
			}
			resp, _ := http.Get(base + "/metrics")
			m, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, name := range []string{"emgd_queue_depth", "emgd_phase_duration_seconds", "emgd_http_requests_total"} {
				if !strings.Contains(string(m), name) {
					t.Errorf("metrics lack %s", name)
				}
			}
			if err := stop(); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"365d": 365 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90s": 90 * time.Second, "2h": 2 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "xd", "5"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestServerFlagsAndEnvironment(t *testing.T) {
	t.Setenv("EMGD_WORKERS", "5")
	t.Setenv("EMGD_JOB_TIMEOUT", "1m")
	fs := newFlagSet("serve", "", io.Discard)
	var cfg serverConfig
	cfg.bind(fs, true)
	if err := parseEnv(fs, []string{"--addr", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 5 || cfg.JobTimeout != time.Minute || cfg.Addr != "127.0.0.1:9999" || cfg.DataDir != "./data" {
		t.Errorf("%+v", cfg)
	}
	if err := cfg.validate(); err == nil {
		t.Error("rescue-after (60s) not above job-timeout (1m) accepted")
	}
	if code, _, _ := runCLI("serve", "--workers", "-1"); code != 2 {
		t.Errorf("--workers -1: exit %d", code)
	}
	if code, _, _ := runCLI("serve", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
}

func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI("migrate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "sqlite") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "emgd.db")); err != nil {
		t.Error(err)
	}
	if code, out, stderr := runCLI("migrate", "--data-dir", dir); code != 0 {
		t.Errorf("second run: exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := runCLI("migrate", "--database-url", "mysql://x"); code != 1 || stderr == "" {
		t.Errorf("unsupported URL: exit %d %q", code, stderr)
	}
}
