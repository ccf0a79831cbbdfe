package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// markArgs is a job that completes a session, standing in for the analysis.
type markArgs struct {
	SessionID string `json:"session_id"`
}

func (markArgs) Kind() string { return "emgd_test_mark_completed" }

// markWorker is the same code on both databases.
type markWorker struct {
	st   store.Store
	runs atomic.Int32
}

func (w *markWorker) Work(ctx context.Context, job jobs.Job[markArgs]) error {
	w.runs.Add(1)
	_, err := w.st.SetStatus(ctx, job.Args.SessionID, store.StatusUpdate{Status: store.StatusCompleted,
		Timings: []byte(fmt.Sprintf(`{"attempt": %d}`, job.Attempt))})
	return err
}

// backends opens two stores on one database, as two processes (a serve and a
// worker) would: the second is for the worker.
type backend struct {
	name string
	open func(t *testing.T) (store.Store, store.Store)
}

func sqliteBackend(maxConns int) func(t *testing.T) (store.Store, store.Store) {
	return func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "emgd.db")
		open := func() store.Store {
			s, err := store.OpenSQLite(context.Background(), path, store.Options{MaxConns: maxConns})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open()
	}
}

var backends = []backend{
	{"SQLite", sqliteBackend(1)},
	// A pool of several connections, where River's statements meet
	// SQLite's lock instead of the pool's queue.
	{"SQLite8Conns", sqliteBackend(8)},
	{"Postgres", func(t *testing.T) (store.Store, store.Store) {
		u := storetest.NewPostgresDatabase(t)
		open := func() store.Store {
			s, err := store.OpenPostgres(context.Background(), u, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open()
	}},
}

func eachBackend(t *testing.T, fn func(t *testing.T, api, worker store.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			api, worker := b.open(t)
			fn(t, api, worker)
		})
	}
}

func startWorker(t *testing.T, st store.Store, cfg jobs.Config) (*markWorker, jobs.Queue) {
	t.Helper()
	w := &markWorker{st: st}
	workers := jobs.NewWorkers()
	jobs.Register(workers, w.Work)
	cfg.Workers = workers
	cfg.MaxWorkers = 2
	if cfg.FetchPollInterval == 0 {
		cfg.FetchPollInterval = 50 * time.Millisecond
	}
	q, err := jobs.New(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return w, q
}

func waitStatus(t *testing.T, st store.Store, id string, want store.Status, within time.Duration) *store.Session {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := st.GetSession(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s still %s after %s, want %s", s.SessionCode, s.Status, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countJobs(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	if err := storetest.DB(st).QueryRow("SELECT COUNT(*) FROM river_job").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJobInSessionTransaction: the webhook's transaction inserts the session
// and enqueues its job; a worker in another process runs it; a rolled-back
// transaction leaves neither.
func TestJobInSessionTransaction(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, workerStore store.Store) {
		ctx := context.Background()
		// The API side only inserts.
		q, err := jobs.New(ctx, api, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if q.Dialect() != api.Dialect() {
			t.Errorf("queue dialect %s", q.Dialect())
		}
		w, wq := startWorker(t, workerStore, jobs.Config{})
		events, cancel := jobs.SubscribeCompleted(wq)
		defer cancel()

		var sess *store.Session
		err = api.InTx(ctx, func(tx store.Tx) error {
			var err error
			sess, _, err = tx.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/a.c3d", ETag: "e1"})
			if err != nil {
				return err
			}
			_, err = q.EnqueueTx(ctx, tx, markArgs{SessionID: sess.ID}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		done := waitStatus(t, api, sess.ID, store.StatusCompleted, 20*time.Second)
		if string(done.Timings) == "{}" {
			t.Errorf("worker left no timings: %s", done.Timings)
		}
		select {
		case ev := <-events:
			if ev.Job.Kind != (markArgs{}).Kind() {
				t.Errorf("event for %s", ev.Job.Kind)
			}
		case <-time.After(10 * time.Second):
			t.Error("no completion event")
		}

		boom := errors.New("reading the C3D header failed")
		var rolledBack string
		err = api.InTx(ctx, func(tx store.Tx) error {
			s, _, err := tx.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/b.c3d", ETag: "e1"})
			if err != nil {
				return err
			}
			rolledBack = s.ID
			if _, err := q.EnqueueTx(ctx, tx, markArgs{SessionID: s.ID}, nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if _, err := api.GetSession(ctx, rolledBack); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rolled-back session: %v", err)
		}
		if n := countJobs(t, api); n != 1 {
			t.Errorf("%d jobs stored, want 1 (the rolled-back one must vanish)", n)
		}
		// Enqueue outside a caller's transaction works too.
		other := mustCreate(t, api, "P002/c.c3d")
		if _, err := q.Enqueue(ctx, markArgs{SessionID: other.ID}, nil); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, api, other.ID, store.StatusCompleted, 20*time.Second)
		if got := w.runs.Load(); got != 2 {
			t.Errorf("worker ran %d times, want 2", got)
		}
		storetest.AssertNoTimeSeries(t, api)
	})
}

func mustCreate(t *testing.T, st store.Store, key string) *store.Session {
	t.Helper()
	s, _, err := st.CreateSession(context.Background(), store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStuckJobIsRescued: a job left running by a process that died is
// worked again once it has run longer than RescueStuckJobsAfter.
func TestStuckJobIsRescued(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, workerStore store.Store) {
		ctx := context.Background()
		q, err := jobs.New(ctx, api, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		sess := mustCreate(t, api, "P003/stuck.c3d")
		jobID, err := q.Enqueue(ctx, markArgs{SessionID: sess.ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The dead process had fetched it two minutes ago.
		stuck := `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() - interval '2 minutes' WHERE id = $1`
		if api.Dialect() == store.SQLite {
			stuck = `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', '-2 minutes') WHERE id = $1`
		}
		if _, err := storetest.DB(api).Exec(stuck, jobID); err != nil {
			t.Fatal(err)
		}
		startWorker(t, workerStore, jobs.Config{JobTimeout: 20 * time.Second, RescueStuckJobsAfter: 30 * time.Second})
		waitStatus(t, api, sess.ID, store.StatusCompleted, 45*time.Second)
	})
}

func TestConfigChecks(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	if _, err := jobs.New(context.Background(), st, jobs.Config{JobTimeout: time.Minute, RescueStuckJobsAfter: time.Minute}); err == nil {
		t.Error("rescue not after the job timeout was accepted")
	}
	if err := jobs.Migrate(context.Background(), st); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	if jobs.DefaultRescueStuckJobsAfter > 90*time.Second || jobs.DefaultRescueStuckJobsAfter <= jobs.DefaultJobTimeout {
		t.Errorf("default rescue after %s, timeout %s", jobs.DefaultRescueStuckJobsAfter, jobs.DefaultJobTimeout)
	}
}

// TestReplicasMigrateTogether: several processes starting at once on one
// PostgreSQL database all come up.
func TestReplicasMigrateTogether(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := store.OpenPostgres(context.Background(), u, store.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_, err = jobs.New(context.Background(), s, jobs.Config{})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestManyJobsWhileWorking: webhooks keep inserting sessions and jobs from
// several goroutines while the worker completes them; nothing is lost and no
// insert fails on a busy database.
func TestManyJobsWhileWorking(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, workerStore store.Store) {
		ctx := context.Background()
		q, err := jobs.New(ctx, api, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := startWorker(t, workerStore, jobs.Config{})
		const senders, each = 8, 6
		ids := make(chan string, senders*each)
		errs := make(chan error, senders*each)
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					err := api.InTx(ctx, func(tx store.Tx) error {
						s, _, err := tx.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples",
							ObjectKey: fmt.Sprintf("P%03d/%d-%d.c3d", g%3, g, i), ETag: "e"})
						if err != nil {
							return err
						}
						ids <- s.ID
						_, err = q.EnqueueTx(ctx, tx, markArgs{SessionID: s.ID}, nil)
						return err
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(ids)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for id := range ids {
			waitStatus(t, api, id, store.StatusCompleted, 30*time.Second)
		}
		if got := w.runs.Load(); got != senders*each {
			t.Errorf("worker ran %d jobs, want %d", got, senders*each)
		}
	})
}
