package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
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

// reconcile and purge against S3 storage: objects uploaded while no event
// reached emgd get sessions from emgd reconcile; purge --yes deletes the old
// ones' objects from the bucket and keeps the young one.
func TestReconcileAndPurgeOnS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw and emgd serve")
	}
	env := startS3(t)
	dir := t.TempDir()
	keys := []string{"P001/Ghostly_Emg_20230321_17-23-09-0409.c3d", "P002/lost (event) + retry.c3d", "P003/young.c3d"}
	for i, k := range keys {
		env.put(t, k, testrec.Ghostly(testrec.Options{Seed: uint64(20 + i), Seconds: 12}))
	}
	args := []string{"--data-dir", dir, "--storage", env.storageURL()}
	code, out, stderr := runCLI(append([]string{"reconcile"}, args...)...)
	if code != 0 || !strings.Contains(out, "3 objects listed, 3 .c3d, 0 with a session, 3 enqueued") {
		t.Fatalf("reconcile: exit %d\n%s%s", code, out, stderr)
	}
	addr, stop := startServe(t, serverConfig{DataDir: dir, StorageURL: env.storageURL()}, true)
	byKey := waitSessions(t, "http://"+addr, keys, 60*time.Second)
	stop()
	for _, k := range keys {
		if len(byKey[k]) != 1 || byKey[k][0]["status"] != "completed" {
			t.Fatalf("%s: %v", k, byKey[k])
		}
	}
	// Make the first two 400 days old, sessions and objects.
	old := time.Now().Add(-400 * 24 * time.Hour)
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "emgd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:2] {
		storetest.DB(st).Exec(`UPDATE sessions SET created_at = $1 WHERE object_key = $2`, old.UTC().Format("2006-01-02T15:04:05.000000Z"), k)
		if err := os.Chtimes(filepath.Join(env.gw.Dir, env.bucket, filepath.FromSlash(k)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, stderr = runCLI(append([]string{"purge", "--older-than", "365d", "--yes"}, args...)...)
	if code != 0 || !strings.Contains(out, "2 sessions, 2 analyses, 2 files") {
		t.Fatalf("purge: exit %d\n%s%s", code, out, stderr)
	}
	ctx := context.Background()
	for i, k := range keys {
		_, err := env.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(env.bucket), Key: aws.String(k)})
		if (err == nil) != (i == 2) {
			t.Errorf("%s after purge: %v", k, err)
		}
	}
	code, out, _ = runCLI(append([]string{"reconcile", "--dry-run"}, args...)...)
	if code != 0 || !strings.Contains(out, "1 objects listed, 1 .c3d, 1 with a session, 0 would enqueue") {
		t.Errorf("reconcile after purge: exit %d\n%s", code, out)
	}
}
