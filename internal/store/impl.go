package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// txHandle is an open transaction of either driver.
type txHandle struct {
	c        conn
	driver   any
	commit   func(context.Context) error
	rollback func(context.Context) error
}

// impl is the backend-independent part of a Store.
type impl struct {
	*queries
	d     dialect
	sqlDB *sql.DB
	begin func(ctx context.Context) (*txHandle, error)
	close func() error
}

// txn is the Tx of both backends; driver is the driver's own transaction
// (see NativeTx).
type txn struct {
	*queries
	driver any
}

func (s *impl) InTx(ctx context.Context, fn func(tx Tx) error) (err error) {
	h, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			h.rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(&txn{queries: &queries{c: h.c, d: s.d}, driver: h.driver}); err != nil {
		return err
	}
	done = true
	if err := h.commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Writes of several statements run in a transaction of their own.

func (s *impl) CreateSession(ctx context.Context, n NewSession) (sess *Session, created bool, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		sess, created, err = t.CreateSession(ctx, n)
		return err
	})
	return sess, created, err
}

func (s *impl) SetStatus(ctx context.Context, id string, u StatusUpdate) (sess *Session, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		sess, err = t.SetStatus(ctx, id, u)
		return err
	})
	return sess, err
}

func (s *impl) SaveAnalysis(ctx context.Context, r AnalysisResult) (a *AnalysisResult, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		a, err = t.SaveAnalysis(ctx, r)
		return err
	})
	return a, err
}

func (s *impl) Migrate(ctx context.Context) error { return migrate(ctx, s.d.name(), s.sqlDB) }
func (s *impl) Ping(ctx context.Context) error    { return s.sqlDB.PingContext(ctx) }
func (s *impl) Dialect() Dialect                  { return s.d.name() }
func (s *impl) Close() error                      { return s.close() }

var (
	_ Store = (*SQLiteStore)(nil)
	_ Store = (*PostgresStore)(nil)
)

// Open opens the database named by rawURL and applies migrations:
//   - "": SQLite at <dataDir>/emgd.db;
//   - "sqlite:PATH", "sqlite://PATH" or "file:PATH": SQLite at PATH;
//   - "postgres://..." or "postgresql://...": PostgreSQL.
func Open(ctx context.Context, rawURL, dataDir string, o Options) (Store, error) {
	switch {
	case rawURL == "":
		if dataDir == "" {
			return nil, errors.New("store: neither a database URL nor a data directory given")
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, "emgd.db"), o)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return OpenPostgres(ctx, rawURL, o)
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("store: database URL: %w", err)
		}
		p := u.Opaque
		if p == "" {
			p = u.Host + u.Path
		}
		if p == "" {
			return nil, fmt.Errorf("store: %q names no file", rawURL)
		}
		return OpenSQLite(ctx, p, o)
	}
	return nil, fmt.Errorf("store: unsupported database URL %q (want postgres:// or sqlite:)", rawURL)
}
