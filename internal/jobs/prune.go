package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// PruneFinished deletes the rows of finished jobs (completed, cancelled or
// discarded) finalised before before, a batch at a time, and returns how
// many went (in a dry run: how many would). Waiting, scheduled and running
// jobs are never touched. River's own job cleaner does the same in every
// running serve or worker after its retention periods (24 hours for
// completed and cancelled jobs, 7 days for discarded ones); this is for
// one-off maintenance such as emgd purge.
func PruneFinished(ctx context.Context, q Queue, before time.Time, dryRun bool) (int, error) {
	const batch = 500
	n := 0
	params := river.NewJobListParams().
		States(rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderAsc).First(batch)
	for {
		res, err := q.jobList(ctx, params)
		if err != nil {
			return n, fmt.Errorf("jobs: list finished jobs: %w", err)
		}
		var ids []int64
		done := len(res.Jobs) < batch
		for _, j := range res.Jobs {
			if j.FinalizedAt == nil || !j.FinalizedAt.Before(before) {
				done = true
				break
			}
			ids = append(ids, j.ID)
		}
		if len(ids) > 0 {
			if dryRun {
				n += len(ids)
			} else {
				del, err := q.jobDeleteMany(ctx, river.NewJobDeleteManyParams().IDs(ids...).First(len(ids)).
					States(rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded))
				if err != nil {
					return n, fmt.Errorf("jobs: delete finished jobs: %w", err)
				}
				n += len(del.Jobs)
			}
		}
		if done || res.LastCursor == nil {
			return n, nil
		}
		params = params.After(res.LastCursor)
	}
}
