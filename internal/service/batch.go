package service

import (
	"context"
	"encoding/json"
	"time"

	"emgd/internal/store"
)

// ManyQueue is a Queue that can also enqueue several jobs in one call.
type ManyQueue interface {
	Queue
	EnqueueManyTx(ctx context.Context, tx store.Tx, args []AnalyzeArgs) error
}

// maxBatch bounds the sessions one phase-1 transaction creates.
const maxBatch = 64

type commitReq struct {
	ns      store.NewSession
	params  json.RawMessage // the job's parameters; nil for the defaults
	sess    *store.Session
	created bool
	err     error
	done    chan struct{}
}

// StartBatching makes phase 1 commit concurrent webhooks together: the
// sessions of every webhook waiting for the database are created in one
// transaction (tx.CreateSessions: on PostgreSQL the patients' code locks and
// all the inserts in one round trip) and their jobs enqueued in one call,
// which costs a fraction of a transaction and a job insert each. On SQLite
// the database has one writer, so webhooks otherwise queue one transaction
// at a time; on PostgreSQL each webhook otherwise pays its own round trips
// and commit. A lone webhook commits at once, as before. It needs a
// ManyQueue; with another queue it does nothing. The commit loops
// (Config.CommitLoops) run for the life of the process.
func (s *Service) StartBatching() {
	if _, ok := s.Queue.(ManyQueue); !ok || s.commits != nil {
		return
	}
	s.commits = make(chan *commitReq, maxBatch*4)
	for range s.commitLoops() {
		go s.commitLoop(s.Queue.(ManyQueue), s.commits)
	}
}

// commitLoops is how many phase-1 transactions run at once: Config's, else
// one on SQLite (one writer: a second would only wait for the first) and
// two on PostgreSQL, where a batch builds while the previous one waits for
// its commit to reach the disk (concurrent transactions on one patient
// take its code lock in turn, so codes stay gapless and unique).
func (s *Service) commitLoops() int {
	switch {
	case s.Config.CommitLoops > 0:
		return s.Config.CommitLoops
	case s.Store.Dialect() == store.Postgres:
		return 2
	}
	return 1
}

// commit creates the session (or finds the existing one) and enqueues its
// job with params when it is new, in one transaction, batched when
// StartBatching ran.
func (s *Service) commit(ctx context.Context, ns store.NewSession, params json.RawMessage) (*store.Session, bool, error) {
	if s.commits == nil {
		return s.commitOne(ctx, ns, params)
	}
	r := &commitReq{ns: ns, params: params, done: make(chan struct{})}
	select {
	case s.commits <- r:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	select {
	case <-r.done:
		return r.sess, r.created, r.err
	case <-ctx.Done():
		// The batch may still commit the session; a retry finds it.
		return nil, false, ctx.Err()
	}
}

func (s *Service) commitOne(ctx context.Context, ns store.NewSession, params json.RawMessage) (sess *store.Session, created bool, err error) {
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		sess, created, err = tx.CreateSession(ctx, ns)
		if err != nil || !created {
			return err
		}
		return s.Queue.EnqueueTx(ctx, tx, AnalyzeArgs{SessionID: sess.ID, Params: params})
	})
	return sess, created, err
}

func (s *Service) commitLoop(q ManyQueue, in <-chan *commitReq) {
	for first := range in {
		batch := []*commitReq{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-in:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if len(batch) == 1 {
			first.sess, first.created, first.err = s.commitOne(ctx, first.ns, first.params)
		} else if err := s.commitMany(ctx, q, batch); err != nil {
			// One bad request must not fail the others: commit each alone.
			for _, r := range batch {
				r.sess, r.created, r.err = s.commitOne(ctx, r.ns, r.params)
			}
		}
		cancel()
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (s *Service) commitMany(ctx context.Context, q ManyQueue, batch []*commitReq) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		ns := make([]store.NewSession, len(batch))
		for i, r := range batch {
			ns[i] = r.ns
		}
		made, err := tx.CreateSessions(ctx, ns)
		if err != nil {
			return err
		}
		var args []AnalyzeArgs
		for i, r := range batch {
			r.sess, r.created, r.err = made[i].Session, made[i].Created, nil
			if r.created {
				args = append(args, AnalyzeArgs{SessionID: r.sess.ID, Params: r.params})
			}
		}
		if len(args) == 0 {
			return nil
		}
		return q.EnqueueManyTx(ctx, tx, args)
	})
}
