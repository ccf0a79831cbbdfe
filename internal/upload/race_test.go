package upload_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"emgd/internal/api"
	"emgd/internal/storage"
	"emgd/internal/testrec"
)

// pausedFirstPut is storage whose first Put, once stored, waits until a
// second Put has stored too: the first upload's file is replaced before its
// phase 1 runs.
type pausedFirstPut struct {
	storage.Backend
	n           atomic.Int32
	firstStored chan struct{}
	secondDone  chan struct{}
}

func (p *pausedFirstPut) Put(ctx context.Context, bucket, key string, r io.Reader) (storage.ObjectInfo, error) {
	info, err := p.Backend.Put(ctx, bucket, key, r)
	switch p.n.Add(1) {
	case 1:
		close(p.firstStored)
		<-p.secondDone
	case 2:
		close(p.secondDone)
	}
	return info, err
}

// Two uploads of the same file name for one patient, the second stored
// before the first's phase 1: the first is refused with 409 (its file was
// replaced before it became a session) and the only session is the second
// upload's, with the second file's data. Before phase 1 read the version the
// upload stored, the first upload got a session with its own etag but the
// second file's metadata.
func TestStoreSameNameRace(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	ps := &pausedFirstPut{Backend: e.fs, firstStored: make(chan struct{}), secondDone: make(chan struct{})}
	e.svc.Storage = ps
	fileA := testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 10})
	fileB := testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 12})
	fields := [][2]string{{"store", "true"}, {"patient", "P021"}, {"include_signals", "false"}}
	var wg sync.WaitGroup
	var codeA int
	var outA map[string]any
	wg.Add(1)
	go func() {
		defer wg.Done()
		codeA, outA = e.post("/upload", fields, name, fileA)
	}()
	<-ps.firstStored
	codeB, outB := e.post("/upload", fields, name, fileB)
	wg.Wait()
	if codeB != 200 {
		t.Fatalf("second upload: %d %v", codeB, outB["error"])
	}
	if msg, _ := outA["error"].(string); codeA != 409 || !strings.Contains(msg, "replaced") {
		t.Errorf("first upload: %d %v, want 409 saying its file was replaced", codeA, outA["error"])
	}
	sessions := e.sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want the second upload's alone", len(sessions))
	}
	var md struct {
		Duration float64 `json:"duration_seconds"`
	}
	json.Unmarshal(sessions[0].Metadata, &md)
	if s := sessions[0]; s.ID != outB["session_id"] || md.Duration != 12 || s.FileSizeBytes == nil || *s.FileSizeBytes != int64(len(fileB)) {
		t.Errorf("session %s: duration %v, size %v; want the second upload's (%s, 12 s, %d bytes)", s.ID, md.Duration, s.FileSizeBytes, outB["session_id"], len(fileB))
	}
}
