package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"emgd/internal/app"
	"emgd/internal/service"
)

// cmdReconcile lists the bucket and gives every .c3d object without a
// session one (phase 1, as for a webhook event), enqueueing its analysis for
// the workers of a running serve or worker; it also fails the sessions a
// crash left pending or processing with no job (service.Sweep).
func cmdReconcile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reconcile", "[--dry-run] [--json] [--prefix P] [flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, false)
	var buckets []string
	fs.Var(listFlag{&buckets}, "bucket", "comma-separated buckets to list; default the storage's bucket (EMGD_BUCKET)")
	prefix := fs.String("prefix", "", "only keys starting with this")
	dryRun := fs.Bool("dry-run", false, "report what would be enqueued; change nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code := parseFlagsOnly(fs, "reconcile", args, stderr); code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := app.OpenMaintenance(ctx, cfg.appConfig())
	if err != nil {
		fmt.Fprintf(stderr, "emgd reconcile: %v\n", err)
		return 1
	}
	defer m.Close()
	rep, err := m.Reconcile(ctx, service.ReconcileOptions{Buckets: buckets, Prefix: *prefix, DryRun: *dryRun})
	if err != nil {
		fmt.Fprintf(stderr, "emgd reconcile: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReconcile(stdout, rep)
	}
	if len(rep.Failed) > 0 {
		return 1
	}
	return 0
}

func printReconcile(w io.Writer, rep *service.ReconcileReport) {
	verb := "enqueued"
	if rep.DryRun {
		verb = "would enqueue"
	}
	for _, it := range rep.Enqueued {
		if it.SessionCode != "" {
			fmt.Fprintf(w, "%s %s/%s as %s\n", verb, it.Bucket, it.Key, it.SessionCode)
		} else {
			fmt.Fprintf(w, "%s %s/%s\n", verb, it.Bucket, it.Key)
		}
	}
	for _, it := range rep.Failed {
		fmt.Fprintf(w, "failed %s/%s: %s\n", it.Bucket, it.Key, it.Error)
	}
	for _, it := range rep.Rejected {
		fmt.Fprintf(w, "rejected %s/%s as %s (not tried again until a new version is written): %s\n", it.Bucket, it.Key, it.SessionCode, it.Error)
	}
	strandedVerb := "failed"
	if rep.DryRun {
		strandedVerb = "would fail"
	}
	for _, s := range rep.Stranded {
		fmt.Fprintf(w, "%s stranded session %s (%s, job %s): %s\n", strandedVerb, s.SessionCode, s.Status, s.JobState, s.Error)
	}
	fmt.Fprintf(w, "%d objects listed, %d .c3d, %d with a session, %d %s, %d failed, %d rejected; %d stranded sessions %s\n",
		rep.Listed, rep.C3D, rep.Known, len(rep.Enqueued), verb, len(rep.Failed), len(rep.Rejected), len(rep.Stranded), strandedVerb)
}
