package jobs_test

import (
	"context"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// PruneFinished removes finished job rows finalised before the cutoff, and
// never a waiting job or a younger finished one; a dry run counts only.
func TestPruneFinished(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, worker store.Store) {
		ctx := context.Background()
		_, wq := startWorker(t, worker, jobs.Config{})
		var ids []string
		for i := range 3 {
			s := mustCreate(t, api, "P001/prune"+string(rune('a'+i))+".c3d")
			if _, err := wq.Enqueue(ctx, markArgs{SessionID: s.ID}, nil); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		for _, id := range ids {
			waitStatus(t, api, id, store.StatusCompleted, 30*time.Second)
		}
		// A job waiting far in the future stays whatever the cutoff.
		later := time.Now().Add(time.Hour)
		if _, err := wq.Enqueue(ctx, markArgs{SessionID: ids[0]}, &jobs.InsertOpts{ScheduledAt: later}); err != nil {
			t.Fatal(err)
		}
		iq, err := jobs.New(ctx, api, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		waitFinished := time.Now().Add(10 * time.Second)
		for {
			var n int
			storetest.DB(api).QueryRow(`SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&n)
			if n == 3 || time.Now().After(waitFinished) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n, err := jobs.PruneFinished(ctx, iq, time.Now().Add(-time.Hour), false); err != nil || n != 0 {
			t.Fatalf("cutoff before every job: %d %v", n, err)
		}
		if n, err := jobs.PruneFinished(ctx, iq, time.Now().Add(time.Minute), true); err != nil || n != 3 {
			t.Fatalf("dry run: %d %v", n, err)
		}
		if got := countJobs(t, api); got != 4 {
			t.Fatalf("dry run left %d jobs, want 4", got)
		}
		if n, err := jobs.PruneFinished(ctx, iq, time.Now().Add(time.Minute), false); err != nil || n != 3 {
			t.Fatalf("prune: %d %v", n, err)
		}
		if got := countJobs(t, api); got != 1 {
			t.Fatalf("%d jobs left, want the scheduled one", got)
		}
	})
}
