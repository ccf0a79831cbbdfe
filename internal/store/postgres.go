package store

import (
	"context"
	"errors"
	"fmt"
	"time"

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
