package service_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// Phase 1 on PostgreSQL costs a fixed handful of round trips per webhook,
// even when all of them are for one patient and arrive together: the read
// of a known version, BEGIN, the patient's code lock, one statement that
// creates the session, River's insert and COMMIT (River's insert
// notification, at most one per fetch cooldown, aside). Before, a webhook
// took eleven (a savepoint around the insert, a count, a re-read), and
// webhooks of one patient collided on the session code and retried. Every
// session still gets its own code, numbered without gaps.
func TestIngestRoundTripsPostgres(t *testing.T) {
	var mu sync.Mutex
	var stmts []string
	st := storetest.OpenPostgres(t, store.Options{MaxConns: 8, Trace: func(sql string) {
		mu.Lock()
		stmts = append(stmts, sql)
		mu.Unlock()
	}})
	ctx := context.Background()
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	fs.CreateBucket(ctx, "c3d-examples")
	workers := jobs.NewWorkers()
	(&service.AnalyzeWorker{}).Register(workers)
	q, err := jobs.New(ctx, st, jobs.Config{Workers: workers}) // insert only
	if err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: service.RiverQueue{Q: q}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := testrec.Ghostly(testrec.Options{Seconds: 2})
	const n = 16
	evs := make([]service.Event, n)
	for i := range evs {
		key := fmt.Sprintf("P007/rt/f%02d.c3d", i)
		info, err := fs.Put(ctx, "c3d-examples", key, bytes.NewReader(rec))
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = service.Event{Bucket: "c3d-examples", Key: key, ETag: info.ETag, Size: info.Size}
	}
	mu.Lock()
	stmts = nil
	mu.Unlock()
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range evs {
		wg.Go(func() {
			out, err := svc.Ingest(ctx, evs[i])
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = out.Session.SessionCode
		})
	}
	wg.Wait()
	mu.Lock()
	var trips, notifies int
	for _, s := range stmts {
		switch {
		case strings.Contains(s, "pg_notify"):
			notifies++
		case strings.Contains(s, "PGGetProductAndVersion"): // once per connection
		default:
			trips++
		}
	}
	mu.Unlock()
	if trips > 6*n {
		t.Errorf("%d webhooks of one patient took %d round trips (%.1f each, want at most 6), and %d notifications:\n%s",
			n, trips, float64(trips)/n, notifies, strings.Join(stmts, "\n---\n"))
	}
	slices.Sort(codes)
	for i, c := range codes {
		if want := store.FormatSessionCode("P007", i+1); c != want {
			t.Errorf("session codes %v, want P007S001..P007S%03d", codes, n)
			break
		}
	}
}
