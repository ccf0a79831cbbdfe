package main

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// Two serve replicas and one worker on one PostgreSQL database and one S3
// bucket: versitygw's events reach both replicas (every third one twice
// each), and every object still ends as exactly one completed session with
// one analysis and one finished job.
func TestReplicasOnPostgresAndS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw, PostgreSQL databases and three emgd processes")
	}
	dbURL := storetest.NewPostgresDatabase(t)
	const token = "replica-token"
	rl := newRelay(t)
	rl.twice = func(n int) bool { return n%3 == 0 }
	env := startS3(t, "--event-webhook-url", rl.srv.URL+"/webhooks/storage/c3d-upload?token="+token)
	cfg := serverConfig{DatabaseURL: dbURL, StorageURL: env.storageURL(), WebhookToken: token, DataDir: t.TempDir()}
	a, _ := startServe(t, cfg, true)
	b, _ := startServe(t, cfg, true)
	startServe(t, cfg, false) // the worker
	rl.setTargets("http://"+a, "http://"+b)

	var keys []string
	for i := range 12 {
		k := fmt.Sprintf("P%03d/Ghostly_Emg_20230321_17-%02d-00-0000.c3d", 10+i%4, i)
		if i == 5 {
			k = fmt.Sprintf("P%03d/retake (%d).c3d", 10+i%4, i)
		}
		keys = append(keys, k)
		env.put(t, k, testrec.Ghostly(testrec.Options{Seed: uint64(100 + i), Seconds: 12}))
	}
	byKey := waitSessions(t, "http://"+a, keys, 120*time.Second)
	codes := map[string]bool{}
	for _, k := range keys {
		ss := byKey[k]
		if len(ss) != 1 {
			t.Errorf("%s: %d sessions", k, len(ss))
			continue
		}
		if ss[0]["status"] != "completed" {
			t.Errorf("%s: %v %v", k, ss[0]["status"], ss[0]["error"])
		}
		code, _ := ss[0]["session_code"].(string)
		if codes[code] {
			t.Errorf("session code %s twice", code)
		}
		codes[code] = true
	}
	if len(byKey) != len(keys) {
		t.Errorf("sessions for %d keys, uploaded %d", len(byKey), len(keys))
	}
	if got := len(rl.received()); got < len(keys) {
		t.Errorf("relay saw %d events for %d uploads", got, len(keys))
	}

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var sessions, analyses, jobs int
	db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&sessions)
	db.QueryRowContext(ctx, `SELECT count(*) FROM analysis_results`).Scan(&analyses)
	db.QueryRowContext(ctx, `SELECT count(*) FROM river_job`).Scan(&jobs)
	if sessions != len(keys) || analyses != len(keys) || jobs != len(keys) {
		t.Errorf("%d sessions, %d analyses, %d jobs for %d objects", sessions, analyses, jobs, len(keys))
	}
}
