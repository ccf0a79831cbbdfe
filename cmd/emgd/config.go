package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"emgd/internal/app"
)

// serverConfig is the configuration of serve, worker, migrate, reconcile
// and purge: app.Config with its flags, each with an EMGD_* environment
// variable as its default.
type serverConfig app.Config

// appConfig returns the settings for internal/app.
func (c *serverConfig) appConfig() *app.Config { return (*app.Config)(c) }

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

// listFlag is a comma-separated list; blank items are dropped.
type listFlag struct{ l *[]string }

func (f listFlag) String() string {
	if f.l == nil {
		return ""
	}
	return strings.Join(*f.l, ",")
}

func (f listFlag) Set(s string) error {
	var l []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			l = append(l, item)
		}
	}
	*f.l = l
	return nil
}

// addFlag is a listFlag that adds to the list each time it is given.
type addFlag listFlag

func (f addFlag) String() string { return listFlag(f).String() }

func (f addFlag) Set(s string) error {
	before := *f.l
	if err := listFlag(f).Set(s); err != nil {
		return err
	}
	*f.l = append(before, *f.l...)
	return nil
}

// bind registers the flags of the server commands on fs.
func (c *serverConfig) bind(fs *flag.FlagSet, withHTTP bool) {
	d := app.Defaults()
	c.HTTP = withHTTP
	if withHTTP {
		fs.StringVar(&c.Addr, "addr", d.Addr, "listen address (EMGD_ADDR)")
		fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "require x-supabase-signature HMAC-SHA256 with this secret (EMGD_WEBHOOK_SECRET)")
		fs.StringVar(&c.WebhookToken, "webhook-token", "", "require this token as Bearer or ?token= on the webhook (EMGD_WEBHOOK_TOKEN)")
		fs.StringVar(&c.ReadToken, "read-token", "", "require this bearer token on the read API (EMGD_READ_TOKEN)")
		fs.StringVar(&c.JWTSecret, "jwt-secret", "", "accept JWTs (Authorization: Bearer) signed HS256 with this secret, e.g. Supabase's JWT secret, at least 32 bytes; prefer the variable, a flag shows in the process list (EMGD_JWT_SECRET)")
		fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "the iss an HS256 JWT must carry, e.g. https://REF.supabase.co/auth/v1; any when empty (EMGD_JWT_ISSUER)")
		fs.StringVar(&c.JWTAudience, "jwt-audience", d.JWTAudience, "the aud every JWT, HS256 or OIDC, must carry (EMGD_JWT_AUDIENCE)")
		fs.Var(addFlag{&c.OIDCIssuers}, "oidc-issuer", "accept JWTs of this OpenID Connect issuer URL (https), checked against the keys its discovery document publishes; repeatable or comma-separated (EMGD_OIDC_ISSUER)")
		fs.Var(listFlag{&c.CORSOrigins}, "cors-origins", "comma-separated browser origins allowed to call the API (CORS, e.g. https://dashboard.example); none by default (EMGD_CORS_ORIGINS)")
		fs.Int64Var(&c.SignalCacheMB, "signal-cache-mb", d.SignalCacheMB, "memory for decoded signals kept between requests, in MB (EMGD_SIGNAL_CACHE_MB)")
		fs.IntVar(&c.SignalDecodes, "signal-decodes", d.SignalDecodes, "signals answers not in the cache computed at once, each holding up to about 3 x 8 bytes per sample of its channel (a Processed envelope); more requests wait for a turn (EMGD_SIGNAL_DECODES)")
		fs.Int64Var(&c.UploadLimitMB, "upload-limit-mb", d.UploadLimitMB, "largest file POST /upload accepts, in MiB (EMGD_UPLOAD_LIMIT_MB)")
		fs.Var(listFlag{&c.Buckets}, "bucket", "comma-separated buckets the webhook accepts; default the storage's bucket (EMGD_BUCKET)")
		fs.Var(durationFlag{&c.ReconcileEvery}, "reconcile-every", "list the buckets this often and give .c3d objects without a session one, as emgd reconcile does; off when 0 (EMGD_RECONCILE_EVERY)")
		fs.Var(durationFlag{&c.Retention}, "retention", "delete sessions, their analyses and stored files once older than this (e.g. 365d), checked hourly, as emgd purge does; off when 0 (EMGD_RETENTION)")
	}
	bindDatabase(fs, c.appConfig())
	fs.StringVar(&c.StorageURL, "storage", "", "s3://BUCKET?endpoint=...&region=... for S3; default a folder per bucket in the data folder (EMGD_STORAGE_URL)")
	fs.IntVar(&c.Workers, "workers", d.Workers, "analysis jobs run at once; 0 for none (EMGD_WORKERS)")
	c.JobTimeout = d.JobTimeout
	fs.Var(durationFlag{&c.JobTimeout}, "job-timeout", "longest an analysis job may run (EMGD_JOB_TIMEOUT)")
	c.RescueAfter = d.RescueAfter
	fs.Var(durationFlag{&c.RescueAfter}, "rescue-after", "a running job not finished after this long (its process died) runs again; keep it just above --job-timeout (EMGD_RESCUE_AFTER)")
	fs.IntVar(&c.MaxAttempts, "max-attempts", d.MaxAttempts, "attempts of each analysis job this process enqueues (webhooks, recalc) before its session is marked failed; retries back off by River's policy, attempt^4 seconds (EMGD_MAX_ATTEMPTS)")
	c.SweepEvery = d.SweepEvery
	fs.Var(durationFlag{&c.SweepEvery}, "sweep-interval", "this often, fail with a message the sessions left pending or processing with no analysis job that could still run (the process died during the job's last attempt, or the job is gone); safe on every replica; off when 0 (EMGD_SWEEP_INTERVAL)")
	fs.IntVar(&c.AnalysisProcs, "analysis-parallelism", d.AnalysisProcs, "channels analysed at once within one job (EMGD_ANALYSIS_PARALLELISM)")
	fs.IntVar(&c.MaxSamplesPerChannel, "max-samples-per-channel", d.MaxSamplesPerChannel, "most samples per analog channel a recording may have to be analysed (more: the session fails at once); an analysis job holds about 32 bytes per sample of a channel for each of max(2, --analysis-parallelism) channels at once: about 450 MB at the default (EMGD_MAX_SAMPLES_PER_CHANNEL)")
	fs.Int64Var(&c.MaxObjectMB, "max-object-mb", d.MaxObjectMB, "largest object, in MiB, an analysis job reads; bounds its temporary file (EMGD_MAX_OBJECT_MB)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty (EMGD_PPROF_ADDR)")
	c.LogLevel = d.LogLevel
	fs.Var(levelFlag{&c.LogLevel}, "log-level", "debug, info, warn or error (EMGD_LOG_LEVEL)")
	fs.BoolVar(&c.LogJSON, "log-json", d.LogJSON, "log JSON lines (EMGD_LOG_JSON=1)")
}

// bindDatabase registers --data-dir and --database-url (with their EMGD_*
// variables): the server commands' and those that need the database only
// (users, tokens, audit) are these same flags.
func bindDatabase(fs *flag.FlagSet, cfg *app.Config) {
	fs.StringVar(&cfg.DataDir, "data-dir", app.Defaults().DataDir, "data folder for the embedded defaults: <dir>/emgd.db and <dir>/storage (EMGD_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "postgres://... for PostgreSQL; default SQLite in the data folder (EMGD_DATABASE_URL)")
}

// validate checks the settings (app.Config.Validate).
func (c *serverConfig) validate() error { return c.appConfig().Validate() }

// levelFlag is a log level: debug, info, warn or error (any case).
type levelFlag struct{ s *string }

func (f levelFlag) String() string {
	if f.s == nil {
		return ""
	}
	return *f.s
}

func (f levelFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "debug", "info", "warn", "error":
		*f.s = strings.ToLower(v)
		return nil
	}
	return fmt.Errorf("want debug, info, warn or error")
}
