package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestMaxAttemptsFlag(t *testing.T) {
	for _, v := range []string{"-1", "101"} {
		var stderr bytes.Buffer
		if code := run([]string{"worker", "--max-attempts", v, "--data-dir", t.TempDir()}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--max-attempts") {
			t.Errorf("--max-attempts %s: exit %d, %q", v, code, stderr.String())
		}
	}
	t.Setenv("EMGD_MAX_ATTEMPTS", "3")
	var cfg serverConfig
	fs := newFlagSet("worker", "", io.Discard)
	cfg.bind(fs, false)
	if err := parseEnv(fs, nil); err != nil || cfg.MaxAttempts != 3 || cfg.validate() != nil {
		t.Errorf("EMGD_MAX_ATTEMPTS=3: %d (%v)", cfg.MaxAttempts, err)
	}
}
