package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// cancelOnWrite cancels a context at its first write.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.Buffer.Write(p)
}

// Interrupted (its context done), emgd analyze stops: the files after the
// one written are not analysed, it says so and exits 130.
func TestAnalyzeInterrupted(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.c3d", "b.c3d", "c.c3d"} {
		writeEMGFile(t, dir, name, ghostlyLabels, 12)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	var errb bytes.Buffer
	code := analyzeFiles(ctx, []string{"--json", dir}, out, &errb)
	if code != 130 || !strings.Contains(errb.String(), "emgd analyze: interrupted") {
		t.Errorf("exit %d, stderr %q; want 130 and \"interrupted\"", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), "a.c3d") {
		t.Errorf("%d results written, want the first file's alone:\n%.300s", n, out.String())
	}

	// Done before it starts: nothing is analysed.
	var out2, errb2 bytes.Buffer
	if code := analyzeFiles(ctx, []string{"--json", dir}, &out2, &errb2); code != 130 || out2.Len() != 0 {
		t.Errorf("cancelled before: exit %d, %d bytes written; want 130 and nothing", code, out2.Len())
	}
}
