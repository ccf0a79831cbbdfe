package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"emgd/emg"
	"emgd/internal/analysis"
)

// The memory limits of phase 2 are flags (and EMGD_* variables) of serve and
// worker, applied to every analysis of the process.
func TestMemoryLimitFlags(t *testing.T) {
	for _, args := range [][]string{{"--max-samples-per-channel", "-1"}, {"--max-object-mb", "-5"}} {
		var stderr bytes.Buffer
		if code := run(append([]string{"worker", "--data-dir", t.TempDir()}, args...), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), args[0]) {
			t.Errorf("%v: exit %d, %q", args, code, stderr.String())
		}
	}
	t.Cleanup(func() { analysis.SetLimits(analysis.Limits{}) })
	t.Setenv("EMGD_MAX_SAMPLES_PER_CHANNEL", "123456")
	t.Setenv("EMGD_MAX_OBJECT_MB", "7")
	var cfg serverConfig
	fs := newFlagSet("worker", "", io.Discard)
	cfg.bind(fs, false)
	if err := parseEnv(fs, nil); err != nil || cfg.validate() != nil {
		t.Fatal(err)
	}
	sc := cfg.appConfig().ServiceConfig(emg.Analyzer{Workers: 3})
	if sc.MaxObjectBytes != 7<<20 || sc.Analyzer.Workers != 3 || analysis.CurrentLimits().MaxSamplesPerChannel != 123456 {
		t.Errorf("config %+v, limits %+v", sc, analysis.CurrentLimits())
	}
	// Defaults.
	var def serverConfig
	t.Setenv("EMGD_MAX_SAMPLES_PER_CHANNEL", "")
	fs = newFlagSet("worker", "", io.Discard)
	def.bind(fs, false)
	parseEnv(fs, []string{"--max-samples-per-channel", "0", "--max-object-mb", "0"})
	if err := def.validate(); err != nil {
		t.Fatal(err)
	}
	def.appConfig().ServiceConfig(emg.Analyzer{})
	if got := analysis.CurrentLimits().MaxSamplesPerChannel; got != analysis.DefaultMaxSamplesPerChannel {
		t.Errorf("--max-samples-per-channel 0: %d, want the default", got)
	}
}
