// Package app is emgd's wiring: the one place that knows every package. It
// opens storage, the database and the job queue from a Config, builds the
// pipeline (internal/service) with its workers, assembles the HTTP server
// (api, signals, upload, the old API's routes, the dashboard, metrics and
// the profiler), runs the periodic loops (sweep, reconcile, retention) and
// shuts all of it down gracefully (Run); it opens the same backends for the
// one-shot commands (Migrate, OpenMaintenance, MigrateLegacy).
//
// It may import every internal package (but no SQL driver nor River, which
// stay behind internal/store, internal/jobs and internal/legacy). Nothing
// imports it but cmd/emgd, which only turns flags and EMGD_* variables into
// a Config, calls app and prints; internal/app/apptest starts a server for
// tests. Nothing here does work at package init: everything is built when
// Run or an Open function is called.
package app
