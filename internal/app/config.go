package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/auth"
	"emgd/internal/service"
)

// Config is the typed settings of the server commands (serve, worker) and
// of the one-shot commands that open the same backends (migrate, reconcile,
// purge). Start from Defaults; cmd/emgd binds a flag (and an EMGD_*
// variable) to every field. Errors of Validate name a setting by its flag.
type Config struct {
	// HTTP serves the webhook, the APIs and the dashboard on Addr and runs
	// the serve-only loops (ReconcileEvery, Retention): emgd serve. False
	// runs the analysis workers only: emgd worker.
	HTTP bool
	Addr string

	// DataDir holds the embedded defaults: <DataDir>/emgd.db when
	// DatabaseURL is empty, <DataDir>/storage when StorageURL is empty.
	DataDir     string
	DatabaseURL string
	StorageURL  string
	// Buckets the webhook accepts; empty: the storage's bucket.
	Buckets []string

	WebhookSecret string
	WebhookToken  string
	ReadToken     string
	// CORSOrigins are the browser origins the API's CORS answers allow.
	CORSOrigins []string

	// External identities (auth.JWTConfig): the HS256 secret and the iss
	// its tokens must carry (any when empty), the aud of every token, and
	// the OIDC issuers.
	JWTSecret   string
	JWTIssuer   string
	JWTAudience string
	OIDCIssuers []string

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

	// Periodic maintenance in serve (HTTP); off when 0.
	ReconcileEvery time.Duration
	Retention      time.Duration
	// SweepEvery is how often serve and worker fail sessions stranded by a
	// crash (service.Sweep); off when 0.
	SweepEvery time.Duration
}

// Defaults returns the settings emgd serve starts with when no flag or
// variable is given.
func Defaults() Config {
	return Config{
		HTTP:                 true,
		Addr:                 "127.0.0.1:8080",
		DataDir:              "./data",
		Workers:              2,
		JobTimeout:           45 * time.Second,
		RescueAfter:          60 * time.Second,
		MaxAttempts:          5,
		AnalysisProcs:        1,
		SignalCacheMB:        256,
		SignalDecodes:        2,
		UploadLimitMB:        256,
		LogLevel:             "info",
		MaxSamplesPerChannel: analysis.DefaultMaxSamplesPerChannel,
		MaxObjectMB:          int64(service.DefaultMaxObjectBytes >> 20),
		SweepEvery:           20 * time.Second,
		JWTAudience:          auth.DefaultAudience,
	}
}

// Validate checks the settings, naming a bad one by its flag, and raises
// AnalysisProcs below 1 to 1.
func (c *Config) Validate() error {
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
	if _, err := auth.NewVerifier(context.Background(), c.JWT()); err != nil { // no network I/O
		return err
	}
	if c.AnalysisProcs < 1 {
		c.AnalysisProcs = 1
	}
	return nil
}

// JWT returns the settings of the external identities (auth.NewVerifier).
func (c *Config) JWT() auth.JWTConfig {
	return auth.JWTConfig{Secret: c.JWTSecret, Issuer: c.JWTIssuer, Audience: c.JWTAudience, OIDCIssuers: slices.Clone(c.OIDCIssuers)}
}

// ServiceConfig returns the pipeline's settings for analyser a and sets the
// limits every analysis and decode of this process checks
// (internal/analysis.SetLimits).
func (c *Config) ServiceConfig(a emg.Analyzer) service.Config {
	analysis.SetLimits(analysis.Limits{MaxSamplesPerChannel: c.MaxSamplesPerChannel})
	return service.Config{Analyzer: a, MaxObjectBytes: c.MaxObjectMB << 20, Buckets: slices.Clone(c.Buckets)}
}

// Logger returns the logger of LogLevel (info when it does not parse) and
// LogJSON, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
