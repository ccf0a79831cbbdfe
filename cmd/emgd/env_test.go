package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// parseEnv parses args as the commands do: flags, then the environment
// variables of the flags not given.
func parseEnv(fs *flag.FlagSet, args []string) error {
	_, err := parseInterspersed(fs, args)
	return err
}

// A variable the flag refuses stops the command with a message naming the
// variable; it never falls back to the default unnoticed.
func TestBadEnvironmentFailsLoudly(t *testing.T) {
	for _, tc := range []struct{ env, val, flag string }{
		{"EMGD_WORKERS", "two", "--workers"},
		{"EMGD_JOB_TIMEOUT", "soon", "--job-timeout"},
		{"EMGD_SWEEP_INTERVAL", "20", "--sweep-interval"},
		{"EMGD_SIGNAL_CACHE_MB", "1e3", "--signal-cache-mb"},
		{"EMGD_LOG_JSON", "yes", "--log-json"},
		{"EMGD_LOG_LEVEL", "verbose", "--log-level"},
		{"EMGD_MAX_OBJECT_MB", "99999999999999999999", "--max-object-mb"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.val)
			for _, cmd := range []string{"serve", "worker", "migrate"} {
				if cmd != "serve" && strings.HasPrefix(tc.env, "EMGD_SIGNAL") {
					continue
				}
				code, _, stderr := runCLI(cmd, "--data-dir", t.TempDir())
				if code != 2 || !strings.Contains(stderr, tc.env) || !strings.Contains(stderr, tc.flag) {
					t.Errorf("%s with %s=%s: exit %d, stderr %q", cmd, tc.env, tc.val, code, stderr)
				}
			}
		})
	}
	t.Run("analyze", func(t *testing.T) {
		t.Setenv("EMGD_MAX_SAMPLES_PER_CHANNEL", "lots")
		code, _, stderr := runCLI("analyze", "x.c3d")
		if code != 2 || !strings.Contains(stderr, "EMGD_MAX_SAMPLES_PER_CHANNEL") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

// A good variable is the flag's default; the flag given on the command line
// wins over it.
func TestEnvironmentAndFlags(t *testing.T) {
	t.Setenv("EMGD_WORKERS", "3")
	t.Setenv("EMGD_JOB_TIMEOUT", "2d")
	t.Setenv("EMGD_LOG_JSON", "1")
	t.Setenv("EMGD_ADDR", "127.0.0.1:1")
	fs := newFlagSet("serve", "", io.Discard)
	var cfg serverConfig
	cfg.bind(fs, true)
	if err := parseEnv(fs, []string{"--addr", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Workers != 3 || cfg.JobTimeout != 48*time.Hour || !cfg.LogJSON || cfg.Addr != "127.0.0.1:2" || cfg.RescueAfter != time.Minute {
		t.Errorf("%+v", cfg)
	}
	// Every flag of the server commands names its variable.
	fs.VisitAll(func(f *flag.Flag) {
		if !envInUsage().MatchString(f.Usage) {
			t.Errorf("--%s names no EMGD_ variable: %q", f.Name, f.Usage)
		}
	})
}
