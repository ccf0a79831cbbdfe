package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

func TestSweepIntervalFlag(t *testing.T) {
	parse := func(args ...string) (serverConfig, error) {
		var cfg serverConfig
		fs := newFlagSet("worker", "", io.Discard)
		cfg.bind(fs, false)
		if err := parseEnv(fs, args); err != nil {
			return cfg, err
		}
		return cfg, cfg.validate()
	}
	if cfg, err := parse(); err != nil || cfg.SweepEvery != 20*time.Second {
		t.Errorf("default: %s (%v), want on every 20s", cfg.SweepEvery, err)
	}
	if cfg, err := parse("--sweep-interval", "0"); err != nil || cfg.SweepEvery != 0 {
		t.Errorf("--sweep-interval 0: %s (%v)", cfg.SweepEvery, err)
	}
	t.Setenv("EMGD_SWEEP_INTERVAL", "5s")
	if cfg, err := parse(); err != nil || cfg.SweepEvery != 5*time.Second {
		t.Errorf("EMGD_SWEEP_INTERVAL=5s: %s (%v)", cfg.SweepEvery, err)
	}
	var stderr bytes.Buffer
	if code := run([]string{"worker", "--sweep-interval", "-1s", "--data-dir", t.TempDir()}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "--sweep-interval") {
		t.Errorf("--sweep-interval -1s: exit %d, %q", code, stderr.String())
	}
}

// strandedSession makes, in the SQLite database of dir, a session left
// processing whose job River discarded at rescue (its process died during
// the last attempt).
func strandedSession(t *testing.T, dir, key string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := jobs.New(ctx, st, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	err = st.InTx(ctx, func(tx store.Tx) error {
		sess, _, err := tx.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: "e1"})
		if err != nil {
			return err
		}
		id = sess.ID
		if _, err := tx.SetStatus(ctx, id, store.StatusUpdate{Status: store.StatusProcessing}); err != nil {
			return err
		}
		_, err = q.EnqueueTx(ctx, tx, service.AnalyzeArgs{SessionID: id}, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	errJSON := fmt.Sprintf(`{"at":"2026-01-01T00:00:00Z","attempt":1,"error":%q,"trace":""}`, jobs.RescuedError)
	if _, err := storetest.DB(st).Exec(`UPDATE river_job SET state = 'discarded', attempt = 1, max_attempts = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), finalized_at = strftime('%Y-%m-%d %H:%M:%f', 'now'),
		errors = jsonb(json_array(json($1))) WHERE args ->> 'session_id' = $2`, errJSON, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// serve and worker fail a stranded session with the sweep's message.
func TestServeAndWorkerSweepStrandedSessions(t *testing.T) {
	for _, withHTTP := range []bool{true, false} {
		t.Run(fmt.Sprintf("http=%v", withHTTP), func(t *testing.T) {
			dir := t.TempDir()
			id := strandedSession(t, dir, "P009/crashed.c3d")
			_, stop := startServe(t, serverConfig{DataDir: dir, SweepEvery: 50 * time.Millisecond}, withHTTP)
			defer stop()
			st, err := store.Open(context.Background(), "", dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			deadline := time.Now().Add(30 * time.Second)
			for {
				s, err := st.GetSession(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if s.Status == store.StatusFailed {
					if !strings.Contains(s.Error, "the worker process stopped") {
						t.Errorf("error %q", s.Error)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("session still %s", s.Status)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// emgd reconcile reports stranded sessions in a dry run and fails them.
func TestReconcileCommandFailsStranded(t *testing.T) {
	dir := t.TempDir()
	strandedSession(t, dir, "P009/crashed.c3d")
	code, out, stderr := runCLI("reconcile", "--data-dir", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "would fail stranded session P009S001 (processing, job discarded): the analysis was interrupted") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runCLI("reconcile", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "failed stranded session P009S001") || !strings.Contains(out, "1 stranded sessions failed") {
		t.Fatalf("run: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = runCLI("reconcile", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "0 stranded sessions failed") {
		t.Fatalf("again: exit %d\n%s", code, out)
	}
}
