package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// newIdlePipeline is the service with an insert-only queue: jobs wait, and
// the test moves them to the states a crash leaves.
func newIdlePipeline(t *testing.T, st store.Store) *pipeline {
	t.Helper()
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(context.Background(), st, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{svc: &service.Service{Store: st, Storage: fs, Queue: service.RiverQueue{Q: q}}, st: st, fs: fs}
}

func analyzeJobIDs(t *testing.T, st store.Store, sessionID string) []int64 {
	t.Helper()
	rows, err := storetest.DB(st).QueryContext(context.Background(),
		`SELECT id FROM river_job WHERE kind = 'emgd_analyze' AND args ->> 'session_id' = $1 ORDER BY id`, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// endJob moves a job to a final state on its last attempt, as River leaves
// it: errText is the attempt's error ("" for none; jobs.RescuedError when
// the rescuer ended it because its process died).
func endJob(t *testing.T, st store.Store, id int64, state, errText string) {
	t.Helper()
	errJSON := fmt.Sprintf(`{"at":"2026-01-01T00:00:00Z","attempt":1,"error":%q,"trace":""}`, errText)
	q := `UPDATE river_job SET state = $1, attempt = 1, max_attempts = 1, attempted_at = now(), finalized_at = now(),
		errors = CASE WHEN $2 = '' THEN errors ELSE array_append(errors, $3::jsonb) END WHERE id = $4`
	if st.Dialect() == store.SQLite {
		q = `UPDATE river_job SET state = $1, attempt = 1, max_attempts = 1,
			attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), finalized_at = strftime('%Y-%m-%d %H:%M:%f', 'now'),
			errors = CASE WHEN $2 = '' THEN errors ELSE jsonb(json_array(json($3))) END WHERE id = $4`
	}
	if _, err := storetest.DB(st).ExecContext(context.Background(), q, state, errText, errJSON, id); err != nil {
		t.Fatal(err)
	}
}

// A session whose job ended without emgd code marking it (the process died
// during the job's last attempt, so River discarded it at rescue; or the
// session could not be written when the job gave up; or the job was
// cancelled, or vanished) is failed by one sweep with a message saying what
// happened. Sessions whose job may still run, including one sent for
// reanalysis after its first job ended, are left alone; a dry run changes
// nothing; a second sweep finds nothing; sweeps racing fail each session once.
// Before the sweep existed, such sessions stayed pending or processing.
func TestSweepFailsStrandedSessions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newIdlePipeline(t, st)
		rec := testrec.Ghostly(testrec.Options{Seed: 3, Seconds: 4})
		ingest := func(name string, status store.Status) *store.Session {
			t.Helper()
			out, err := p.svc.Ingest(ctx, p.upload(t, "P001/"+name+".c3d", rec))
			if err != nil || !out.Created {
				t.Fatalf("%s: %v %+v", name, err, out)
			}
			if status != store.StatusPending {
				if _, err := st.SetStatus(ctx, out.Session.ID, store.StatusUpdate{Status: status}); err != nil {
					t.Fatal(err)
				}
			}
			return out.Session
		}
		jobOf := func(s *store.Session) int64 {
			t.Helper()
			ids := analyzeJobIDs(t, st, s.ID)
			if len(ids) != 1 {
				t.Fatalf("%s has %d jobs", s.SessionCode, len(ids))
			}
			return ids[0]
		}
		rescued := ingest("rescued", store.StatusProcessing)
		endJob(t, st, jobOf(rescued), "discarded", jobs.RescuedError)
		gaveUp := ingest("gave-up", store.StatusProcessing)
		endJob(t, st, jobOf(gaveUp), "discarded", "storage: connection refused")
		cancelled := ingest("cancelled", store.StatusPending)
		endJob(t, st, jobOf(cancelled), "cancelled", "")
		completedJob := ingest("completed-job", store.StatusProcessing)
		endJob(t, st, jobOf(completedJob), "completed", "")
		missing := ingest("missing", store.StatusPending)
		if _, err := storetest.DB(st).ExecContext(ctx, `DELETE FROM river_job WHERE id = $1`, jobOf(missing)); err != nil {
			t.Fatal(err)
		}
		waiting := ingest("waiting", store.StatusPending)
		running := ingest("running", store.StatusProcessing)
		if _, err := storetest.DB(st).ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = created_at WHERE id = $1`, jobOf(running)); err != nil {
			t.Fatal(err)
		}
		// Sent for reanalysis after its first job was discarded: a new job waits.
		again := ingest("again", store.StatusProcessing)
		endJob(t, st, jobOf(again), "discarded", jobs.RescuedError)
		if err := st.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.SetStatus(ctx, again.ID, store.StatusUpdate{Status: store.StatusPending}); err != nil {
				return err
			}
			return p.svc.Queue.EnqueueTx(ctx, tx, service.AnalyzeArgs{SessionID: again.ID})
		}); err != nil {
			t.Fatal(err)
		}
		// Finished sessions are not the sweep's, whatever their job.
		done := ingest("done", store.StatusCompleted)
		endJob(t, st, jobOf(done), "discarded", jobs.RescuedError)

		want := map[string]string{ // session id -> job state
			rescued.ID: "discarded", gaveUp.ID: "discarded", cancelled.ID: "cancelled", completedJob.ID: "completed",
		}
		check := func(rep *service.SweepReport, want map[string]string) {
			t.Helper()
			got := map[string]string{}
			for _, s := range rep.Stranded {
				got[s.SessionID] = s.JobState
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("stranded %v, want %v", rep.Stranded, want)
			}
		}
		// The missing job is not counted within the grace.
		rep, err := p.svc.Sweep(ctx, service.SweepOptions{DryRun: true, Grace: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		check(rep, want)
		if rep.Unfinished != 8 {
			t.Errorf("%d unfinished sessions looked at, want 8", rep.Unfinished)
		}
		for id := range want {
			if s, _ := st.GetSession(ctx, id); s.Status == store.StatusFailed {
				t.Fatalf("dry run failed %s", s.SessionCode)
			}
		}

		want[missing.ID] = "missing"
		rep, err = p.svc.Sweep(ctx, service.SweepOptions{Grace: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		check(rep, want)
		wantMsg := map[string]string{
			rescued.ID:      "the analysis was interrupted (the worker process stopped: restarted, out of memory or lost) and gave up after 1 attempt; recalculate the session to try again",
			gaveUp.ID:       "the analysis gave up after 1 attempt: storage: connection refused; recalculate the session to try again",
			cancelled.ID:    "the analysis was cancelled; recalculate the session to try again",
			completedJob.ID: "the analysis ended without recording its result; recalculate the session to try again",
			missing.ID:      "the analysis was lost: its job is no longer in the queue; recalculate the session to try again",
		}
		for id, msg := range wantMsg {
			s, err := st.GetSession(ctx, id)
			if err != nil || s.Status != store.StatusFailed || s.Error != msg || s.ProcessedAt == nil {
				t.Errorf("%s: %s %q (%v), want failed %q", s.SessionCode, s.Status, s.Error, err, msg)
			}
		}
		for _, s := range []*store.Session{waiting, running, again, done} {
			cur, _ := st.GetSession(ctx, s.ID)
			if cur.Status == store.StatusFailed || cur.Error != "" {
				t.Errorf("%s was failed: %q", cur.SessionCode, cur.Error)
			}
		}

		rep, err = p.svc.Sweep(ctx, service.SweepOptions{Grace: time.Nanosecond})
		if err != nil || len(rep.Stranded) != 0 || rep.Unfinished != 3 {
			t.Fatalf("second sweep: %+v %v", rep, err)
		}

		// Replicas sweeping at once fail each stranded session once.
		var ids []string
		for i := range 5 {
			s := ingest(fmt.Sprintf("raced-%d", i), store.StatusProcessing)
			endJob(t, st, jobOf(s), "discarded", jobs.RescuedError)
			ids = append(ids, s.ID)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		failed := map[string]int{}
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := p.svc.Sweep(ctx, service.SweepOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, s := range rep.Stranded {
					failed[s.SessionID]++
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			s, _ := st.GetSession(ctx, id)
			if failed[id] != 1 || s.Status != store.StatusFailed || !strings.Contains(s.Error, "interrupted") {
				t.Errorf("%s failed by %d sweeps: %s %q", s.SessionCode, failed[id], s.Status, s.Error)
			}
		}
	})
}

// Sweep pages through more unfinished sessions than one page holds.
func TestSweepPages(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	ctx := context.Background()
	p := newIdlePipeline(t, st)
	rec := testrec.Ghostly(testrec.Options{Seed: 3, Seconds: 2})
	const n = 230
	for i := range n {
		out, err := p.svc.Ingest(ctx, p.upload(t, fmt.Sprintf("P002/s%03d.c3d", i), rec))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			endJob(t, st, analyzeJobIDs(t, st, out.Session.ID)[0], "discarded", jobs.RescuedError)
		}
	}
	rep, err := p.svc.Sweep(ctx, service.SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unfinished != n || len(rep.Stranded) != (n+1)/2 {
		t.Fatalf("%d unfinished, %d stranded; want %d, %d", rep.Unfinished, len(rep.Stranded), n, (n+1)/2)
	}
}
