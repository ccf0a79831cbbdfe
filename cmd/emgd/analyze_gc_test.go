package main

import (
	"bytes"
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"emgd/internal/analysis"
)

// analyze is a short-lived process: without GOGC it collects at 5x the live
// heap (400) under its 150 MB soft limit; GOGC or GOMEMLIMIT in the
// environment are left to the runtime.
func TestAnalyzeGCSettings(t *testing.T) {
	dir := t.TempDir()
	path := writeEMGFile(t, dir, "rec.c3d", []string{"CH1 Raw", "CH1 activated"}, 12)
	for _, tc := range []struct {
		name        string
		env         map[string]string
		wantPercent int
		wantLimit   int64
	}{
		{"defaults", nil, 400, 150 << 20},
		{"GOGC set", map[string]string{"GOGC": "100"}, 100, 150 << 20},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, 100, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
				t.Setenv(k, tc.env[k])
			}
			oldPercent := debug.SetGCPercent(100)
			oldLimit := debug.SetMemoryLimit(math.MaxInt64)
			defer func() {
				debug.SetGCPercent(oldPercent)
				debug.SetMemoryLimit(oldLimit)
			}()
			var stdout, stderr bytes.Buffer
			if code := run([]string{"analyze", "--json", path}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := debug.SetGCPercent(100); got != tc.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tc.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}

// Under a memory limit, analyze keeps the memory a long file's analysis
// freed for the next file instead of returning it to the system (which
// would fault it in again); without one it returns it after each.
func TestAnalyzeKeepsFreedMemoryUnderLimit(t *testing.T) {
	defer analysis.KeepFreedMemory(false)
	dir := t.TempDir()
	// 540 s at 990 Hz: over the samples the shared buffer pool keeps, so
	// the analysis allocates long buffers of its own
	path := writeEMGFile(t, dir, "long.c3d", []string{"CH1 Raw", "CH1 activated"}, 540)
	for _, tc := range []struct {
		name       string
		gomemlimit string
		wantForced uint32
	}{
		{"analyze's limit", "", 0},
		{"no limit", "off", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", tc.gomemlimit)
			oldPercent := debug.SetGCPercent(100)
			oldLimit := debug.SetMemoryLimit(math.MaxInt64)
			defer func() {
				debug.SetGCPercent(oldPercent)
				debug.SetMemoryLimit(oldLimit)
			}()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var stdout, stderr bytes.Buffer
			if code := run([]string{"analyze", "--json", path}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			runtime.ReadMemStats(&after)
			if n := after.NumForcedGC - before.NumForcedGC; n != tc.wantForced {
				t.Errorf("%d forced collections (debug.FreeOSMemory), want %d", n, tc.wantForced)
			}
		})
	}
}
