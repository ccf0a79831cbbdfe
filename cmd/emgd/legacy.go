package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"emgd/internal/app"
	"emgd/internal/legacy"
)

// cmdMigrateLegacy moves the old backend's analytics into emgd's tables and
// drops its emg_signals time series; without --yes it only reports.
func cmdMigrateLegacy(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("migrate legacy", "--database-url postgres://... [--to postgres://...] [--yes] [--json]", stderr)
	from := fs.String("database-url", "", "the old backend's PostgreSQL database (its tables in the search path, normally public) (EMGD_LEGACY_DATABASE_URL)")
	to := fs.String("to", "", "emgd's database; default the same database with search_path="+app.LegacySchema+" (the schema is created)")
	yes := fs.Bool("yes", false, "make the changes; without it only report what would be done")
	batch := fs.Int("batch", 100, "rows per statement")
	bucket := fs.String("bucket", "c3d-examples", "bucket of old rows without bucket_name")
	vacuumFull := fs.Bool("vacuum-full", false, "rewrite the old analysis_results table afterwards (VACUUM FULL: locks it, returns the space to the system)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code := parseFlagsOnly(fs, "migrate legacy", args, stderr); code >= 0 {
		return code
	}
	if *from == "" {
		fmt.Fprintln(stderr, "emgd migrate legacy: --database-url is required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "emgd migrate legacy: %v\n", err)
		return 1
	}
	rep, target, err := app.MigrateLegacy(ctx, *from, *to, legacy.Options{Apply: *yes, Batch: *batch, DefaultBucket: *bucket, Vacuum: *vacuumFull})
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printLegacy(stdout, rep, target)
	}
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}

func printLegacy(w io.Writer, rep *legacy.Report, target string) {
	would := ""
	if !rep.Applied {
		would = "would be "
	}
	fmt.Fprintf(w, "old backend: %d files (c3d_metadata), %d analyses (analysis_results), %d files without an analysis (left for emgd reconcile)\n",
		rep.Files, rep.Analyses, rep.WithoutAnalysis)
	fmt.Fprintf(w, "sessions %smigrated: %d with %d analyses; %d already migrated", would, rep.SessionsMigrated, rep.AnalysesMigrated, rep.AlreadyMigrated)
	if rep.SkippedNewer > 0 {
		fmt.Fprintf(w, "; %d left alone (emgd has sessions of their objects already)", rep.SkippedNewer)
	}
	if rep.LongArraysDropped > 0 {
		fmt.Fprintf(w, "; %d time-series arrays left out", rep.LongArraysDropped)
	}
	fmt.Fprintln(w)
	switch {
	case rep.SignalsDropped && rep.BytesReclaimed == 0:
		fmt.Fprintln(w, "emg_signals: column already gone")
	default:
		fmt.Fprintf(w, "emg_signals: %d rows, %d bytes %sreclaimed; column %sdropped\n", rep.SignalRows, rep.BytesReclaimed, would, would)
	}
	if rep.Applied {
		fmt.Fprintf(w, "old analysis_results table: %d bytes before, %d after\n", rep.TableBytesBefore, rep.TableBytesAfter)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if u, err := url.Parse(target); err == nil {
		fmt.Fprintf(w, "emgd database: %s\n", u.Redacted())
	}
	if !rep.Applied {
		fmt.Fprintln(w, "dry run: nothing was changed; run again with --yes")
	}
}
