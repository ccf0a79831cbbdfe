package service_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// A job that runs again after its result was stored (its process died before
// the queue recorded it as done, and the job was rescued) leaves the session
// completed and its analysis untouched.
func TestPipelineRescuedJobAfterResultIsNoop(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		p := newPipeline(t, st, 3)
		var calls atomic.Int32
		service.SetTestHook(p.svc, func(service.AnalyzeArgs) { calls.Add(1) })
		out, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/Ghostly_Emg_20240101_10-00-00-0001.c3d", testrec.Ghostly(testrec.Options{Seed: 5})))
		if err != nil {
			t.Fatal(err)
		}
		id := out.Session.ID
		first := waitFor(t, st, id, store.StatusCompleted, 30*time.Second)
		a1, err := st.CurrentAnalysis(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		// The same job again, as the rescuer would run it.
		if err := st.InTx(context.Background(), func(tx store.Tx) error {
			return p.svc.Queue.EnqueueTx(context.Background(), tx, service.AnalyzeArgs{SessionID: id})
		}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for calls.Load() < 2 || countJobs(t, st, "completed") < 2 {
			s, err := st.GetSession(context.Background(), id)
			if err != nil || s.Status != store.StatusCompleted {
				t.Fatalf("session went to %v (%v) while the job re-ran", s.Status, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("second job not done: %d calls", calls.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
		s, _ := st.GetSession(context.Background(), id)
		a2, err := st.CurrentAnalysis(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != store.StatusCompleted || !s.UpdatedAt.Equal(first.UpdatedAt) || !a2.CreatedAt.Equal(a1.CreatedAt) {
			t.Errorf("re-run changed the session (%s, updated %v -> %v) or its analysis (created %v -> %v)",
				s.Status, first.UpdatedAt, s.UpdatedAt, a1.CreatedAt, a2.CreatedAt)
		}
	})
}

func countJobs(t *testing.T, st store.Store, state string) int {
	t.Helper()
	var n int
	if err := storetest.DB(st).QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = '`+state+`'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
