package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"emgd/internal/app"
	"emgd/internal/app/apptest"
)

// startServe runs serve (withHTTP) or worker with cfg until the test ends
// (apptest.Start).
func startServe(t *testing.T, cfg serverConfig, withHTTP bool) (addr string, stop func() error) {
	t.Helper()
	cfg.HTTP = withHTTP
	return apptest.Start(t, app.Config(cfg))
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

// The flags' defaults are app.Defaults; --bucket is a comma-separated list.
func TestServerFlagDefaults(t *testing.T) {
	for _, withHTTP := range []bool{true, false} {
		fs := newFlagSet("serve", "", io.Discard)
		var cfg serverConfig
		cfg.bind(fs, withHTTP)
		if err := parseEnv(fs, nil); err != nil {
			t.Fatal(err)
		}
		want := app.Defaults()
		if !withHTTP { // worker: no HTTP settings
			want.HTTP, want.Addr, want.SignalCacheMB, want.SignalDecodes, want.UploadLimitMB = false, "", 0, 0, 0
			want.JWTAudience = ""
		}
		if got := app.Config(cfg); !reflect.DeepEqual(got, want) {
			t.Errorf("http=%v: flags' defaults\n%+v\nwant app.Defaults\n%+v", withHTTP, got, want)
		}
	}
	fs := newFlagSet("serve", "", io.Discard)
	var cfg serverConfig
	cfg.bind(fs, true)
	if err := parseEnv(fs, []string{"--bucket", " clinic-a, ,clinic-b,"}); err != nil || !reflect.DeepEqual(cfg.Buckets, []string{"clinic-a", "clinic-b"}) {
		t.Errorf("--bucket: %q (%v)", cfg.Buckets, err)
	}
	t.Setenv("EMGD_BUCKET", "x,y")
	fs = newFlagSet("serve", "", io.Discard)
	cfg = serverConfig{}
	cfg.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil || !reflect.DeepEqual(cfg.Buckets, []string{"x", "y"}) {
		t.Errorf("EMGD_BUCKET=x,y: %q (%v)", cfg.Buckets, err)
	}
}
