package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/store"
)

// Migrate applies the database schema of cfg (emgd's tables and the job
// queue's) and returns the database's dialect. It opens no storage.
func Migrate(ctx context.Context, cfg *Config) (store.Dialect, error) {
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return "", err
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	if err := jobs.Migrate(ctx, st); err != nil {
		return "", fmt.Errorf("job queue: %w", err)
	}
	return st.Dialect(), nil
}

// Maintenance is what the one-shot commands reconcile and purge work on:
// storage, the database and an insert-only job queue, with a Service that
// can create sessions and enqueue their analysis for the workers of a
// running serve or worker. Close it when done.
type Maintenance struct {
	svc *service.Service
	q   jobs.Queue
	st  store.Store
}

// OpenMaintenance opens the backends of cfg (applying migrations) for
// Reconcile and Purge.
func OpenMaintenance(ctx context.Context, cfg *Config) (*Maintenance, error) {
	stg, st, err := openBackends(ctx, cfg)
	if err != nil {
		return nil, err
	}
	q, err := jobs.New(ctx, st, jobs.Config{}) // no workers: insert, list and delete only
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	svc := &service.Service{Store: st, Storage: stg, Queue: service.RiverQueue{Q: q},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &Maintenance{svc: svc, q: q, st: st}, nil
}

// Reconcile gives stored .c3d objects without a session one and fails the
// sessions a crash stranded (service.Reconcile).
func (m *Maintenance) Reconcile(ctx context.Context, o service.ReconcileOptions) (*service.ReconcileReport, error) {
	return m.svc.Reconcile(ctx, o)
}

// Purge deletes the sessions created before o.Before with their analyses
// and stored files (service.Purge), then the finished job rows as old; with
// o.DryRun it only counts.
func (m *Maintenance) Purge(ctx context.Context, o service.PurgeOptions) (*service.PurgeReport, error) {
	rep, err := m.svc.Purge(ctx, o)
	if err != nil {
		return nil, err
	}
	if rep.JobsPruned, err = jobs.PruneFinished(ctx, m.q, o.Before, o.DryRun); err != nil {
		return nil, err
	}
	return rep, nil
}

// Close closes the database.
func (m *Maintenance) Close() error { return m.st.Close() }
