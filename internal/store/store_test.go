package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{}) })
}

// TestSQLiteManyConnections runs the suite with a pool of several
// connections, where writers meet SQLite's lock instead of the pool's queue.
func TestSQLiteManyConnections(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{MaxConns: 4}) })
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{}) })
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dialect() != store.SQLite || s.(*store.SQLiteStore).Path() != filepath.Join(dir, "emgd.db") {
		t.Errorf("Open(\"\") = %s", s.Dialect())
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "emgd.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
	for _, u := range []string{"sqlite:" + dir + "/a.db", "sqlite://" + dir + "/b.db", "file:" + dir + "/c.db"} {
		s, err := store.Open(ctx, u, "", store.Options{})
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if s.Dialect() != store.SQLite {
			t.Errorf("Open(%q) = %s", u, s.Dialect())
		}
		s.Close()
	}
	for _, u := range []string{"mysql://x", "sqlite:", "postgres://nobody@127.0.0.1:1/x?connect_timeout=1"} {
		if s, err := store.Open(ctx, u, dir, store.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
	if _, err := store.Open(ctx, "", "", store.Options{}); err == nil {
		t.Error("Open with neither URL nor data dir succeeded")
	}
}

func TestPostgresOpenURL(t *testing.T) {
	u := storetest.NewPostgresDatabase(t)
	s, err := store.Open(context.Background(), u, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != store.Postgres {
		t.Errorf("dialect %s", s.Dialect())
	}
	// Replicas starting together migrate once.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := store.Open(context.Background(), u, "", store.Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The summary column is JSONB with a GIN index.
	var typ string
	if err := storetest.DB(s).QueryRow(`SELECT data_type FROM information_schema.columns
		WHERE table_name = 'analysis_results' AND column_name = 'analytics_summary'`).Scan(&typ); err != nil || typ != "jsonb" {
		t.Errorf("analytics_summary type %q (%v)", typ, err)
	}
	var idx string
	if err := storetest.DB(s).QueryRow(`SELECT indexdef FROM pg_indexes WHERE tablename = 'analysis_results'
		AND indexdef LIKE '%USING gin (analytics_summary)%'`).Scan(&idx); err != nil {
		t.Errorf("no GIN index on analytics_summary: %v", err)
	}
	var recType string
	if err := storetest.DB(s).QueryRow(`SELECT data_type FROM information_schema.columns
		WHERE table_name = 'sessions' AND column_name = 'recorded_at'`).Scan(&recType); err != nil || recType != "timestamp without time zone" {
		t.Errorf("recorded_at type %q (%v)", recType, err)
	}
}

func TestIsPatientCode(t *testing.T) {
	for code, want := range map[string]bool{
		"P0": true, "P001": true, "P999999999999": true,
		"": false, "P": false, "p001": false, "P001 ": false, " P001": false, "P0x1": false, "P-1": false,
		"P1234567890123": false, "P001S001": false, "P\u0661": false, "P001\n": false,
	} {
		if got := store.IsPatientCode(code); got != want {
			t.Errorf("IsPatientCode(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestPatientCodeFromKey(t *testing.T) {
	for k, want := range map[string]string{
		"P001/x.c3d": "P001", "a/P12/x.c3d": "P12", "P1x/P002/x.c3d": "P002", "x.c3d": "P000",
		"p001/x.c3d": "P000", "P/x.c3d": "P000", "P0001.c3d": "P000", "P0001": "P0001",
		"P1234567890123/P999999999999/x.c3d": "P999999999999",
	} {
		if got := store.PatientCodeFromKey(k); got != want {
			t.Errorf("PatientCodeFromKey(%q) = %s, want %s", k, got, want)
		}
	}
	if store.FormatSessionCode("P001", 7) != "P001S007" || store.FormatSessionCode("P001", 1234) != "P001S1234" {
		t.Error("FormatSessionCode")
	}
	if _, err := store.ParamsHash([]byte("{")); !errors.Is(err, store.ErrInvalidInput) {
		t.Error("ParamsHash of bad JSON")
	}
}

// TestSQLitePragmas: every connection has WAL, a busy timeout and foreign keys.
func TestSQLitePragmas(t *testing.T) {
	s := storetest.OpenSQLite(t, store.Options{MaxConns: 3})
	ctx := context.Background()
	for i := range 3 {
		c, err := storetest.DB(s).Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var mode string
		var busy, fk int
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("conn %d: journal_mode %q (%v)", i, mode, err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 1000 {
			t.Errorf("conn %d: busy_timeout %d (%v)", i, busy, err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("conn %d: foreign_keys %d (%v)", i, fk, err)
		}
	}
}
