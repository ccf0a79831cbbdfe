package main

import (
	"strings"
	"testing"
	"time"

	"emgd/internal/testrec"
)

// versitygw posts its own S3 event notifications to emgd serve (with
// ?token= since it sends no header): a plain upload, keys with spaces,
// parentheses and a plus sign, and a multipart upload each become exactly one
// completed session, with the object's etag as S3 reports it.
func TestS3EventsFromVersityGW(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and emgd serve")
	}
	const token = "s3-events-token"
	rl := newRelay(t)
	env := startS3(t, "--event-webhook-url", rl.srv.URL+"/webhooks/storage/c3d-upload?token="+token)
	addr, stop := startServe(t, serverConfig{DataDir: t.TempDir(), StorageURL: env.storageURL(), WebhookToken: token}, true)
	base := "http://" + addr
	rl.setTargets(base)

	uploads := map[string]string{} // key -> etag reported by S3
	plain := []string{
		"P001/Ghostly_Emg_20230321_17-23-09-0409.c3d",
		"P002/Ghostly Emg (copy) 20230322_10-00-00-0001.c3d",
		"P003/left+right arm (2).C3D",
		"P004/100% effort & rest.c3d",
	}
	for i, k := range plain {
		uploads[k] = env.put(t, k, testrec.Ghostly(testrec.Options{Seed: uint64(i + 1), Seconds: 10}))
	}
	big := "P005/multipart upload (long).c3d"
	uploads[big] = env.putMultipart(t, big, testrec.Ghostly(testrec.Options{Seed: 50, Seconds: 400}), 5<<20)
	env.put(t, "P001/notes.txt", []byte("not a recording"))
	if !strings.Contains(uploads[big], "-2") {
		t.Fatalf("multipart etag %s has no part count", uploads[big])
	}

	keys := make([]string, 0, len(uploads))
	for k := range uploads {
		keys = append(keys, k)
	}
	byKey := waitSessions(t, base, keys, 90*time.Second)
	total := 0
	for k, ss := range byKey {
		total += len(ss)
		etag, ok := uploads[k]
		if !ok {
			t.Errorf("session for an object never uploaded: %q", k)
			continue
		}
		if len(ss) != 1 {
			t.Errorf("%q: %d sessions", k, len(ss))
			continue
		}
		s := ss[0]
		if s["status"] != "completed" {
			t.Errorf("%q: status %v (%v)", k, s["status"], s["error"])
		}
		if want := strings.Trim(etag, `"`); s["etag"] != want {
			t.Errorf("%q: etag %v, want %s", k, s["etag"], want)
		}
		if size, _ := s["file_size_bytes"].(float64); size <= 0 {
			t.Errorf("%q: file_size_bytes %v", k, s["file_size_bytes"])
		}
	}
	for _, b := range rl.received() {
		t.Logf("event: %.600s", b)
	}
	if total != len(uploads) {
		t.Errorf("%d sessions for %d uploads", total, len(uploads))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
