package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/store"
)

// DefaultSweepGrace is how long a pending or processing session with no
// analysis job at all (not even a finished one) is left before Sweep fails
// it. Phase 1 commits a session with its job, so a session never lacks one
// in normal running; the grace only keeps the sweep clear of anything in
// flight.
const DefaultSweepGrace = time.Minute

// SweepOptions configures Sweep.
type SweepOptions struct {
	// Grace applies to sessions without any job; default DefaultSweepGrace.
	Grace time.Duration
	// DryRun reports the stranded sessions without changing them.
	DryRun bool
}

// StrandedSession is a session whose analysis will never end on its own:
// it is pending or processing, and no job that could still run is left for
// it.
type StrandedSession struct {
	SessionID   string `json:"session_id"`
	SessionCode string `json:"session_code"`
	// Status is the session's status before the sweep.
	Status string `json:"status"`
	// JobState is the state of its newest job (discarded, cancelled or
	// completed), or "missing" when it has none.
	JobState string `json:"job_state"`
	// Error is the message the session is failed with.
	Error string `json:"error"`
}

// SweepReport tells what Sweep found and did.
type SweepReport struct {
	DryRun bool `json:"dry_run"`
	// Unfinished counts the pending and processing sessions looked at.
	Unfinished int `json:"unfinished"`
	// Stranded are the sessions failed (in a dry run: that would be).
	Stranded []StrandedSession `json:"stranded"`
}

// analyzeJobLister lists phase-2 jobs by session; RiverQueue is one.
type analyzeJobLister interface {
	analyzeJobs(ctx context.Context, sessionIDs []string, states ...jobs.State) ([]jobs.JobInfo, error)
}

func (r RiverQueue) analyzeJobs(ctx context.Context, sessionIDs []string, states ...jobs.State) ([]jobs.JobInfo, error) {
	return jobs.JobsByArg(ctx, r.Q, AnalyzeArgs{}.Kind(), "session_id", sessionIDs, states...)
}

// sweepPage is how many sessions Sweep reads at a time.
const sweepPage = 100

// Sweep fails every session stranded by a crash: a session still pending or
// processing whose jobs have all ended (River discards a job whose process
// died during its last attempt without running emgd code, so nothing else
// would ever mark the session) or which has no job at all. Each is failed
// with a message that says what happened. Sessions with a job that may
// still run (waiting, scheduled, retrying or running, including one not yet
// rescued after its process died) are left to it.
//
// Safe on several replicas at once and beside every other writer: a
// session is read before its jobs, and is failed only if it has not changed
// since (store.FailUnfinished), so a session sent for reanalysis or
// finished meanwhile is left alone, and racing sweeps fail it once.
func (s *Service) Sweep(ctx context.Context, o SweepOptions) (*SweepReport, error) {
	lister, ok := s.Queue.(analyzeJobLister)
	if !ok {
		return nil, fmt.Errorf("sweep: the job queue (%T) cannot list jobs", s.Queue)
	}
	grace := o.Grace
	if grace <= 0 {
		grace = DefaultSweepGrace
	}
	rep := &SweepReport{DryRun: o.DryRun, Stranded: []StrandedSession{}}
	var opts store.UnfinishedOptions
	opts.Limit = sweepPage
	for {
		page, err := s.Store.ListUnfinished(ctx, opts)
		if err != nil {
			return rep, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
		}
		started := time.Now()
		rep.Unfinished += len(page)
		if err := s.sweepPage(ctx, lister, page, grace, started, o.DryRun, rep); err != nil {
			return rep, err
		}
		if len(page) < sweepPage {
			return rep, nil
		}
		last := page[len(page)-1]
		opts.AfterCreatedAt, opts.AfterID = last.CreatedAt, last.ID
	}
}

func (s *Service) sweepPage(ctx context.Context, lister analyzeJobLister, page []store.Session, grace time.Duration,
	now time.Time, dryRun bool, rep *SweepReport) error {
	if len(page) == 0 {
		return nil
	}
	ids := make([]string, len(page))
	for i, sess := range page {
		ids[i] = sess.ID
	}
	live, err := lister.analyzeJobs(ctx, ids, jobs.LiveStates...)
	if err != nil {
		return fmt.Errorf("%w: job queue: %v", ErrUnavailable, err)
	}
	hasLive := map[string]bool{}
	for _, j := range live {
		hasLive[j.Arg] = true
	}
	var idle []store.Session
	var idleIDs []string
	for _, sess := range page {
		if !hasLive[sess.ID] {
			idle = append(idle, sess)
			idleIDs = append(idleIDs, sess.ID)
		}
	}
	if len(idle) == 0 {
		return nil
	}
	final, err := lister.analyzeJobs(ctx, idleIDs, jobs.FinalStates...)
	if err != nil {
		return fmt.Errorf("%w: job queue: %v", ErrUnavailable, err)
	}
	newest := map[string]jobs.JobInfo{}
	for _, j := range final {
		if cur, ok := newest[j.Arg]; !ok || j.ID > cur.ID {
			newest[j.Arg] = j
		}
	}
	for _, sess := range idle {
		j, hasJob := newest[sess.ID]
		if !hasJob && now.Sub(sess.UpdatedAt) < grace {
			continue
		}
		item := StrandedSession{SessionID: sess.ID, SessionCode: sess.SessionCode, Status: string(sess.Status),
			JobState: "missing", Error: StrandedMessage(j, hasJob)}
		if hasJob {
			item.JobState = string(j.State)
		}
		if !dryRun {
			done, err := s.Store.FailUnfinished(ctx, sess.ID, sess.UpdatedAt, item.Error)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("%w: database: %v", ErrUnavailable, err)
			}
			if !done {
				continue // changed meanwhile: analysed, failed or sent again
			}
			if s.Metrics != nil {
				s.Metrics.Failures.Inc()
			}
			s.log().Warn("stranded session failed", "session", sess.SessionCode, "was", sess.Status,
				"job", item.JobState, "error", item.Error)
		}
		rep.Stranded = append(rep.Stranded, item)
	}
	return nil
}

// StrandedMessage is the error a stranded session is failed with, from its
// newest finished job (hasJob false: it has none), in words for a clinic.
func StrandedMessage(j jobs.JobInfo, hasJob bool) string {
	const again = "; recalculate the session to try again"
	switch {
	case !hasJob:
		return "the analysis was lost: its job is no longer in the queue" + again
	case j.State == jobs.StateDiscarded && j.Rescued:
		return fmt.Sprintf("the analysis was interrupted (the worker process stopped: restarted, out of memory or lost) and gave up after %d %s%s",
			j.Attempt, plural(j.Attempt, "attempt", "attempts"), again)
	case j.State == jobs.StateDiscarded:
		msg := fmt.Sprintf("the analysis gave up after %d %s", j.Attempt, plural(j.Attempt, "attempt", "attempts"))
		if j.LastError != "" {
			msg += ": " + j.LastError
		}
		return msg + again
	case j.State == jobs.StateCancelled:
		msg := "the analysis was cancelled"
		if j.LastError != "" && !j.Rescued {
			msg += ": " + j.LastError
		}
		return msg + again
	}
	return "the analysis ended without recording its result" + again
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SweepLoop runs Sweep every interval until ctx ends (emgd serve and worker
// run it by default).
func (s *Service) SweepLoop(ctx context.Context, every time.Duration, o SweepOptions, log *slog.Logger) {
	if log == nil {
		log = s.log()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.Sweep(ctx, o)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("sweep of unfinished sessions", "error", err)
			}
			continue
		}
		if len(rep.Stranded) > 0 {
			log.Info("sweep failed stranded sessions", "count", len(rep.Stranded), "unfinished", rep.Unfinished)
		}
	}
}
