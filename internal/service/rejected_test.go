package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

func countAnalyzeJobs(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	if err := storetest.DB(st).QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM river_job WHERE kind = 'emgd_analyze'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func allSessions(t *testing.T, st store.Store) []store.Session {
	t.Helper()
	page, err := st.ListSessions(context.Background(), store.ListOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return page.Sessions
}

// A .c3d object phase 1 refuses is answered ErrInvalidFile and recorded as
// one rejected session with the reason and no job; redelivery adds nothing
// and answers the same; the sweep and reconcile leave it (reconcile reports
// it, never tries it again nor enqueues it); it cannot be reanalysed; a
// readable new version of the key is a normal session that completes and
// supersedes it.
func TestRejectedRecording(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		ev := p.upload(t, "P006/Ghostly_Emg_20261130_10-00-00-0001.c3d", []byte("not a C3D file at all"))

		_, err := p.svc.Ingest(ctx, ev)
		if !errors.Is(err, service.ErrInvalidFile) {
			t.Fatalf("Ingest of a broken file = %v, want ErrInvalidFile", err)
		}
		reason := err.Error()
		rows := allSessions(t, st)
		if len(rows) != 1 {
			t.Fatalf("%d sessions after a rejected delivery, want 1", len(rows))
		}
		rej := rows[0]
		if rej.Status != store.StatusRejected || rej.Error == "" || !strings.Contains(reason, rej.Error) ||
			rej.SessionCode != "P006R001" || rej.PatientCode != "P006" || rej.ETag != ev.ETag ||
			rej.RecordedAt == nil || rej.RecordedAt.Format(store.RecordedAtLayout) != "2026-11-30T10:00:00" {
			t.Fatalf("rejected row %+v (answered %q)", rej, reason)
		}
		if n := countAnalyzeJobs(t, st); n != 0 {
			t.Errorf("%d analysis jobs for a rejected recording", n)
		}

		// Redelivery of the same version: the same answer, no new row.
		for range 2 {
			_, err := p.svc.Ingest(ctx, ev)
			if !errors.Is(err, service.ErrInvalidFile) || err.Error() != reason {
				t.Errorf("redelivery = %v, want %q", err, reason)
			}
		}
		// Also when the sender gives no etag (phase 1 reads the object).
		noETag := ev
		noETag.ETag = ""
		if _, err := p.svc.Ingest(ctx, noETag); !errors.Is(err, service.ErrInvalidFile) {
			t.Errorf("redelivery without etag = %v", err)
		}
		if rows := allSessions(t, st); len(rows) != 1 {
			t.Errorf("%d sessions after redeliveries, want 1", len(rows))
		}

		// Final for this version: the sweep and reconcile leave it.
		sw, err := p.svc.Sweep(ctx, service.SweepOptions{Grace: time.Nanosecond})
		if err != nil || sw.Unfinished != 0 || len(sw.Stranded) != 0 {
			t.Errorf("sweep: %+v, %v", sw, err)
		}
		for run := range 2 {
			rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.C3D != 1 || rep.Known != 1 || len(rep.Enqueued) != 0 || len(rep.Failed) != 0 ||
				len(rep.Rejected) != 1 || rep.Rejected[0].SessionCode != "P006R001" || rep.Rejected[0].Error != rej.Error {
				t.Errorf("reconcile run %d: %+v", run, rep)
			}
		}
		if n := countAnalyzeJobs(t, st); n != 0 {
			t.Errorf("%d analysis jobs after sweep and reconcile", n)
		}
		if g, _ := st.GetSession(ctx, rej.ID); g.Status != store.StatusRejected || g.Error != rej.Error || !g.UpdatedAt.Equal(rej.UpdatedAt) {
			t.Errorf("rejected row changed: %+v", g)
		}
		if _, err := p.svc.Reanalyze(ctx, rej.SessionCode, emg.Params{}); !errors.Is(err, service.ErrInvalidFile) {
			t.Errorf("Reanalyze of a rejected recording = %v, want ErrInvalidFile", err)
		}

		// A new, readable version of the key is tried again: a normal
		// session, analysed, superseding the rejected row.
		time.Sleep(10 * time.Millisecond)
		ev2 := p.upload(t, ev.Key, testrec.Ghostly(testrec.Options{Seed: 6, Seconds: 12}))
		if ev2.ETag == ev.ETag {
			t.Fatal("the new version has the old etag")
		}
		out, err := p.svc.Ingest(ctx, ev2)
		if err != nil || !out.Created {
			t.Fatalf("Ingest of the readable version = %+v, %v", out, err)
		}
		if out.Session.SessionCode != "P006S001" {
			t.Errorf("readable version's code %s, want P006S001", out.Session.SessionCode)
		}
		waitFor(t, st, out.Session.ID, store.StatusCompleted, 60*time.Second)
		if g, _ := st.GetSession(ctx, rej.ID); g.SupersededBy != out.Session.ID || g.Status != store.StatusRejected {
			t.Errorf("rejected row after the new version: %+v", g)
		}
		page, err := st.ListSessions(ctx, store.ListOptions{Status: store.StatusRejected})
		if err != nil || len(page.Sessions) != 1 || page.Sessions[0].ID != rej.ID {
			t.Errorf("ListSessions(rejected) = %+v, %v", page, err)
		}
		rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{})
		if err != nil || rep.Known != 1 || len(rep.Rejected) != 0 || len(rep.Enqueued) != 0 {
			t.Errorf("reconcile after the new version: %+v, %v", rep, err)
		}
	})
}

// Retention treats a rejected recording like any other session: an old one
// is purged with its file, a young one is kept.
func TestPurgeRejectedRecording(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newIdlePipeline(t, st)
		longAgo := time.Now().Add(-400 * 24 * time.Hour)
		reject := func(key string, fileTime time.Time) *store.Session {
			t.Helper()
			ev := p.upload(t, key, []byte("not a C3D file"))
			if !fileTime.IsZero() {
				path := filepath.Join(p.fs.Dir(), "c3d-examples", filepath.FromSlash(key))
				if err := os.Chtimes(path, fileTime, fileTime); err != nil {
					t.Fatal(err)
				}
				info, _ := p.fs.Stat(ctx, "c3d-examples", key)
				ev.ETag = info.ETag
			}
			_, err := p.svc.Ingest(ctx, ev)
			sess, ok := service.RejectedSession(err)
			if !ok {
				t.Fatalf("Ingest(%s) = %v, want a rejected recording", key, err)
			}
			return sess
		}
		old := reject("P010/old.c3d", longAgo)
		young := reject("P010/young.c3d", time.Time{})
		backdate(t, st, old.ID, longAgo)
		rep, err := p.svc.Purge(ctx, service.PurgeOptions{Before: time.Now().Add(-365 * 24 * time.Hour)})
		if err != nil || rep.Sessions != 1 || rep.Files != 1 || rep.Failed != 0 {
			t.Fatalf("purge: %+v, %v", rep, err)
		}
		if _, err := st.GetSession(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old rejected recording: %v", err)
		}
		if _, err := p.fs.Stat(ctx, "c3d-examples", "P010/old.c3d"); err == nil {
			t.Error("the old rejected file is still stored")
		}
		if g, err := st.GetSession(ctx, young.ID); err != nil || g.Status != store.StatusRejected {
			t.Errorf("young rejected recording: %+v, %v", g, err)
		}
	})
}
