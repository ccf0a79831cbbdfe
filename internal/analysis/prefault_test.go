package analysis

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"emgd/emg"
)

// TestPrefaultBuffers: with PrefaultBuffers on, an analysis prefaults the
// large buffers it allocates (a file longer than the pools keep, so that
// every buffer is new: both channels' samples and emg's envelope arrays)
// and gives the result it gives with it off, when nothing is prefaulted;
// short buffers are never prefaulted.
func TestPrefaultBuffers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.c3d")
	writeSynthetic(t, path, 1, 990, 530) // 524,700 samples per channel
	analyse := func(on bool) (string, int64) {
		PrefaultBuffers(on)
		defer PrefaultBuffers(false)
		n0 := prefaulted.Load()
		res, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Analytics["CH1"].ContractionCount == 0 {
			t.Fatal("no contractions")
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), prefaulted.Load() - n0
	}
	off, nOff := analyse(false)
	on, nOn := analyse(true)
	if nOff != 0 {
		t.Errorf("off: %d buffers prefaulted", nOff)
	}
	if nOn < 4 {
		t.Errorf("on: %d buffers prefaulted, want at least 4 (two channels, emg's envelope and filter buffer)", nOn)
	}
	if on != off {
		t.Error("the result with prefaulted buffers differs")
	}

	PrefaultBuffers(true)
	defer PrefaultBuffers(false)
	n0 := prefaulted.Load()
	if x := newSamples(minPrefaultBytes/8 - 1); len(x) != minPrefaultBytes/8-1 {
		t.Fatalf("newSamples: %d samples", len(x))
	}
	if n := prefaulted.Load() - n0; n != 0 {
		t.Errorf("a buffer under %d bytes was prefaulted", minPrefaultBytes)
	}
	x := newSamples(minPrefaultBytes / 8)
	if n := prefaulted.Load() - n0; n != 1 {
		t.Errorf("a buffer of %d bytes: %d prefaulted, want 1", minPrefaultBytes, n)
	}
	for i, v := range x {
		if v != 0 {
			t.Fatalf("sample %d of a new prefaulted buffer is %v, want 0", i, v)
		}
	}
}
