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
	"sync"
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
	// Trace, when set, is called with the text of every statement sent to
	// PostgreSQL on the store's pool, River's included: each call is one
	// round trip (a batch is one call, its statements joined by ";"). For
	// tests and profiling; it must be safe for concurrent use. SQLite, in
	// process, ignores it.
	Trace func(sql string)
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
	// Commits never checkpoint (the checkpoint's fsync would land on a
	// request); a background goroutine does, see checkpointLoop.
	q.Add("_pragma", "wal_autocheckpoint(0)")
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
	writer := make(chan struct{}, 1)
	stopCheckpoints, checkpointsDone := make(chan struct{}), make(chan struct{})
	var stopOnce sync.Once
	go checkpointLoop(db, stopCheckpoints, checkpointsDone)
	cache := &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
	s.impl = &impl{
		queries: &queries{c: sqlConn{cache: cache}, d: sqliteDialect{}},
		d:       sqliteDialect{},
		sqlDB:   db,
		begin: func(ctx context.Context) (*txHandle, error) {
			// SQLite has one writer. Transactions of this process queue
			// here, in order, instead of polling in SQLite's busy handler
			// (whose growing sleeps turn contention into long tails); the
			// busy timeout still arbitrates with other processes.
			select {
			case writer <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			release := func() { <-writer }
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				release()
				return nil, err
			}
			return &txHandle{c: sqlConn{cache: cache, tx: tx}, driver: tx,
				commit:   func(context.Context) error { defer release(); return tx.Commit() },
				rollback: func(context.Context) error { defer release(); return tx.Rollback() }}, nil
		},
		close: func() error {
			stopOnce.Do(func() {
				close(stopCheckpoints)
				<-checkpointsDone
				db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
			})
			return cache.close()
		},
	}
	if !o.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// checkpointLoop copies the write-ahead log into the database twice a
// second, off the request path. PASSIVE never blocks writers or readers.
func checkpointLoop(db *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			cancel()
		}
	}
}

// Path returns the database file.
func (s *SQLiteStore) Path() string { return s.path }

// stmtCache keeps one prepared statement per SQL text: SQLite spends much
// of a short query's time parsing it. Statements are prepared on the
// database, never while a transaction holds the (possibly only) connection:
// a miss inside a transaction runs unprepared and the statement is prepared
// in the background once a connection is free.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
	closed  bool
	wg      sync.WaitGroup
}

func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q]
}

func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, q)
	if old, ok := c.stmts[q]; ok || c.closed {
		st.Close()
		return old, nil
	}
	c.stmts[q] = st
	return st, nil
}

func (c *stmtCache) prepareLater(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[q] || c.closed {
		return
	}
	c.pending[q] = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.prepare(ctx, q); err != nil {
			c.mu.Lock()
			delete(c.pending, q)
			c.mu.Unlock()
		}
	}()
}

// close closes the statements and the database, after any background
// preparation has ended.
func (c *stmtCache) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	err := c.db.Close()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
	return err
}

// sqlConn runs statements on the database or, when tx is set, in that
// transaction, prepared once where possible.
type sqlConn struct {
	cache *stmtCache
	tx    *sql.Tx
}

// stmt returns the prepared statement for q, or nil when q must run
// unprepared in the transaction.
func (c sqlConn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st := c.cache.lookup(q); st != nil {
		if c.tx != nil {
			return c.tx.StmtContext(ctx, st), nil
		}
		return st, nil
	}
	if c.tx != nil {
		c.cache.prepareLater(q)
		return nil, nil
	}
	return c.cache.prepare(ctx, q)
}

func (c sqlConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	var r sql.Result
	st, err := c.stmt(ctx, q)
	switch {
	case err != nil:
	case st != nil:
		r, err = st.ExecContext(ctx, args...)
	default:
		r, err = c.tx.ExecContext(ctx, q, args...)
	}
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (c sqlConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	var r *sql.Rows
	st, err := c.stmt(ctx, q)
	switch {
	case err != nil:
	case st != nil:
		r, err = st.QueryContext(ctx, args...)
	default:
		r, err = c.tx.QueryContext(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (c sqlConn) queryRow(ctx context.Context, q string, args ...any) row {
	st, err := c.stmt(ctx, q)
	switch {
	case err != nil:
		return errRow{err}
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, q, args...)
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
