package app

import (
	"context"
	"log/slog"
	"time"

	"emgd/internal/service"
)

// serve's periodic maintenance (--reconcile-every, --retention); the sweep
// is service.SweepLoop.

// reconcileLoop runs Reconcile every interval until ctx ends.
func reconcileLoop(ctx context.Context, svc *service.Service, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := svc.Reconcile(ctx, service.ReconcileOptions{})
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reconcile", "error", err)
			}
			continue
		}
		if len(rep.Enqueued) > 0 {
			log.Info("reconcile enqueued objects without a session", "count", len(rep.Enqueued), "failed", len(rep.Failed))
		}
	}
}

// retentionLoop purges sessions older than keep every interval (first at
// start) until ctx ends. Finished job rows are left to River's cleaner.
func retentionLoop(ctx context.Context, svc *service.Service, keep, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rep, err := svc.Purge(ctx, service.PurgeOptions{Before: time.Now().Add(-keep)})
		if err != nil && ctx.Err() == nil {
			log.Warn("retention", "error", err)
		} else if err == nil && (rep.Sessions > 0 || rep.Failed > 0) {
			log.Info("retention removed old sessions", "sessions", rep.Sessions, "files", rep.Files, "bytes", rep.FileBytes, "failed", rep.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
