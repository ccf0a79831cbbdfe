package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresStore is the PostgreSQL backend (pgx, pgxpool).
type PostgresStore struct {
	*impl
	pool *pgxpool.Pool
}

// OpenPostgres connects to PostgreSQL at url (postgres://...) and applies
// migrations.
func OpenPostgres(ctx context.Context, url string, o Options) (*PostgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL URL: %w", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(o.MaxConns)
	}
	if o.Trace != nil {
		cfg.ConnConfig.Tracer = tracer(o.Trace)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect PostgreSQL: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &PostgresStore{pool: pool}
	s.impl = &impl{
		queries: &queries{c: pgxConn{pool}, d: pgDialect{}},
		d:       pgDialect{},
		sqlDB:   db,
		begin: func(ctx context.Context) (*txHandle, error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, err
			}
			return &txHandle{c: pgxConn{tx}, driver: tx, commit: tx.Commit, rollback: tx.Rollback}, nil
		},
		close: func() error {
			err := db.Close()
			pool.Close()
			return err
		},
	}
	if !o.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

type pgxExecutor interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgxConn adapts *pgxpool.Pool and pgx.Tx.
type pgxConn struct{ x pgxExecutor }

func (c pgxConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.x.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (c pgxConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	return c.x.Query(ctx, q, args...)
}

func (c pgxConn) queryRow(ctx context.Context, q string, args ...any) row {
	return c.x.QueryRow(ctx, q, args...)
}

type pgDialect struct{}

func (pgDialect) name() Dialect { return Postgres }

func (pgDialect) ts(t time.Time) any { return t.UTC() }

// wall keeps the wall clock and drops the zone (column type timestamp).
func (pgDialect) wall(t time.Time) any {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).Truncate(time.Microsecond)
}

func (pgDialect) forUpdate() string { return " FOR UPDATE" }

func (pgDialect) classify(err error) errKind {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return errOther
	}
	switch pe.Code {
	case "23505":
		switch pe.ConstraintName {
		case "sessions_session_code_key":
			return errUniqueCode
		case "sessions_object_version_key":
			return errUniqueObject
		}
		return errUnique
	case "23514":
		return errCheck
	case "23503":
		return errForeignKey
	case "22P02", "22007", "22008":
		return errBadValue
	}
	return errOther
}

// pgNameRe is compiled on first use: at init it would cost every command
// about 50 kB (TestOwnPackagesInitLight).
var pgNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`) })

// CreatePostgresDatabase creates the empty database name (lower-case letters,
// digits and _) on the PostgreSQL server of adminURL and returns the URL of
// the new database (adminURL with its path replaced). It is for tools that
// need a fresh database per run, such as emgd-bench.
func CreatePostgresDatabase(ctx context.Context, adminURL, name string) (string, error) {
	if !pgNameRe().MatchString(name) {
		return "", fmt.Errorf("%w: database name %q", ErrInvalidInput, name)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("store: PostgreSQL URL: %w", err)
	}
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("store: connect PostgreSQL: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("store: create database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropPostgresDatabase drops the database name on the server of adminURL,
// closing its connections; a database that does not exist is no error.
func DropPostgresDatabase(ctx context.Context, adminURL, name string) error {
	if !pgNameRe().MatchString(name) {
		return fmt.Errorf("%w: database name %q", ErrInvalidInput, name)
	}
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("store: connect PostgreSQL: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("store: drop database %s: %w", name, err)
	}
	return nil
}

// tracer calls its function once per round trip: each query, each batch.
type tracer func(sql string)

func (t tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t(d.SQL)
	return ctx
}

func (tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	var qs []string
	if d.Batch != nil {
		for _, q := range d.Batch.QueuedQueries {
			qs = append(qs, q.SQL)
		}
	}
	t(strings.Join(qs, ";"))
	return ctx
}

func (tracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (tracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// batchConn is a connection that can send several statements in one round
// trip (PostgreSQL's pipeline).
type batchConn interface {
	sendBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, bool)
}

func (c pgxConn) sendBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, bool) {
	x, ok := c.x.(interface {
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	})
	if !ok {
		return nil, false
	}
	return x.SendBatch(ctx, b), true
}

// createPipelined creates the sessions of rows (codes to allocate) in one
// round trip: the patients' code locks, in a fixed order so that two
// transactions never wait for each other's, then one createSessionSQL per
// row; each statement sees the rows the ones before it inserted. A row
// that inserted nothing (its object version has a session, maybe from an
// earlier row) is looked up, or, when a writer that takes no lock took its
// code, created again on its own.
func (q *queries) createPipelined(ctx context.Context, c batchConn, rows []*newRow) ([]Created, error) {
	var patients []string
	for _, r := range rows {
		patients = append(patients, r.patient)
	}
	slices.Sort(patients)
	patients = slices.Compact(patients)
	b := &pgx.Batch{}
	for _, p := range patients {
		b.Queue(lockCodesSQL, sessionCodeLockClass, p)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		b.Queue(createSessionSQL, q.createArgs(ids[i], r)...)
	}
	br, ok := c.sendBatch(ctx, b)
	if !ok {
		return nil, errors.New("store: this connection cannot send a batch")
	}
	fail := func(err error) ([]Created, error) {
		br.Close()
		return nil, fmt.Errorf("store: create sessions: %w", err)
	}
	for range patients {
		if _, err := br.Exec(); err != nil {
			return fail(err)
		}
	}
	out := make([]Created, len(rows))
	var again []int
	for i := range rows {
		s, err := scanSession(br.QueryRow())
		switch {
		case isNoRows(err):
			again = append(again, i)
		case err != nil:
			return fail(err)
		default:
			out[i] = Created{Session: s, Created: true}
		}
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("store: create sessions: %w", err)
	}
	for _, i := range again {
		r := rows[i]
		s, created, err := q.createSessionLocked(ctx, r.n, r.patient, r.meta, r.recorded, r.timings)
		if err != nil {
			return nil, err
		}
		out[i] = Created{Session: s, Created: created}
	}
	return out, nil
}
