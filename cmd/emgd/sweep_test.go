package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"emgd/internal/app/apptest"
)

func TestSweepIntervalFlag(t *testing.T) {
	parse := func(args ...string) (serverConfig, error) {
		var cfg serverConfig
		fs := newFlagSet("worker", "", io.Discard)
		cfg.bind(fs, false)
		if err := parseEnv(fs, args); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
	if cfg, err := parse(); err != nil || cfg.SweepEvery != 20*time.Second {
		t.Errorf("default: %s (%v), want on every 20s", cfg.SweepEvery, err)
	}
	if cfg, err := parse("--sweep-interval", "0"); err != nil || cfg.SweepEvery != 0 {
		t.Errorf("--sweep-interval 0: %s (%v)", cfg.SweepEvery, err)
	}
	t.Setenv("EMGD_SWEEP_INTERVAL", "5s")
	if cfg, err := parse(); err != nil || cfg.SweepEvery != 5*time.Second {
		t.Errorf("EMGD_SWEEP_INTERVAL=5s: %s (%v)", cfg.SweepEvery, err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"worker", "--sweep-interval", "-1s", "--data-dir", t.TempDir()}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--sweep-interval") {
		t.Errorf("--sweep-interval -1s: exit %d, %q", code, stderr.String())
	}
}

// emgd reconcile reports stranded sessions in a dry run and fails them.
func TestReconcileCommandFailsStranded(t *testing.T) {
	dir := t.TempDir()
	apptest.StrandedSession(t, dir, "P009/crashed.c3d")
	code, out, stderr := runCLI("reconcile", "--data-dir", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "would fail stranded session P009S001 (processing, job discarded): the analysis was interrupted") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI("reconcile", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "failed stranded session P009S001") || !strings.Contains(out, "1 stranded sessions failed") {
		t.Fatalf("run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI("reconcile", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "0 stranded sessions failed") {
		t.Fatalf("again: exit %d\n%s", code, out)
	}
}
