package service_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// newPipelineOn is newPipeline on any storage backend.
func newPipelineOn(t *testing.T, st store.Store, b storage.Backend, maxAttempts int) *service.Service {
	t.Helper()
	if err := b.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: b, Config: service.Config{Buckets: []string{"c3d-examples"}}}
	workers := jobs.NewWorkers()
	(&service.AnalyzeWorker{Svc: svc}).Register(workers)
	q, err := jobs.New(context.Background(), st, jobs.Config{Workers: workers, MaxAttempts: maxAttempts,
		MaxWorkers: 2, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc.Queue = service.RiverQueue{Q: q}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return svc
}

// eachStorage runs fn on folder storage and on S3 (versitygw).
func eachStorage(t *testing.T, fn func(t *testing.T, b storage.Backend)) {
	t.Run("Folder", func(t *testing.T) {
		f, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fn(t, f)
	})
	t.Run("S3", func(t *testing.T) {
		gw := storagetest.StartVersityGW(t)
		s3, err := storage.OpenS3(context.Background(), storage.S3Config{Bucket: "c3d-examples", Endpoint: gw.Endpoint,
			Region: "us-east-1", AccessKey: gw.AccessKey, SecretKey: gw.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s3)
	})
}

// TestOverwrittenObjectIsNeverMixedUp: the webhook for version A of an
// object, then A overwritten by B under the same key before phase 2 ran,
// then the webhook for B. A's session must end failed with "the object
// changed" (once: no retries), B's completed with B's sha256 and analytics.
// Before phase 2 read by version, A's session completed with B's data.
func TestOverwrittenObjectIsNeverMixedUp(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		eachStorage(t, func(t *testing.T, b storage.Backend) {
			ctx := context.Background()
			svc := newPipelineOn(t, st, b, 3)
			release := make(chan struct{})
			var mu sync.Mutex
			calls := map[string]int{}
			service.SetTestHook(svc, func(a service.AnalyzeArgs) {
				<-release
				mu.Lock()
				calls[a.SessionID]++
				mu.Unlock()
			})
			key := "P021/Ghostly_Emg_20240101_10-00-00-" + path.Base(t.Name()) + ".c3d"
			recA := testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 12})
			recB := testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 20, Bursts: [][2]float64{{1, 3}, {6, 10}}})
			// The sender's etags are in its own form (an MD5 of the bytes),
			// not the storage's.
			event := func(data []byte) service.Event {
				info, err := b.Put(ctx, "c3d-examples", key, bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				sum := md5.Sum(data)
				return service.Event{Bucket: "c3d-examples",
					Key: key, RawKey: key, ETag: "sender-" + hex.EncodeToString(sum[:]), Size: info.Size}
			}
			outA, err := svc.Ingest(ctx, event(recA))
			if err != nil || !outA.Created {
				t.Fatalf("webhook A: %v %+v", err, outA)
			}
			if outA.Session.StorageVersion == "" || outA.Session.StorageVersion == outA.Session.ETag {
				t.Errorf("session A: storage version %q beside sender etag %q", outA.Session.StorageVersion, outA.Session.ETag)
			}
			time.Sleep(5 * time.Millisecond) // a new mtime for the folder storage
			outB, err := svc.Ingest(ctx, event(recB))
			if err != nil || !outB.Created {
				t.Fatalf("webhook B: %v %+v", err, outB)
			}
			if outB.Session.StorageVersion == outA.Session.StorageVersion {
				t.Fatalf("both versions recorded as storage version %q", outA.Session.StorageVersion)
			}
			close(release)

			a := waitDone(t, st, outA.Session.ID)
			if a.Status != store.StatusFailed || !strings.Contains(a.Error, "the object changed") {
				t.Errorf("session A ended %s with error %q, want failed with \"the object changed\"", a.Status, a.Error)
			}
			if a.HasAnalysis || a.FileSHA256 != "" {
				t.Errorf("session A has an analysis (%v) or a sha256 (%q) of another version", a.HasAnalysis, a.FileSHA256)
			}
			bs := waitFor(t, st, outB.Session.ID, store.StatusCompleted, 60*time.Second)
			sumB := sha256.Sum256(recB)
			if bs.FileSHA256 != hex.EncodeToString(sumB[:]) {
				t.Errorf("session B sha256 %s, want B's %x", bs.FileSHA256, sumB)
			}
			got, err := st.CurrentAnalysis(ctx, bs.ID)
			if err != nil {
				t.Fatal(err)
			}
			want, err := analysis.Analyze(bytes.NewReader(recB), int64(len(recB)), "x", emg.Params{}, emg.Analyzer{})
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(service.Summary(want))
			if !jsonSame(t, wantJSON, got.AnalyticsSummary) {
				t.Error("session B's analytics are not B's")
			}
			mu.Lock()
			n := calls[outA.Session.ID]
			mu.Unlock()
			if n != 1 {
				t.Errorf("session A's job ran %d times, want once (no retries)", n)
			}

			// Reanalysis of A (its job again) fails the same way; B's
			// reanalysis still reads B.
			if err := svc.Process(ctx, service.AnalyzeArgs{SessionID: outA.Session.ID}); err == nil ||
				!strings.Contains(err.Error(), "the object changed") {
				t.Errorf("Process(A) again = %v", err)
			}
			if err := svc.Process(ctx, service.AnalyzeArgs{SessionID: outB.Session.ID, Params: json.RawMessage(`{"threshold_factor":0.3}`)}); err != nil {
				t.Errorf("Process(B) with new parameters = %v", err)
			}
		})
	})
}

// TestSessionWithoutStorageVersionReadsCurrent: a session made before the
// storage version was recorded ("") is analysed from the current object,
// as before.
func TestSessionWithoutStorageVersionReadsCurrent(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	p := newPipeline(t, st, 2)
	ctx := context.Background()
	rec := testrec.Ghostly(testrec.Options{Seed: 4})
	ev := p.upload(t, "P022/old.c3d", rec)
	sess, created, err := st.CreateSession(ctx, store.NewSession{Bucket: ev.Bucket, ObjectKey: ev.Key, ETag: ev.ETag})
	if err != nil || !created || sess.StorageVersion != "" {
		t.Fatalf("%+v %v %v", sess, created, err)
	}
	if err := p.svc.Process(ctx, service.AnalyzeArgs{SessionID: sess.ID}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetSession(ctx, sess.ID)
	sum := sha256.Sum256(rec)
	if got.Status != store.StatusCompleted || got.FileSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("session %s sha256 %s", got.Status, got.FileSHA256)
	}
}

// waitDone waits for the session to end completed or failed.
func waitDone(t *testing.T, st store.Store, id string) *store.Session {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := st.GetSession(context.Background(), id)
		if err == nil && (s.Status == store.StatusCompleted || s.Status == store.StatusFailed) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: still %v (err %v)", id, s.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func jsonSame(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xj, _ := json.Marshal(x)
	yj, _ := json.Marshal(y)
	return bytes.Equal(xj, yj)
}

// TestReconcileKnowsRecordedStorageVersion: an object whose session recorded
// its storage version is known to reconcile even when the session looks
// older than the object's last write (the storage's and the database's
// clocks disagree) and the sender's etag is in another form.
func TestReconcileKnowsRecordedStorageVersion(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		ev := p.upload(t, "P023/skewed.c3d", testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 12}))
		ev.ETag = "sender-form"
		out, err := p.svc.Ingest(ctx, ev)
		if err != nil || !out.Created {
			t.Fatalf("%v %+v", err, out)
		}
		if _, err := storetest.DB(st).ExecContext(ctx, `UPDATE sessions SET created_at = $1 WHERE id = $2`,
			"2000-01-01T00:00:00.000000Z", out.Session.ID); err != nil {
			t.Fatal(err)
		}
		rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{DryRun: true, Prefix: "P023/"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Known != 1 || len(rep.Enqueued) != 0 {
			t.Errorf("reconcile: known %d, enqueued %+v; want the object known by its storage version", rep.Known, rep.Enqueued)
		}
	})
}
