package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/store"
)

type cancelArgs struct {
	SessionID string `json:"session_id"`
}

func (cancelArgs) Kind() string { return "emgd_test_cancel" }

// A registered worker sees its job's arguments and attempt counts; a job
// it ends with jobs.Cancel is cancelled at once, not retried; Depth counts
// the jobs waiting (scheduled ones included) and no longer the cancelled.
func TestRegisteredWorkerCancelAndDepth(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, worker store.Store) {
		ctx := context.Background()
		iq, err := jobs.New(ctx, api, jobs.Config{MaxAttempts: 4}) // insert only
		if err != nil {
			t.Fatal(err)
		}
		sess := mustCreate(t, api, "P004/cancel.c3d")
		if _, err := iq.Enqueue(ctx, cancelArgs{SessionID: sess.ID}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := iq.Enqueue(ctx, markArgs{SessionID: sess.ID}, &jobs.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if n, err := iq.Depth(ctx); err != nil || n != 2 {
			t.Fatalf("Depth before work = %d, %v; want 2", n, err)
		}

		seen := make(chan jobs.Job[cancelArgs], 10)
		ws := jobs.NewWorkers()
		jobs.Register(ws, func(ctx context.Context, job jobs.Job[cancelArgs]) error {
			seen <- job
			return jobs.Cancel(errors.New("not a C3D file"))
		})
		wq, err := jobs.New(ctx, worker, jobs.Config{Workers: ws, MaxWorkers: 1, MaxAttempts: 4, FetchPollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := wq.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer wq.Stop(context.Background())
		select {
		case job := <-seen:
			if job.Args.SessionID != sess.ID || job.Attempt != 1 || job.MaxAttempts != 4 || job.LastAttempt() || job.ID == 0 {
				t.Errorf("worker saw %+v", job)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the worker never ran")
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err := jobs.JobsByArg(ctx, iq, cancelArgs{}.Kind(), "session_id", []string{sess.ID})
			if err != nil || len(got) != 1 {
				t.Fatalf("jobs: %+v, %v", got, err)
			}
			if got[0].State == jobs.StateCancelled {
				if got[0].Attempt != 1 || !strings.HasSuffix(got[0].LastError, "not a C3D file") {
					t.Errorf("cancelled job %+v", got[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job still %s", got[0].State)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n, err := iq.Depth(ctx); err != nil || n != 1 {
			t.Errorf("Depth after the cancel = %d, %v; want 1 (the scheduled job)", n, err)
		}
		select {
		case job := <-seen:
			t.Errorf("cancelled job tried again: %+v", job)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// Processes starting together on one new SQLite file (a serve and a worker)
// all apply River's migrations without error: a process whose version
// another applied first reads the applied versions again.
func TestSQLiteProcessesMigrateTogether(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emgd.db")
	const n = 4
	stores := make([]store.Store, n)
	for i := range stores {
		s, err := store.OpenSQLite(context.Background(), path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range stores {
		wg.Go(func() { errs <- jobs.Migrate(context.Background(), s) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	q, err := jobs.New(context.Background(), stores[0], jobs.Config{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := q.Depth(context.Background()); err != nil || d != 0 {
		t.Errorf("Depth = %d, %v", d, err)
	}
}
