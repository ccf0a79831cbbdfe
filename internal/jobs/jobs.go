// Package jobs is emgd's durable job queue: River on the store's own
// database (riversqlite on SQLite, riverpgxv5 on PostgreSQL).
//
// Job code is the same on both: workers are ordinary river.Worker values
// registered in a river.Workers bundle, and jobs are enqueued through Queue,
// whose EnqueueTx takes a store.Tx so that a session and its job are
// committed together:
//
//	err := st.InTx(ctx, func(tx store.Tx) error {
//		sess, created, err := tx.CreateSession(ctx, n)
//		if err != nil || !created {
//			return err
//		}
//		_, err = q.EnqueueTx(ctx, tx, AnalyzeArgs{SessionID: sess.ID}, nil)
//		return err
//	})
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"emgd/internal/store"
)

// Defaults chosen so that the jobs of a process that died are picked up
// again about a minute later: River rescues a running job once it has run
// for RescueStuckJobsAfter, which must exceed the job timeout.
const (
	DefaultJobTimeout           = 45 * time.Second
	DefaultRescueStuckJobsAfter = DefaultJobTimeout + 15*time.Second
	DefaultMaxAttempts          = 5
	// DefaultFetchPollInterval bounds how long a job inserted by another
	// process waits before a worker sees it.
	DefaultFetchPollInterval = 250 * time.Millisecond
	// DefaultFetchCooldown is the shortest time between two fetches. A
	// worker fetches again as soon as a job finishes, so this bounds the
	// throughput of short jobs: at most MaxWorkers jobs per cooldown
	// (River's own default of 100 ms caps two workers at 20 jobs a second).
	DefaultFetchCooldown = 5 * time.Millisecond
)

// Config configures New.
type Config struct {
	// Workers holds the job kinds this process can work. Required when
	// Queues is set; may be nil for an insert-only queue.
	Workers *river.Workers
	// Queues maps queue names to their concurrency. Nil makes an
	// insert-only queue (Start then does nothing).
	Queues map[string]river.QueueConfig
	// JobTimeout, RescueStuckJobsAfter, MaxAttempts and FetchPollInterval
	// default to the constants above.
	JobTimeout           time.Duration
	RescueStuckJobsAfter time.Duration
	MaxAttempts          int
	FetchPollInterval    time.Duration
	// FetchCooldown defaults to DefaultFetchCooldown.
	FetchCooldown time.Duration
	// Logger defaults to slog.Default() at warning level and above.
	Logger *slog.Logger
	// ErrorHandler is told about job errors and panics (e.g. to mark a
	// session failed on the last attempt).
	ErrorHandler river.ErrorHandler
	// NoMigrate skips applying River's migrations in New.
	NoMigrate bool
	// ID names this client in River's tables (defaults to River's).
	ID string
}

// Queue enqueues and works jobs on the store's database.
type Queue interface {
	// EnqueueTx inserts a job inside tx; it is visible to workers only once
	// tx commits, and vanishes with it on rollback.
	EnqueueTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// EnqueueManyTx inserts several jobs inside tx in one River call (on
	// SQLite about a sixth of the cost per job of one EnqueueTx each).
	EnqueueManyTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	// Enqueue inserts a job in a transaction of its own.
	Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// Start starts working the configured queues.
	Start(ctx context.Context) error
	// Stop stops fetching new jobs and waits for running ones until ctx ends;
	// jobs still unfinished then are left to be rescued.
	Stop(ctx context.Context) error
	// StopAndCancel cancels running jobs' contexts and waits for them.
	StopAndCancel(ctx context.Context) error
	// Subscribe delivers events of the given kinds (completed, failed, ...).
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	// Dialect is the database the queue lives in.
	Dialect() store.Dialect
}

// New makes a River client on st's database (after applying River's
// migrations unless cfg.NoMigrate).
func New(ctx context.Context, st store.Store, cfg Config) (Queue, error) {
	rc := &river.Config{
		Workers:              cfg.Workers,
		Queues:               cfg.Queues,
		JobTimeout:           orDefault(cfg.JobTimeout, DefaultJobTimeout),
		RescueStuckJobsAfter: orDefault(cfg.RescueStuckJobsAfter, DefaultRescueStuckJobsAfter),
		MaxAttempts:          cfg.MaxAttempts,
		FetchPollInterval:    orDefault(cfg.FetchPollInterval, DefaultFetchPollInterval),
		Logger:               cfg.Logger,
		ErrorHandler:         cfg.ErrorHandler,
		ID:                   cfg.ID,
	}
	if rc.MaxAttempts == 0 {
		rc.MaxAttempts = DefaultMaxAttempts
	}
	if rc.RescueStuckJobsAfter <= rc.JobTimeout {
		return nil, fmt.Errorf("jobs: RescueStuckJobsAfter (%s) must exceed JobTimeout (%s)", rc.RescueStuckJobsAfter, rc.JobTimeout)
	}
	rc.FetchCooldown = min(orDefault(cfg.FetchCooldown, DefaultFetchCooldown), rc.FetchPollInterval)
	if rc.Logger == nil {
		rc.Logger = warnLogger()
	}
	switch s := st.(type) {
	case *store.SQLiteStore:
		return newQueue(ctx, st, riversqlite.New(s.DB()), rc, cfg.NoMigrate, func(tx store.Tx) (*sql.Tx, error) {
			t, ok := tx.Driver().(*sql.Tx)
			if !ok {
				return nil, fmt.Errorf("jobs: SQLite transaction is a %T", tx.Driver())
			}
			return t, nil
		})
	case *store.PostgresStore:
		return newQueue(ctx, st, riverpgxv5.New(s.Pool()), rc, cfg.NoMigrate, func(tx store.Tx) (pgx.Tx, error) {
			t, ok := tx.Driver().(pgx.Tx)
			if !ok {
				return nil, fmt.Errorf("jobs: PostgreSQL transaction is a %T", tx.Driver())
			}
			return t, nil
		})
	}
	return nil, fmt.Errorf("jobs: no River driver for store %T", st)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// queue is Queue over one River driver; TTx is the driver's transaction.
type queue[TTx any] struct {
	st     store.Store
	client *river.Client[TTx]
	unwrap func(store.Tx) (TTx, error)
	works  bool // has queues to work
}

func newQueue[TTx any](ctx context.Context, st store.Store, driver riverdriver.Driver[TTx], rc *river.Config,
	noMigrate bool, unwrap func(store.Tx) (TTx, error)) (*queue[TTx], error) {
	if !noMigrate {
		if err := migrate(ctx, st, driver, unwrap); err != nil {
			return nil, err
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &queue[TTx]{st: st, client: client, unwrap: unwrap, works: len(rc.Queues) > 0}, nil
}

// migrate applies River's migrations. On PostgreSQL each version runs in a
// transaction of its own (a new enum value cannot be used in the transaction
// that adds it), under a session advisory lock that serialises replicas
// starting together. On SQLite they run in one write transaction, which is
// exclusive already.
func migrate[TTx any](ctx context.Context, st store.Store, driver riverdriver.Driver[TTx], unwrap func(store.Tx) (TTx, error)) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: warnLogger()})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if ps, ok := st.(*store.PostgresStore); ok {
		conn, err := ps.Pool().Acquire(ctx)
		if err != nil {
			return fmt.Errorf("jobs: River migrations: %w", err)
		}
		defer conn.Release()
		const lockSQL = `SELECT pg_advisory_lock(hashtext('emgd river migrations'))`
		if _, err := conn.Exec(ctx, lockSQL); err != nil {
			return fmt.Errorf("jobs: River migrations: lock: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('emgd river migrations'))`)
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("jobs: River migrations: %w", err)
		}
		return nil
	}
	err = st.InTx(ctx, func(tx store.Tx) error {
		t, err := unwrap(tx)
		if err != nil {
			return err
		}
		_, err = m.MigrateTx(ctx, t, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("jobs: River migrations: %w", err)
	}
	return nil
}

// Migrate applies River's migrations to st's database.
func Migrate(ctx context.Context, st store.Store) error {
	switch s := st.(type) {
	case *store.SQLiteStore:
		return migrate(ctx, st, riversqlite.New(s.DB()), func(tx store.Tx) (*sql.Tx, error) { return tx.Driver().(*sql.Tx), nil })
	case *store.PostgresStore:
		return migrate(ctx, st, riverpgxv5.New(s.Pool()), func(tx store.Tx) (pgx.Tx, error) { return tx.Driver().(pgx.Tx), nil })
	}
	return fmt.Errorf("jobs: no River driver for store %T", st)
}

func (q *queue[TTx]) EnqueueTx(ctx context.Context, tx store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	t, err := q.unwrap(tx)
	if err != nil {
		return nil, err
	}
	res, err := q.client.InsertTx(ctx, t, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return res, nil
}

func (q *queue[TTx]) EnqueueManyTx(ctx context.Context, tx store.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	t, err := q.unwrap(tx)
	if err != nil {
		return nil, err
	}
	res, err := q.client.InsertManyTx(ctx, t, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %d jobs: %w", len(params), err)
	}
	return res, nil
}

func (q *queue[TTx]) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (res *rivertype.JobInsertResult, err error) {
	err = q.st.InTx(ctx, func(tx store.Tx) error {
		res, err = q.EnqueueTx(ctx, tx, args, opts)
		return err
	})
	return res, err
}

func (q *queue[TTx]) Start(ctx context.Context) error {
	if !q.works {
		return nil
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

func (q *queue[TTx]) Stop(ctx context.Context) error {
	if !q.works {
		return nil
	}
	return q.client.Stop(ctx)
}

func (q *queue[TTx]) StopAndCancel(ctx context.Context) error {
	if !q.works {
		return nil
	}
	return q.client.StopAndCancel(ctx)
}
func (q *queue[TTx]) Dialect() store.Dialect { return q.st.Dialect() }

func (q *queue[TTx]) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return q.client.Subscribe(kinds...)
}

// warnLogger passes River's warnings and errors to the default logger.
func warnLogger() *slog.Logger {
	return slog.New(minLevel{slog.Default().Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
