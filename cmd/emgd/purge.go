package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"emgd/internal/app"
	"emgd/internal/service"
)

// cmdPurge deletes sessions older than --older-than with their analyses and
// stored files, and finished job rows as old; without --yes it only reports.
func cmdPurge(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("purge", "--older-than 365d [--yes] [--json] [flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, false)
	var olderThan time.Duration
	fs.Var(durationFlag{&olderThan}, "older-than", "remove sessions created longer ago than this, e.g. 365d (required)")
	yes := fs.Bool("yes", false, "really delete; without it only report what would go")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code := parseFlagsOnly(fs, "purge", args, stderr); code >= 0 {
		return code
	}
	if olderThan <= 0 {
		fmt.Fprintln(stderr, "emgd purge: --older-than is required (e.g. --older-than 365d)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := app.OpenMaintenance(ctx, cfg.appConfig())
	if err != nil {
		fmt.Fprintf(stderr, "emgd purge: %v\n", err)
		return 1
	}
	defer m.Close()
	rep, err := m.Purge(ctx, service.PurgeOptions{Before: time.Now().Add(-olderThan), DryRun: !*yes})
	if err != nil {
		fmt.Fprintf(stderr, "emgd purge: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printPurge(stdout, rep)
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

func printPurge(w io.Writer, rep *service.PurgeReport) {
	verb, did := "deleted", "removed"
	if rep.DryRun {
		verb, did = "would delete", "would be removed"
	}
	for _, it := range rep.Items {
		switch {
		case it.Error != "":
			fmt.Fprintf(w, "failed %s (%s/%s): %s\n", it.SessionCode, it.Bucket, it.Key, it.Error)
		case it.FileDeleted:
			fmt.Fprintf(w, "%s %s (%s/%s, %d bytes, %d analyses)\n", verb, it.SessionCode, it.Bucket, it.Key, it.FileBytes, it.Analyses)
		case it.FileKept != "":
			fmt.Fprintf(w, "%s %s (%d analyses); file %s/%s kept: %s\n", verb, it.SessionCode, it.Analyses, it.Bucket, it.Key, it.FileKept)
		default:
			fmt.Fprintf(w, "%s %s (%d analyses); file %s/%s already gone\n", verb, it.SessionCode, it.Analyses, it.Bucket, it.Key)
		}
	}
	fmt.Fprintf(w, "sessions created before %s: %d sessions, %d analyses, %d files (%d bytes), %d finished job rows %s; %d failed\n",
		rep.Before.UTC().Format(time.RFC3339), rep.Sessions, rep.Analyses, rep.Files, rep.FileBytes, rep.JobsPruned, did, rep.Failed)
	if rep.DryRun {
		fmt.Fprintln(w, "dry run: nothing was deleted; run again with --yes to delete")
	}
}
