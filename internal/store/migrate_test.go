package store_test

import (
	"context"
	"testing"

	"github.com/pressly/goose/v3"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// TestUpgradeAddsStorageVersion: a database made by the first migration, with
// a session in it, upgrades in place; the old session reads back an empty
// storage version (phase 2 then reads the current object, as before) and new
// sessions store theirs.
func TestUpgradeAddsStorageVersion(t *testing.T) {
	atMigration(t, 1, func(t *testing.T, ctx context.Context, s store.Store, _ *goose.Provider) {
		const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		if _, err := storetest.DB(s).ExecContext(ctx, `INSERT INTO sessions
			(id, session_code, patient_code, bucket, object_key, etag, status, created_at, updated_at)
			VALUES ($1, 'P001S001', 'P001', 'c3d-examples', 'P001/a.c3d', 'old-etag', 'pending',
			'2025-01-02T03:04:05.000000Z', '2025-01-02T03:04:05.000000Z')`, id); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		old, err := s.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if old.StorageVersion != "" || old.ETag != "old-etag" {
			t.Errorf("session made before the upgrade: storage version %q, etag %q", old.StorageVersion, old.ETag)
		}
		n, created, err := s.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/a.c3d",
			ETag: "new-etag", StorageVersion: "10-20"})
		if err != nil || !created || n.StorageVersion != "10-20" {
			t.Fatalf("after the upgrade: %+v, %v, %v", n, created, err)
		}
	})
}

// atMigration runs fn on a new SQLite and a new PostgreSQL database, each
// migrated up to version only; p migrates it further.
func atMigration(t *testing.T, version int64, fn func(t *testing.T, ctx context.Context, s store.Store, p *goose.Provider)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) store.Store
		gd   goose.Dialect
	}{
		{"SQLite", func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{NoMigrate: true}) }, goose.DialectSQLite3},
		{"Postgres", func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{NoMigrate: true}) }, goose.DialectPostgres},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := tc.open(t)
			fsys, err := store.Migrations(s.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(tc.gd, storetest.DB(s), fsys, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, version); err != nil {
				t.Fatal(err)
			}
			fn(t, ctx, s, p)
		})
	}
}
