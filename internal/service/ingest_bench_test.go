package service_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// benchIngest measures phase 1 alone (header read, session insert, job
// insert) on SQLite with an insert-only River queue, over distinct objects
// that are hard links to one file of the given recording length.
func benchIngest(b *testing.B, seconds float64) {
	st := storetest.OpenSQLite(b, store.Options{MaxConns: 8})
	root := b.TempDir()
	fs, _ := storage.OpenFolder(root, "c3d-examples")
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	workers := jobs.NewWorkers()
	(&service.AnalyzeWorker{}).Register(workers)
	q, err := jobs.New(ctx, st, jobs.Config{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: service.RiverQueue{Q: q}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec := testrec.Ghostly(testrec.Options{Seconds: seconds})
	first, err := fs.Put(ctx, "c3d-examples", "P001/first.c3d", bytes.NewReader(rec))
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(root, "c3d-examples", "P001", "first.c3d")
	evs := make([]service.Event, b.N)
	for i := range evs {
		key := fmt.Sprintf("P%03d/f%d.c3d", i%50, i)
		dst := filepath.Join(root, "c3d-examples", filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.Link(src, dst); err != nil {
			b.Fatal(err)
		}
		evs[i] = service.Event{Bucket: "c3d-examples", Key: key, RawKey: key, ETag: first.ETag, Size: first.Size}
	}
	b.SetBytes(first.Size) // shows that the cost does not grow with the file
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Ingest(ctx, evs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIngest3MB(b *testing.B)  { benchIngest(b, 175) }
func BenchmarkIngest45MB(b *testing.B) { benchIngest(b, 2750) }

// BenchmarkIngestBatched measures phase 1 as `emgd serve` runs it: 32
// webhooks at once, committed in batches, on each database, distinct
// objects of a 175 s GHOSTLY-shaped recording spread over 50 patients.
// cpu-ms/op is this process's processor time per webhook (user and
// system, the database server's own excluded), the figure that bounds
// how many webhooks two cores answer.
func BenchmarkIngestBatched(b *testing.B) {
	b.Run("SQLite", func(b *testing.B) { benchIngestBatched(b, storetest.OpenSQLite(b, store.Options{MaxConns: 8}), 0) })
	for _, loops := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("Postgres/loops=%d", loops), func(b *testing.B) {
			benchIngestBatched(b, storetest.OpenPostgres(b, store.Options{}), loops)
		})
	}
}

// benchIngestBatched runs the benchmark on st with loops commit loops (0:
// the default).
func benchIngestBatched(b *testing.B, st store.Store, loops int) {
	root := b.TempDir()
	fs, _ := storage.OpenFolder(root, "c3d-examples")
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	workers := jobs.NewWorkers()
	(&service.AnalyzeWorker{}).Register(workers)
	q, err := jobs.New(ctx, st, jobs.Config{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: service.RiverQueue{Q: q}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	svc.Config.CommitLoops = loops
	svc.StartBatching()
	rec := testrec.Ghostly(testrec.Options{Seconds: 175})
	first, err := fs.Put(ctx, "c3d-examples", "P001/first.c3d", bytes.NewReader(rec))
	if err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(root, "c3d-examples", "P001", "first.c3d")
	evs := make([]service.Event, b.N)
	for i := range evs {
		key := fmt.Sprintf("P%03d/f%d.c3d", i%50, i)
		dst := filepath.Join(root, "c3d-examples", filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.Link(src, dst); err != nil {
			b.Fatal(err)
		}
		evs[i] = service.Event{Bucket: "c3d-examples", Key: key, RawKey: key, ETag: fmt.Sprintf("%s-%d", first.ETag, i), Size: first.Size}
	}
	var next atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Ingest(ctx, evs[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
