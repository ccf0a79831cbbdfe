package service_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/analysis"
	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// meteredStorage counts the bytes phase 2 reads of each object: streamed
// (GetVersion) and by ranges (OpenVersion). GetVersion of a key in
// waitDeadline returns only once its context is done, as a storage slower
// than the job's time would.
type meteredStorage struct {
	storage.Backend
	streamed, ranged atomic.Int64
	waitDeadline     map[string]bool
}

func (m *meteredStorage) GetVersion(ctx context.Context, bucket, key, version string) (io.ReadCloser, storage.ObjectInfo, error) {
	if m.waitDeadline[key] {
		<-ctx.Done()
		ctx = context.WithoutCancel(ctx) // the read itself succeeds
	}
	rc, info, err := m.Backend.GetVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, info, err
	}
	return &countingReadCloser{rc, &m.streamed}, info, nil
}

func (m *meteredStorage) OpenVersion(ctx context.Context, bucket, key, version string) (storage.Object, error) {
	o, err := m.Backend.OpenVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, err
	}
	return &countingObject{o, &m.ranged}, nil
}

type countingReadCloser struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingObject struct {
	storage.Object
	n *atomic.Int64
}

func (c *countingObject) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Object.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// A file over the analysis limits is refused from its header and
// parameters, read by ranges, before phase 2 copies the object: its session
// fails naming the limit, and the object is never streamed.
func TestPipelineRefusesAFileOverTheLimitsBeforeCopyingIt(t *testing.T) {
	prev := analysis.CurrentLimits()
	analysis.SetLimits(analysis.Limits{MaxSamplesPerChannel: 1000})
	t.Cleanup(func() { analysis.SetLimits(prev) })
	eachDatabase(t, func(t *testing.T, st store.Store) {
		p := newPipeline(t, st, 3)
		ms := &meteredStorage{Backend: p.fs}
		p.svc.Storage = ms
		rec := testrec.Ghostly(testrec.Options{Seconds: 15}) // 14,850 samples per channel, ~240 kB
		out, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/long.c3d", rec))
		if err != nil {
			t.Fatal(err)
		}
		s := waitFor(t, st, out.Session.ID, store.StatusFailed, 30*time.Second)
		if !strings.Contains(s.Error, "over the limit of 1000 samples per channel") {
			t.Errorf("error %q, want the samples limit", s.Error)
		}
		if n := ms.streamed.Load(); n != 0 {
			t.Errorf("%d bytes of the %d-byte object streamed for phase 2, want none", n, len(rec))
		}
		// phase 1's and phase 2's header reads: a few KB each
		if n := ms.ranged.Load(); n > 32<<10 {
			t.Errorf("%d bytes read by ranges, want a few KB", n)
		}
	})
}

// A job past its timeout stops its analysis and frees its worker: the
// analysis returns the context's error instead of running on (and the
// session's last attempt says so), and the next job on the only worker
// completes.
func TestPipelineJobTimeoutStopsTheAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	eachDatabase(t, func(t *testing.T, st store.Store) {
		fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
			t.Fatal(err)
		}
		ms := &meteredStorage{Backend: fs, waitDeadline: map[string]bool{"P001/slow.c3d": true}}
		svc := &service.Service{Store: st, Storage: ms}
		workers := jobs.NewWorkers()
		(&service.AnalyzeWorker{Svc: svc}).Register(workers)
		q, err := jobs.New(context.Background(), st, jobs.Config{Workers: workers, MaxAttempts: 1, MaxWorkers: 1,
			JobTimeout: 2 * time.Second, RescueStuckJobsAfter: time.Minute, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		svc.Queue = service.RiverQueue{Q: q}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop := func() {
			once.Do(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				q.Stop(ctx)
			})
		}
		t.Cleanup(stop)
		p := &pipeline{svc: svc, st: st, fs: fs}

		slow, err := svc.Ingest(context.Background(), p.upload(t, "P001/slow.c3d", testrec.Ghostly(testrec.Options{Seconds: 60})))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, slow.Session.ID, store.StatusProcessing, 30*time.Second) // on the only worker
		next, err := svc.Ingest(context.Background(), p.upload(t, "P001/next.c3d", testrec.Ghostly(testrec.Options{})))
		if err != nil {
			t.Fatal(err)
		}
		s := waitFor(t, st, slow.Session.ID, store.StatusFailed, 60*time.Second)
		if !strings.Contains(s.Error, "the analysis was stopped before it finished (context deadline exceeded)") {
			t.Errorf("timed-out session: error %q, want the analysis stopped by the job's deadline", s.Error)
		}
		waitFor(t, st, next.Session.ID, store.StatusCompleted, 60*time.Second)
		stop()
	})
}
