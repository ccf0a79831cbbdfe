package service

import (
	"context"
	"errors"
	"fmt"

	"emgd/internal/jobs"
	"emgd/internal/store"
)

// Kind names the phase-2 job in the queue's tables.
func (AnalyzeArgs) Kind() string { return "emgd_analyze" }

// AnalyzeWorker runs phase 2 as a job: transient errors are retried with
// the queue's backoff; a file or parameters that cannot be analysed cancel
// the job at once; on the last attempt any error or panic marks the session
// failed with its message.
type AnalyzeWorker struct {
	Svc *Service
}

// Register makes w the worker of phase-2 jobs in ws.
func (w *AnalyzeWorker) Register(ws *jobs.Workers) { jobs.Register(ws, w.Work) }

// Work runs one attempt at a phase-2 job.
func (w *AnalyzeWorker) Work(ctx context.Context, job jobs.Job[AnalyzeArgs]) (err error) {
	last := job.LastAttempt()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("analysis panicked: %v", v)
			w.Svc.log().Error("analysis panicked", "session", job.Args.SessionID, "attempt", job.Attempt, "panic", fmt.Sprint(v))
		}
		var perm *PermanentError
		switch {
		case err == nil:
		case errors.As(err, &perm):
			err = jobs.Cancel(err)
		case last:
			// Out of attempts: the session must not stay pending forever.
			if ferr := w.Svc.Fail(context.WithoutCancel(ctx), job.Args.SessionID, fmt.Errorf("gave up after %d %s: %w", job.Attempt, plural(job.Attempt, "attempt", "attempts"), err)); ferr != nil {
				w.Svc.log().Error("could not mark session failed", "session", job.Args.SessionID, "error", ferr)
			}
		default:
			w.Svc.log().Warn("analysis will be retried", "session", job.Args.SessionID, "attempt", job.Attempt, "error", err)
		}
	}()
	if hook := w.Svc.testHook; hook != nil {
		hook(job.Args)
	}
	return w.Svc.Process(ctx, job.Args) // its computation at low priority (Config.AnalysisNice)
}

// RiverQueue enqueues phase-2 jobs on the job queue (River, behind
// internal/jobs).
type RiverQueue struct{ Q jobs.Queue }

// EnqueueManyTx implements ManyQueue.
func (r RiverQueue) EnqueueManyTx(ctx context.Context, tx store.Tx, args []AnalyzeArgs) error {
	params := make([]jobs.Insert, len(args))
	for i, a := range args {
		params[i] = jobs.Insert{Args: a}
	}
	_, err := r.Q.EnqueueManyTx(ctx, tx, params)
	return err
}

// EnqueueTx implements Queue.
func (r RiverQueue) EnqueueTx(ctx context.Context, tx store.Tx, args AnalyzeArgs) error {
	_, err := r.Q.EnqueueTx(ctx, tx, args, nil)
	return err
}
