package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"emgd/emg"
	"emgd/internal/api"
	"emgd/internal/jobs"
	"emgd/internal/oldapi"
	"emgd/internal/service"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/upload"
	"emgd/internal/web"
	"emgd/internal/webhook"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	return runServer("serve", args, stderr, true)
}

func cmdWorker(args []string, stdout, stderr io.Writer) int {
	return runServer("worker", args, stderr, false)
}

func newLogger(cfg *serverConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// backends opens storage and the database (applying migrations).
func backends(ctx context.Context, cfg *serverConfig) (storage.Backend, store.Store, error) {
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

func runServer(name string, args []string, stderr io.Writer, withHTTP bool) int {
	fs := newFlagSet(name, "[flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, withHTTP)
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "emgd %s: %v\n", name, err)
		return 2
	}
	log := newLogger(&cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, name, &cfg, log, withHTTP, nil); err != nil {
		log.Error(name+" stopped", "error", err)
		return 1
	}
	return 0
}

// serve runs until ctx ends, then shuts down gracefully: the HTTP server
// stops taking requests and finishes those in flight, running jobs get up to
// the job timeout to finish, and jobs still running then are left for the
// stuck-job rescue. ready, when set, receives the listening address.
func serve(ctx context.Context, name string, cfg *serverConfig, log *slog.Logger, withHTTP bool, ready chan<- string) error {
	stg, st, err := backends(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.PprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go func() {
			if err := http.ListenAndServe(cfg.PprofAddr, pm); err != nil {
				log.Warn("profiler", "error", err)
			}
		}()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := &service.Service{Store: st, Storage: stg, Log: log, Metrics: service.NewMetrics(reg),
		Config: cfg.serviceConfig(emg.Analyzer{Workers: cfg.AnalysisProcs})}
	if cfg.Buckets != "" {
		for b := range strings.SplitSeq(cfg.Buckets, ",") {
			if b = strings.TrimSpace(b); b != "" {
				svc.Config.Buckets = append(svc.Config.Buckets, b)
			}
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
	if st.Dialect() == store.SQLite {
		// One writer: webhooks waiting for it commit together. PostgreSQL
		// runs their transactions side by side, which measured faster.
		svc.StartBatching()
	}
	reg.MustRegister(queueDepth(q))
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	if cfg.SweepEvery > 0 {
		// Sessions whose job River ended without emgd code (the process
		// died during its last attempt) would stay pending for ever.
		go svc.SweepLoop(ctx, cfg.SweepEvery, service.SweepOptions{}, log)
	}
	if withHTTP && cfg.ReconcileEvery > 0 {
		go reconcileLoop(ctx, svc, cfg.ReconcileEvery, log)
	}
	if withHTTP && cfg.Retention > 0 {
		go retentionLoop(ctx, svc, cfg.Retention, time.Hour, log)
	}

	var srv *http.Server
	errc := make(chan error, 1)
	if withHTTP {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			q.Stop(context.Background())
			return err
		}
		apiCfg := api.Config{
			WebhookAuth: webhook.Auth{Secret: cfg.WebhookSecret, Token: cfg.WebhookToken},
			ReadToken:   cfg.ReadToken,
			CORSOrigins: strings.Split(cfg.CORSOrigins, ","), // blanks dropped
		}
		if apiCfg.WebhookRedacted() {
			log.Warn("reads are protected but the webhook is not: its answers carry no session data; set --webhook-secret or --webhook-token")
		}
		handler := api.New(svc, apiCfg, reg, log)
		(&signals.Handler{Store: st, Storage: stg, Cache: signals.NewCache(cfg.SignalCacheMB << 20), Decodes: cfg.SignalDecodes, Log: log}).Register(handler.Mux(), handler.ReadGuard)
		(&upload.Handler{Svc: svc, Limit: cfg.UploadLimitMB << 20, Analyzer: svc.Config.Analyzer, Log: log}).Register(handler.Mux(), handler.ReadGuard)
		oldapi.Register(handler.Mux(), oldapi.Deps{Store: st, Log: log, Guard: handler.ReadGuard})
		web.Register(handler.Mux())
		srv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 2 * time.Minute,
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

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "legacy" {
		return cmdMigrateLegacy(args[1:], stdout, stderr)
	}
	fs := newFlagSet("migrate", "[flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, false)
	if code := parseFlagsOnly(fs, "migrate", args, stderr); code >= 0 {
		return code
	}
	ctx := context.Background()
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "emgd migrate: %v\n", err)
			return 1
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "emgd migrate: %v\n", err)
		return 1
	}
	defer st.Close()
	if err := jobs.Migrate(ctx, st); err != nil {
		fmt.Fprintf(stderr, "emgd migrate: job queue: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "schema up to date (%s)\n", st.Dialect())
	return 0
}
