package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// BenchmarkProcess measures phase 2 of one session as a worker runs it
// (SQLite, folder storage, no queue): a 175 s GHOSTLY-shaped recording
// (3 MB) whose patient has settings and whose file names a therapist,
// read from storage, hashed, analysed and its aggregates stored. The
// session is set back to pending between jobs, outside the timer.
// cpu-ms/op is this process's processor time per job (user and system),
// steadier than the wall time on a shared machine.
func BenchmarkProcess(b *testing.B) {
	st := storetest.OpenSQLite(b, store.Options{MaxConns: 8})
	fs, err := storage.OpenFolder(b.TempDir(), "c3d-examples")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := fs.CreateBucket(ctx, "c3d-examples"); err != nil {
		b.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: &jobQueue{okJobs: -1}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := st.SaveSettings(ctx, "P001", json.RawMessage(`{"mvc":{"CH1":0.0002,"CH2":0.0001},"threshold_pct":50,"sessions_per_week":4}`), "api"); err != nil {
		b.Fatal(err)
	}
	rec := testrec.Ghostly(testrec.Options{Seconds: 175, TherapistID: "T1"})
	const key = "P001/Ghostly_Emg_20240101_10-00-00-0001.c3d"
	info, err := fs.Put(ctx, "c3d-examples", key, bytes.NewReader(rec))
	if err != nil {
		b.Fatal(err)
	}
	out, err := svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		b.Fatal(err)
	}
	id := out.Session.ID
	b.SetBytes(info.Size)
	b.ReportAllocs()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := st.SetStatus(ctx, id, store.StatusUpdate{Status: store.StatusPending}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := processCPU()
		if err := svc.Process(ctx, service.AnalyzeArgs{SessionID: id}); err != nil {
			b.Fatal(err)
		}
		cpu += processCPU() - cpu0
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	if s, err := st.GetSession(ctx, id); err != nil || s.Status != store.StatusCompleted {
		b.Fatalf("session %+v, %v", s, err)
	}
}
