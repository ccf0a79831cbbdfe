package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/service"
)

// serverConfig is the configuration of serve, worker and migrate: flags,
// each with an EMGD_* environment variable as its default.
type serverConfig struct {
	Addr          string
	DataDir       string
	DatabaseURL   string
	StorageURL    string
	Buckets       string
	WebhookSecret string
	WebhookToken  string
	ReadToken     string
	CORSOrigins   string
	Workers       int
	JobTimeout    time.Duration
	RescueAfter   time.Duration
	MaxAttempts   int
	AnalysisProcs int
	SignalCacheMB int64
	SignalDecodes int
	UploadLimitMB int64
	PprofAddr     string
	LogLevel      string
	LogJSON       bool

	// Memory bounds of phase 2 (see internal/analysis.Limits and
	// service.Config.MaxObjectBytes).
	MaxSamplesPerChannel int
	MaxObjectMB          int64

	// Periodic maintenance in serve; off when 0.
	ReconcileEvery time.Duration
	Retention      time.Duration
	// SweepEvery is how often serve and worker fail sessions stranded by a
	// crash (service.Sweep); off when 0.
	SweepEvery time.Duration
}

// parseDuration is time.ParseDuration that also accepts days ("365d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// bind registers the flags of the server commands on fs.
func (c *serverConfig) bind(fs *flag.FlagSet, withHTTP bool) {
	if withHTTP {
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (EMGD_ADDR)")
		fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "require x-supabase-signature HMAC-SHA256 with this secret (EMGD_WEBHOOK_SECRET)")
		fs.StringVar(&c.WebhookToken, "webhook-token", "", "require this token as Bearer or ?token= on the webhook (EMGD_WEBHOOK_TOKEN)")
		fs.StringVar(&c.ReadToken, "read-token", "", "require this bearer token on the read API (EMGD_READ_TOKEN)")
		fs.StringVar(&c.CORSOrigins, "cors-origins", "", "comma-separated browser origins allowed to call the API (CORS, e.g. https://dashboard.example); none by default (EMGD_CORS_ORIGINS)")
		fs.Int64Var(&c.SignalCacheMB, "signal-cache-mb", 256, "memory for decoded signals kept between requests, in MB (EMGD_SIGNAL_CACHE_MB)")
		fs.IntVar(&c.SignalDecodes, "signal-decodes", 2, "signals answers not in the cache computed at once, each holding up to about 3 x 8 bytes per sample of its channel (a Processed envelope); more requests wait for a turn (EMGD_SIGNAL_DECODES)")
		fs.Int64Var(&c.UploadLimitMB, "upload-limit-mb", 256, "largest file POST /upload accepts, in MiB (EMGD_UPLOAD_LIMIT_MB)")
		fs.StringVar(&c.Buckets, "bucket", "", "comma-separated buckets the webhook accepts; default the storage's bucket (EMGD_BUCKET)")
		fs.Var(durationFlag{&c.ReconcileEvery}, "reconcile-every", "list the buckets this often and give .c3d objects without a session one, as emgd reconcile does; off when 0 (EMGD_RECONCILE_EVERY)")
		fs.Var(durationFlag{&c.Retention}, "retention", "delete sessions, their analyses and stored files once older than this (e.g. 365d), checked hourly, as emgd purge does; off when 0 (EMGD_RETENTION)")
	}
	fs.StringVar(&c.DataDir, "data-dir", "./data", "data folder for the embedded defaults: <dir>/emgd.db and <dir>/storage (EMGD_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "postgres://... for PostgreSQL; default SQLite in the data folder (EMGD_DATABASE_URL)")
	fs.StringVar(&c.StorageURL, "storage", "", "s3://BUCKET?endpoint=...&region=... for S3; default a folder per bucket in the data folder (EMGD_STORAGE_URL)")
	fs.IntVar(&c.Workers, "workers", 2, "analysis jobs run at once; 0 for none (EMGD_WORKERS)")
	c.JobTimeout = 45 * time.Second
	fs.Var(durationFlag{&c.JobTimeout}, "job-timeout", "longest an analysis job may run (EMGD_JOB_TIMEOUT)")
	c.RescueAfter = 60 * time.Second
	fs.Var(durationFlag{&c.RescueAfter}, "rescue-after", "a running job not finished after this long (its process died) runs again; keep it just above --job-timeout (EMGD_RESCUE_AFTER)")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 5, "attempts of each analysis job this process enqueues (webhooks, recalc) before its session is marked failed; retries back off by River's policy, attempt^4 seconds (EMGD_MAX_ATTEMPTS)")
	c.SweepEvery = 20 * time.Second
	fs.Var(durationFlag{&c.SweepEvery}, "sweep-interval", "this often, fail with a message the sessions left pending or processing with no analysis job that could still run (the process died during the job's last attempt, or the job is gone); safe on every replica; off when 0 (EMGD_SWEEP_INTERVAL)")
	fs.IntVar(&c.AnalysisProcs, "analysis-parallelism", 1, "channels analysed at once within one job (EMGD_ANALYSIS_PARALLELISM)")
	fs.IntVar(&c.MaxSamplesPerChannel, "max-samples-per-channel", analysis.DefaultMaxSamplesPerChannel, "most samples per analog channel a recording may have to be analysed (more: the session fails at once); an analysis job holds about 32 bytes per sample of a channel for each of max(2, --analysis-parallelism) channels at once: about 450 MB at the default (EMGD_MAX_SAMPLES_PER_CHANNEL)")
	fs.Int64Var(&c.MaxObjectMB, "max-object-mb", int64(service.DefaultMaxObjectBytes>>20), "largest object, in MiB, an analysis job reads; bounds its temporary file (EMGD_MAX_OBJECT_MB)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty (EMGD_PPROF_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error (EMGD_LOG_LEVEL)")
	fs.BoolVar(&c.LogJSON, "log-json", false, "log JSON lines (EMGD_LOG_JSON=1)")
}

// serviceConfig returns the pipeline's settings for analyser a and sets the
// limits every analysis and decode of this process checks
// (internal/analysis.SetLimits).
func (c *serverConfig) serviceConfig(a emg.Analyzer) service.Config {
	analysis.SetLimits(analysis.Limits{MaxSamplesPerChannel: c.MaxSamplesPerChannel})
	return service.Config{Analyzer: a, MaxObjectBytes: c.MaxObjectMB << 20}
}

func (c *serverConfig) validate() error {
	if c.Workers < 0 || c.Workers > 256 {
		return fmt.Errorf("--workers must be 0..256")
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > 100 {
		return fmt.Errorf("--max-attempts must be 1..100 (0 for the default, 5)")
	}
	if c.JobTimeout <= 0 || c.RescueAfter <= c.JobTimeout {
		return fmt.Errorf("--rescue-after (%s) must exceed --job-timeout (%s)", c.RescueAfter, c.JobTimeout)
	}
	if c.MaxSamplesPerChannel < 0 {
		return fmt.Errorf("--max-samples-per-channel must be at least 1 (0 for the default, %d)", analysis.DefaultMaxSamplesPerChannel)
	}
	if c.MaxObjectMB < 0 || c.MaxObjectMB > 1<<20 {
		return fmt.Errorf("--max-object-mb must be 1..1048576 (0 for the default, %d)", service.DefaultMaxObjectBytes>>20)
	}
	if c.SignalDecodes < 0 || c.SignalDecodes > 64 {
		return fmt.Errorf("--signal-decodes must be 1..64 (0 for the default, 2)")
	}
	if c.SweepEvery < 0 {
		return fmt.Errorf("--sweep-interval must not be negative (0 turns the sweep off)")
	}
	if c.AnalysisProcs < 1 {
		c.AnalysisProcs = 1
	}
	return nil
}
