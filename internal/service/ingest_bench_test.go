package service_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/riverqueue/river"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
	"emgd/internal/webhook"
)

// Phase 1 alone (header read, session insert, job insert) on SQLite, with
// an insert-only River queue: no workers compete for the database.
func BenchmarkIngestSQLite(b *testing.B) {
	st := storetest.OpenSQLite(b, store.Options{MaxConns: 8})
	fs, _ := storage.OpenFolder(b.TempDir(), "c3d-examples")
	fs.CreateBucket(context.Background(), "c3d-examples")
	workers := river.NewWorkers()
	river.AddWorker(workers, &service.AnalyzeWorker{})
	q, err := jobs.New(context.Background(), st, jobs.Config{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: service.RiverQueue{Q: q}}
	rec := testrec.Ghostly(testrec.Options{Seconds: 10})
	var evs []webhook.Event
	for i := 0; i < b.N+1; i++ {
		key := fmt.Sprintf("P%03d/f%d.c3d", i%50, i)
		info, _ := fs.Put(context.Background(), "c3d-examples", key, bytes.NewReader(rec))
		evs = append(evs, webhook.Event{Created: true, Bucket: "c3d-examples", Key: key, RawKey: key, ETag: info.ETag, Size: info.Size})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Ingest(context.Background(), evs[i]); err != nil {
			b.Fatal(err)
		}
	}
}
