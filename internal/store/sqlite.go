package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteStore is the embedded backend.
type SQLiteStore struct {
	*impl
	db   *sql.DB
	path string
}

// Options tune Open.
type Options struct {
	// MaxConns caps open connections. SQLite defaults to 1 (writers are
	// serialised anyway; River recommends it); PostgreSQL to pgxpool's default.
	MaxConns int
	// NoMigrate skips applying migrations at open.
	NoMigrate bool
}

// OpenSQLite opens (creating it when needed) the SQLite database at path with
// WAL, a busy timeout, foreign keys and immediate write transactions, and
// applies migrations.
func OpenSQLite(ctx context.Context, path string, o Options) (*SQLiteStore, error) {
	if path == "" {
		return nil, errors.New("store: no SQLite path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite: %w", err)
	}
	maxConns := o.MaxConns
	if maxConns <= 0 {
		maxConns = 1
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	s := &SQLiteStore{db: db, path: path}
	s.impl = &impl{
		queries: &queries{c: sqlConn{db}, d: sqliteDialect{}},
		d:       sqliteDialect{},
		sqlDB:   db,
		begin: func(ctx context.Context) (*txHandle, error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			return &txHandle{c: sqlConn{tx}, driver: tx,
				commit:   func(context.Context) error { return tx.Commit() },
				rollback: func(context.Context) error { return tx.Rollback() }}, nil
		},
		close: db.Close,
	}
	if !o.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// Path returns the database file.
func (s *SQLiteStore) Path() string { return s.path }

type sqlExecutor interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlConn adapts *sql.DB and *sql.Tx.
type sqlConn struct{ x sqlExecutor }

func (c sqlConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := c.x.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c sqlConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := c.x.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (c sqlConn) queryRow(ctx context.Context, q string, args ...any) row {
	return c.x.QueryRowContext(ctx, q, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqliteDialect struct{}

func (sqliteDialect) name() Dialect { return SQLite }

// sqliteTimeLayout is fixed-width so that text order is time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

func (sqliteDialect) ts(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) }

func (sqliteDialect) wall(t time.Time) any {
	w := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return w.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999")
}

func (sqliteDialect) forUpdate() string { return "" }

func (sqliteDialect) classify(err error) errKind {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return errOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		msg := se.Error()
		switch {
		case strings.Contains(msg, "sessions.session_code"):
			return errUniqueCode
		case strings.Contains(msg, "sessions.bucket"):
			return errUniqueObject
		}
		return errUnique
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return errCheck
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return errForeignKey
	}
	return errOther
}
