package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// --signal-decodes (EMGD_SIGNAL_DECODES) bounds the signals answers computed
// at once: 2 by default, out-of-range values refused at start.
func TestSignalDecodesFlag(t *testing.T) {
	for _, v := range []string{"-1", "65"} {
		var stderr bytes.Buffer
		if code := run([]string{"serve", "--signal-decodes", v, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--signal-decodes") {
			t.Errorf("--signal-decodes %s: exit %d, %q", v, code, stderr.String())
		}
	}
	var def serverConfig
	fs := newFlagSet("serve", "", io.Discard)
	def.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil || def.SignalDecodes != 2 {
		t.Errorf("default: %d (%v)", def.SignalDecodes, err)
	}
	t.Setenv("EMGD_SIGNAL_DECODES", "5")
	var cfg serverConfig
	fs = newFlagSet("serve", "", io.Discard)
	cfg.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil || cfg.SignalDecodes != 5 || cfg.validate() != nil {
		t.Errorf("EMGD_SIGNAL_DECODES=5: %d (%v)", cfg.SignalDecodes, err)
	}
	// worker has no signals: its configuration still validates.
	var w serverConfig
	fs = newFlagSet("worker", "", io.Discard)
	w.bind(fs, false)
	if err := parseEnv(fs, nil); err != nil || w.validate() != nil {
		t.Errorf("worker: %v", w.validate())
	}
}
