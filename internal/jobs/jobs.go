// Package jobs is emgd's durable job queue: River on the store's own
// database (riversqlite on SQLite, riverpgxv5 on PostgreSQL).
//
// It is the only package that imports River: its callers see Args, Job,
// Workers, InsertOpts and Queue, defined here. A worker is a function
// registered for one kind of Args; it returns nil when done, an error to be
// tried again later (up to the queue's MaxAttempts), or Cancel(err) for a
// job that can never succeed:
//
//	ws := jobs.NewWorkers()
//	jobs.Register(ws, func(ctx context.Context, job jobs.Job[AnalyzeArgs]) error { ... })
//	q, err := jobs.New(ctx, st, jobs.Config{Workers: ws, MaxWorkers: 2})
//
// Jobs are enqueued through Queue, whose EnqueueTx takes a store.Tx so that
// a session and its job are committed together:
//
//	err := st.InTx(ctx, func(tx store.Tx) error {
//		sess, created, err := tx.CreateSession(ctx, n)
//		if err != nil || !created {
//			return err
//		}
//		_, err = q.EnqueueTx(ctx, tx, AnalyzeArgs{SessionID: sess.ID}, nil)
//		return err
//	})
//
// The queue reaches the store's driver handles through store.NativeOf and
// store.NativeTx, which exist for this package only.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

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
	// MaxWorkers is set; may be nil for an insert-only queue.
	Workers *Workers
	// MaxWorkers is how many jobs this process works at once. Zero makes an
	// insert-only queue (Start then does nothing).
	MaxWorkers int
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
	// NoMigrate skips applying River's migrations in New.
	NoMigrate bool
	// ID names this client in River's tables (defaults to River's).
	ID string
}

// Args are a job's arguments, stored as JSON; Kind names the job's kind
// (one worker per kind).
type Args interface {
	Kind() string
}

// Job is one attempt at a job.
type Job[T Args] struct {
	ID   int64
	Args T
	// Attempt counts from 1; the job is not tried again after MaxAttempts.
	Attempt     int
	MaxAttempts int
}

// LastAttempt reports whether no attempt follows this one if it fails.
func (j Job[T]) LastAttempt() bool { return j.Attempt >= j.MaxAttempts }

// Cancel marks err as permanent: the job it ends is cancelled, not tried
// again.
func Cancel(err error) error { return river.JobCancel(err) }

// Workers holds the kinds of job a process works.
type Workers struct{ w *river.Workers }

// NewWorkers returns an empty set of workers.
func NewWorkers() *Workers { return &Workers{w: river.NewWorkers()} }

// Register makes work the worker of the jobs of kind T. It panics when
// that kind has a worker already.
func Register[T Args](ws *Workers, work func(ctx context.Context, job Job[T]) error) {
	river.AddWorker(ws.w, &funcWorker[T]{work: work})
}

type funcWorker[T Args] struct {
	river.WorkerDefaults[T]
	work func(context.Context, Job[T]) error
}

func (w *funcWorker[T]) Work(ctx context.Context, j *river.Job[T]) error {
	return w.work(ctx, Job[T]{ID: j.ID, Args: j.Args, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts})
}

// InsertOpts tune one job's insertion.
type InsertOpts struct {
	// ScheduledAt, when set, keeps the job waiting until then.
	ScheduledAt time.Time
	// MaxAttempts, when set, replaces Config.MaxAttempts for this job.
	MaxAttempts int
}

func (o *InsertOpts) river() *river.InsertOpts {
	if o == nil {
		return nil
	}
	return &river.InsertOpts{ScheduledAt: o.ScheduledAt, MaxAttempts: o.MaxAttempts}
}

// Insert is one job of EnqueueManyTx.
type Insert struct {
	Args Args
	Opts *InsertOpts
}

// Queue enqueues and works jobs on the store's database. Only New makes
// one.
type Queue interface {
	// EnqueueTx inserts a job inside tx and returns its id; it is visible
	// to workers only once tx commits, and vanishes with it on rollback.
	EnqueueTx(ctx context.Context, tx store.Tx, args Args, opts *InsertOpts) (int64, error)
	// EnqueueManyTx inserts several jobs inside tx in one River call (on
	// SQLite about a sixth of the cost per job of one EnqueueTx each) and
	// returns their ids.
	EnqueueManyTx(ctx context.Context, tx store.Tx, jobs []Insert) ([]int64, error)
	// Enqueue inserts a job in a transaction of its own.
	Enqueue(ctx context.Context, args Args, opts *InsertOpts) (int64, error)
	// Depth counts the jobs available, scheduled, retryable or running.
	Depth(ctx context.Context) (int, error)
	// Start starts working the configured queues.
	Start(ctx context.Context) error
	// Stop stops fetching new jobs and waits for running ones until ctx ends;
	// jobs still unfinished then are left to be rescued.
	Stop(ctx context.Context) error
	// StopAndCancel cancels running jobs' contexts and waits for them.
	StopAndCancel(ctx context.Context) error
	// Dialect is the database the queue lives in.
	Dialect() store.Dialect

	// The River client's operations JobsByArg and PruneFinished use.
	jobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	jobDeleteMany(ctx context.Context, params *river.JobDeleteManyParams) (*river.JobDeleteManyResult, error)
	subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
}

// New makes a River client on st's database (after applying River's
// migrations unless cfg.NoMigrate).
func New(ctx context.Context, st store.Store, cfg Config) (Queue, error) {
	rc := &river.Config{
		JobTimeout:           orDefault(cfg.JobTimeout, DefaultJobTimeout),
		RescueStuckJobsAfter: orDefault(cfg.RescueStuckJobsAfter, DefaultRescueStuckJobsAfter),
		MaxAttempts:          cfg.MaxAttempts,
		FetchPollInterval:    orDefault(cfg.FetchPollInterval, DefaultFetchPollInterval),
		Logger:               cfg.Logger,
		ID:                   cfg.ID,
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers.w
	}
	if cfg.MaxWorkers > 0 {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
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
	n, ok := store.NativeOf(st)
	if !ok {
		return nil, fmt.Errorf("jobs: no River driver for store %T", st)
	}
	if n.Pool != nil {
		return newQueue(ctx, st, n, riverpgxv5.New(n.Pool), rc, cfg.NoMigrate)
	}
	return newQueue(ctx, st, n, riversqlite.New(n.DB), rc, cfg.NoMigrate)
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
	db     *sql.DB
	client *river.Client[TTx]
	works  bool // has queues to work
}

func newQueue[TTx any](ctx context.Context, st store.Store, n store.Native, driver riverdriver.Driver[TTx], rc *river.Config,
	noMigrate bool) (*queue[TTx], error) {
	if !noMigrate {
		if err := migrate(ctx, n, driver); err != nil {
			return nil, err
		}
	}
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return &queue[TTx]{st: st, db: n.DB, client: client, works: len(rc.Queues) > 0}, nil
}

// unwrap returns the driver's transaction under tx.
func (q *queue[TTx]) unwrap(tx store.Tx) (TTx, error) {
	t, ok := store.NativeTx(tx).(TTx)
	if !ok {
		return t, fmt.Errorf("jobs: a %s queue cannot enqueue in a %T", q.st.Dialect(), tx)
	}
	return t, nil
}

// migrateAttempts bounds the retries of River's migrations on SQLite.
const migrateAttempts = 10

// migrate applies River's migrations, each version in a transaction of its
// own (a new enum value cannot be used in the transaction that adds it). The
// versions already applied are read before those transactions, so processes
// starting together must not both apply one. On PostgreSQL a session
// advisory lock serialises them. SQLite has no such lock: a process that
// lost the race fails on the version the other applied (its transaction,
// version row included, rolls back whole) and reads again; each failure
// means another process made progress. (River's MigrateTx, which ran them
// all in one write transaction and so serialised SQLite processes, is
// deprecated: some versions cannot share a transaction.)
func migrate[TTx any](ctx context.Context, n store.Native, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: warnLogger()})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if n.Pool != nil {
		conn, err := n.Pool.Acquire(ctx)
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
	for attempt := 1; ; attempt++ {
		_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			return nil
		}
		if attempt == migrateAttempts || ctx.Err() != nil {
			return fmt.Errorf("jobs: River migrations: %w", err)
		}
		select {
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("jobs: River migrations: %w", errors.Join(err, ctx.Err()))
		}
	}
}

// Migrate applies River's migrations to st's database.
func Migrate(ctx context.Context, st store.Store) error {
	n, ok := store.NativeOf(st)
	if !ok {
		return fmt.Errorf("jobs: no River driver for store %T", st)
	}
	if n.Pool != nil {
		return migrate(ctx, n, riverpgxv5.New(n.Pool))
	}
	return migrate(ctx, n, riversqlite.New(n.DB))
}

func (q *queue[TTx]) EnqueueTx(ctx context.Context, tx store.Tx, args Args, opts *InsertOpts) (int64, error) {
	t, err := q.unwrap(tx)
	if err != nil {
		return 0, err
	}
	res, err := q.client.InsertTx(ctx, t, args, opts.river())
	if err != nil {
		return 0, fmt.Errorf("jobs: enqueue %s: %w", args.Kind(), err)
	}
	return res.Job.ID, nil
}

func (q *queue[TTx]) EnqueueManyTx(ctx context.Context, tx store.Tx, jobs []Insert) ([]int64, error) {
	t, err := q.unwrap(tx)
	if err != nil {
		return nil, err
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{Args: j.Args, InsertOpts: j.Opts.river()}
	}
	res, err := q.client.InsertManyTx(ctx, t, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: enqueue %d jobs: %w", len(jobs), err)
	}
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.Job.ID
	}
	return ids, nil
}

func (q *queue[TTx]) Enqueue(ctx context.Context, args Args, opts *InsertOpts) (id int64, err error) {
	err = q.st.InTx(ctx, func(tx store.Tx) error {
		id, err = q.EnqueueTx(ctx, tx, args, opts)
		return err
	})
	return id, err
}

func (q *queue[TTx]) Depth(ctx context.Context) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available','scheduled','retryable','running')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("jobs: count jobs: %w", err)
	}
	return n, nil
}

func (q *queue[TTx]) jobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error) {
	return q.client.JobList(ctx, params)
}

func (q *queue[TTx]) jobDeleteMany(ctx context.Context, params *river.JobDeleteManyParams) (*river.JobDeleteManyResult, error) {
	return q.client.JobDeleteMany(ctx, params)
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

func (q *queue[TTx]) subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
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
