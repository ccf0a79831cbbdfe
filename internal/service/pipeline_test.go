package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
)

// pipeline is the service on a real database and River queue, with folder
// storage, as `emgd serve` wires it.
type pipeline struct {
	svc *service.Service
	st  store.Store
	fs  *storage.Folder
}

func newPipeline(t *testing.T, st store.Store, maxAttempts int) *pipeline {
	t.Helper()
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs}
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
	return &pipeline{svc: svc, st: st, fs: fs}
}

// eachDatabase runs fn on SQLite and on PostgreSQL.
func eachDatabase(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("SQLite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t, store.Options{MaxConns: 8})) })
	t.Run("Postgres", func(t *testing.T) { fn(t, storetest.OpenPostgres(t, store.Options{})) })
}

func (p *pipeline) upload(t *testing.T, key string, b []byte) service.Event {
	t.Helper()
	info, err := p.fs.Put(context.Background(), "c3d-examples", key, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return service.Event{Bucket: "c3d-examples", Key: key, RawKey: key, ETag: info.ETag, Size: info.Size}
}

func waitFor(t *testing.T, st store.Store, id string, want store.Status, within time.Duration) *store.Session {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := st.GetSession(context.Background(), id)
		if err == nil && s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: status %v (err %v), want %s within %s", id, s.Status, err, want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPipelineCompletes(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		p := newPipeline(t, st, 3)
		rec := testrec.Ghostly(testrec.Options{Seed: 3})
		ev := p.upload(t, "P007/Ghostly_Emg_20240101_10-00-00-0001.c3d", rec)
		out, err := p.svc.Ingest(context.Background(), ev)
		if err != nil || !out.Created {
			t.Fatalf("%v %+v", err, out)
		}
		again, err := p.svc.Ingest(context.Background(), ev)
		if err != nil || again.Created || again.Session.ID != out.Session.ID {
			t.Fatalf("duplicate: %v %+v", err, again)
		}
		sess := waitFor(t, st, out.Session.ID, store.StatusCompleted, 30*time.Second)
		if len(sess.FileSHA256) != 64 {
			t.Errorf("sha256 %q", sess.FileSHA256)
		}
		a, err := st.CurrentAnalysis(context.Background(), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), "x", emg.Params{}, emg.Analyzer{})
		wantJSON, _ := json.Marshal(service.Summary(want))
		var x, y any
		json.Unmarshal(wantJSON, &x)
		json.Unmarshal(a.AnalyticsSummary, &y)
		xj, _ := json.Marshal(x)
		yj, _ := json.Marshal(y)
		if !bytes.Equal(xj, yj) {
			t.Errorf("stored summary differs from emgd analyze")
		}
		if len(a.AnalyticsSummary) > 16<<10 {
			t.Errorf("summary of %d bytes (aim: 16 KB)", len(a.AnalyticsSummary))
		}
		storetest.AssertNoTimeSeries(t, st)
	})
}

// A job that panics is retried; on its last attempt the session is marked
// failed with the message, and the worker goes on with other jobs.
func TestPipelinePanicMarksFailed(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		p := newPipeline(t, st, 2)
		var calls atomic.Int32
		service.SetTestHook(p.svc, func(a service.AnalyzeArgs) {
			s, _ := st.GetSession(context.Background(), a.SessionID)
			if s != nil && strings.Contains(s.ObjectKey, "boom") {
				calls.Add(1)
				panic("injected failure")
			}
		})
		bad, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/boom.c3d", testrec.Ghostly(testrec.Options{})))
		if err != nil {
			t.Fatal(err)
		}
		good, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/fine.c3d", testrec.Ghostly(testrec.Options{})))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, good.Session.ID, store.StatusCompleted, 30*time.Second)
		s := waitFor(t, st, bad.Session.ID, store.StatusFailed, 60*time.Second)
		if !strings.Contains(s.Error, "injected failure") || calls.Load() != 2 {
			t.Errorf("error %q after %d attempts", s.Error, calls.Load())
		}
	})
}

// An invalid file fails at once: the job is cancelled, not retried.
func TestPipelineInvalidFileFailsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	p := newPipeline(t, st, 5)
	var calls atomic.Int32
	service.SetTestHook(p.svc, func(service.AnalyzeArgs) { calls.Add(1) })
	// Valid header, but 4 s of signal: every channel fails validation.
	out, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/short.c3d", testrec.Ghostly(testrec.Options{Seconds: 4})))
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, st, out.Session.ID, store.StatusFailed, 30*time.Second)
	time.Sleep(1500 * time.Millisecond) // a retry would come within River's first backoff
	if calls.Load() != 1 || !strings.Contains(s.Error, "insufficient") {
		t.Errorf("%d attempts, error %q", calls.Load(), s.Error)
	}
}

// The object disappears between phase 1 and phase 2: retried, then failed
// with a readable error.
func TestPipelineMissingObjectRetriesThenFails(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	p := newPipeline(t, st, 2)
	var calls atomic.Int32
	deleted := make(chan struct{})
	// Hold the job back until the object is gone.
	service.SetTestHook(p.svc, func(service.AnalyzeArgs) { <-deleted; calls.Add(1) })
	ev := p.upload(t, "P001/vanishing.c3d", testrec.Ghostly(testrec.Options{}))
	out, err := p.svc.Ingest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.fs.Delete(context.Background(), "c3d-examples", "P001/vanishing.c3d"); err != nil {
		t.Fatal(err)
	}
	close(deleted)
	s := waitFor(t, st, out.Session.ID, store.StatusFailed, 60*time.Second)
	if !strings.Contains(s.Error, "not found") || calls.Load() != 2 {
		t.Errorf("%d attempts, error %q", calls.Load(), s.Error)
	}
	_ = testenv.Strict
}

// Concurrent webhooks committed in batches, by one transaction at a time
// or by several at once: every object gets exactly one session and one
// job, duplicates within a batch included, each patient's codes are
// gapless, and all complete.
func TestPipelineBatchedConcurrentIngest(t *testing.T) {
	for _, loops := range []int{1, 3} {
		t.Run(fmt.Sprintf("loops=%d", loops), func(t *testing.T) { testBatchedConcurrentIngest(t, loops) })
	}
}

func testBatchedConcurrentIngest(t *testing.T, loops int) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		p := newPipeline(t, st, 3)
		p.svc.Config.CommitLoops = loops
		p.svc.StartBatching()
		rec := testrec.Ghostly(testrec.Options{Seconds: 12})
		const objects = 24
		var evs []service.Event
		for i := 0; i < objects; i++ {
			evs = append(evs, p.upload(t, fmt.Sprintf("P%03d/rec-%02d.c3d", 500+i%3, i), rec))
		}
		type result struct {
			id  string
			err error
		}
		results := make(chan result, 3*objects)
		var wg sync.WaitGroup
		for rep := 0; rep < 3; rep++ { // every object three times, all at once
			for _, ev := range evs {
				wg.Add(1)
				go func(ev service.Event) {
					defer wg.Done()
					out, err := p.svc.Ingest(context.Background(), ev)
					if err != nil {
						results <- result{err: err}
						return
					}
					results <- result{id: out.Session.ID}
				}(ev)
			}
		}
		wg.Wait()
		close(results)
		ids := map[string]int{}
		for r := range results {
			if r.err != nil {
				t.Fatal(r.err)
			}
			ids[r.id]++
		}
		if len(ids) != objects {
			t.Fatalf("%d sessions for %d objects", len(ids), objects)
		}
		codes := map[string]bool{}
		for id, n := range ids {
			if n != 3 {
				t.Errorf("session %s answered %d times, want 3", id, n)
			}
			s := waitFor(t, st, id, store.StatusCompleted, 60*time.Second)
			if codes[s.SessionCode] {
				t.Errorf("session code %s twice", s.SessionCode)
			}
			codes[s.SessionCode] = true
		}
		for i := 0; i < objects; i++ { // eight objects for each of three patients
			if code := fmt.Sprintf("P%03dS%03d", 500+i%3, 1+i/3); !codes[code] {
				t.Errorf("no session %s: codes %v", code, codes)
			}
		}
		var jobs int
		if err := storetest.DB(st).QueryRow(`SELECT count(*) FROM river_job`).Scan(&jobs); err != nil || jobs != objects {
			t.Errorf("%d jobs (%v), want %d", jobs, err, objects)
		}
	})
}
