package main

import (
	"bytes"
	"testing"

	"emgd/emg"
	"emgd/internal/analysis"
)

// analyze prefaults the large buffers its analyses allocate (all of them
// new in a short-lived process) and turns it off again when it returns.
func TestAnalyzePrefaultsBuffers(t *testing.T) {
	dir := t.TempDir()
	// 540 s at 990 Hz: over the samples the buffer pools keep, so the
	// analysis allocates its buffers whatever ran before
	path := writeEMGFile(t, dir, "long.c3d", []string{"CH1 Raw", "CH1 activated"}, 540)
	n0 := analysis.PrefaultedBuffers()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"analyze", "--json", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	n1 := analysis.PrefaultedBuffers()
	if n1-n0 < 4 {
		t.Errorf("analyze prefaulted %d buffers, want at least 4 (two channels, emg's envelope and filter buffer)", n1-n0)
	}
	if _, err := analysis.AnalyzeFile(path, emg.Params{}, emg.Analyzer{}); err != nil {
		t.Fatal(err)
	}
	if n := analysis.PrefaultedBuffers() - n1; n != 0 {
		t.Errorf("after analyze returned, an analysis prefaulted %d buffers", n)
	}
}
