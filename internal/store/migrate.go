package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migration files of a dialect.
func Migrations(d Dialect) (fs.FS, error) {
	return fs.Sub(migrationFiles, "migrations/"+string(d))
}

// migrate applies the pending migrations of dialect d with goose. On
// PostgreSQL a session-level advisory lock keeps replicas that start at the
// same time from migrating twice.
func migrate(ctx context.Context, d Dialect, db *sql.DB) error {
	fsys, err := Migrations(d)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	gd := goose.DialectSQLite3
	if d == Postgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}
