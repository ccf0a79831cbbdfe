package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"emgd/emg"
	"emgd/internal/api"
	"emgd/internal/jobs"
	"emgd/internal/oldapi"
	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/upload"
	"emgd/internal/web"
	"emgd/internal/webhook"
)

// openBackends opens storage and the database (applying migrations).
func openBackends(ctx context.Context, cfg *Config) (storage.Backend, store.Store, error) {
	if cfg.DatabaseURL == "" || cfg.StorageURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("data folder: %w", err)
		}
	}
	stg, err := storage.Open(ctx, cfg.StorageURL, cfg.DataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: %w", err)
	}
	if _, isFolder := stg.(*storage.Folder); isFolder {
		if err := stg.CreateBucket(ctx, stg.DefaultBucket()); err != nil {
			return nil, nil, fmt.Errorf("storage: %w", err)
		}
	}
	// SQLite: several connections, so that River's pollers never wait on a
	// request's transaction (WAL readers run beside the one writer, and
	// immediate transactions queue on the busy timeout).
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.Options{MaxConns: 8})
	if err != nil {
		return nil, nil, fmt.Errorf("database: %w", err)
	}
	return stg, st, nil
}

// analysisNice is how much serve lowers its analyses' CPU priority.
const analysisNice = 10

// baseProcs is the process's GOMAXPROCS as Go chose it (the cores it may use).
var baseProcs = runtime.GOMAXPROCS(0)

// Run is emgd serve (cfg.HTTP) or emgd worker: it opens the backends, starts
// the analysis workers, the sweep and, for serve, the HTTP server and the
// reconcile and retention loops, and runs until ctx ends. Then it shuts down
// gracefully: the HTTP server stops taking requests and finishes those in
// flight, running jobs get up to the job timeout to finish, and jobs still
// running then are left for the stuck-job rescue. ready, when set, receives
// the listening address ("" for a worker) once requests are taken.
func Run(ctx context.Context, cfg *Config, log *slog.Logger, ready chan<- string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	stg, st, err := openBackends(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.PprofAddr != "" {
		startProfiler(cfg.PprofAddr, log)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := &service.Service{Store: st, Storage: stg, Log: log, Metrics: service.NewMetrics(reg),
		Config: cfg.ServiceConfig(emg.Analyzer{Workers: cfg.AnalysisProcs})}
	if cfg.HTTP && cfg.Workers > 0 {
		// Webhooks before analyses: each analysis on a thread of nice 10,
		// and a Go processor more per worker, so that phase 1 always has
		// one to run on while the analyses hold theirs (BENCHMARKS.md,
		// "Phase 1 on SQLite and PostgreSQL").
		svc.Config.AnalysisNice = analysisNice
		if os.Getenv("GOMAXPROCS") == "" {
			runtime.GOMAXPROCS(baseProcs + cfg.Workers)
		}
	}
	workers := jobs.NewWorkers()
	(&service.AnalyzeWorker{Svc: svc}).Register(workers)
	jcfg := jobs.Config{Workers: workers, MaxWorkers: max(cfg.Workers, 0), JobTimeout: cfg.JobTimeout, RescueStuckJobsAfter: cfg.RescueAfter, MaxAttempts: cfg.MaxAttempts, Logger: log}
	q, err := jobs.New(ctx, st, jcfg)
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	svc.Queue = service.RiverQueue{Q: q}
	// Webhooks waiting for the database commit together: on SQLite one
	// writer, on PostgreSQL one round trip for all their inserts and one
	// commit (BENCHMARKS.md, "Phase 1 on SQLite and PostgreSQL").
	svc.StartBatching()
	reg.MustRegister(queueDepth(q))
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	if cfg.SweepEvery > 0 {
		// Sessions whose job River ended without emgd code (the process
		// died during its last attempt) would stay pending for ever.
		go svc.SweepLoop(ctx, cfg.SweepEvery, service.SweepOptions{}, log)
	}
	if cfg.HTTP && cfg.ReconcileEvery > 0 {
		go reconcileLoop(ctx, svc, cfg.ReconcileEvery, log)
	}
	if cfg.HTTP && cfg.Retention > 0 {
		go retentionLoop(ctx, svc, cfg.Retention, time.Hour, log)
	}

	var srv *http.Server
	errc := make(chan error, 1)
	if cfg.HTTP {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			q.Stop(context.Background())
			return err
		}
		srv = &http.Server{Handler: handler(cfg, svc, reg, log), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 2 * time.Minute,
			WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
		go func() { errc <- srv.Serve(ln) }()
		log.Info("emgd serving", "addr", ln.Addr().String(), "database", string(st.Dialect()), "storage", fmt.Sprintf("%T", stg), "workers", cfg.Workers)
		if ready != nil {
			ready <- ln.Addr().String()
		}
	} else {
		log.Info("emgd worker running", "database", string(st.Dialect()), "workers", cfg.Workers)
		if ready != nil {
			ready <- ""
		}
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			q.Stop(context.Background())
			return err
		}
	}
	log.Info("shutting down")
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("HTTP shutdown", "error", err)
		}
		cancel()
	}
	jctx, cancel := context.WithTimeout(context.Background(), cfg.JobTimeout)
	defer cancel()
	if err := q.Stop(jctx); err != nil {
		log.Warn("jobs still running were left to be picked up again", "error", err)
	}
	return nil
}

// handler assembles serve's routes: the webhook and read API (with
// /metrics from reg), signals, upload, the old backend's routes, the
// account routes and the dashboard, the read routes behind the guard
// (accounts, API tokens, the read token; open while there is none).
func handler(cfg *Config, svc *service.Service, reg *prometheus.Registry, log *slog.Logger) http.Handler {
	guard := newGuard(cfg, svc.Store, log)
	apiCfg := api.Config{
		WebhookAuth: webhook.Auth{Secret: cfg.WebhookSecret, Token: cfg.WebhookToken},
		ReadToken:   cfg.ReadToken,
		CORSOrigins: cfg.CORSOrigins,
		Guard:       guard,
	}
	if apiCfg.WebhookRedacted() {
		log.Warn("reads are protected but the webhook is not: its answers carry no session data; set --webhook-secret or --webhook-token")
	}
	h := api.New(svc, apiCfg, reg, log)
	(&signals.Handler{Store: svc.Store, Storage: svc.Storage, Cache: signals.NewCache(cfg.SignalCacheMB << 20), Decodes: cfg.SignalDecodes, Log: log}).Register(h.Mux(), h.ReadGuard)
	(&upload.Handler{Svc: svc, Limit: cfg.UploadLimitMB << 20, Analyzer: svc.Config.Analyzer, Log: log}).Register(h.Mux(), h.ReadGuard)
	oldapi.Register(h.Mux(), oldapi.Deps{Store: svc.Store, Log: log, Guard: h.ReadGuard})
	review.Register(h.Mux(), review.Deps{Store: svc.Store, PatientSettings: svc.Store, Log: log, Guard: h.ReadGuard, Service: svc, UploadLimit: cfg.UploadLimitMB << 20})
	guard.Register(h.Mux())
	web.Register(h.Mux())
	return h
}

// startProfiler serves net/http/pprof on addr until the process ends.
func startProfiler(addr string, log *slog.Logger) {
	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, pm); err != nil {
			log.Warn("profiler", "error", err)
		}
	}()
}

// queueDepth reports the jobs waiting or running.
func queueDepth(q jobs.Queue) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emgd_queue_depth", Help: "Analysis jobs available, scheduled, retryable or running."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := q.Depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}
