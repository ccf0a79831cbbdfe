package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// backdate moves a session's creation time (as if it had been made then).
func backdate(t *testing.T, st store.Store, id string, at time.Time) {
	t.Helper()
	var v any = at.UTC()
	if st.Dialect() == store.SQLite {
		v = at.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	if _, err := storetest.DB(st).Exec(`UPDATE sessions SET created_at = $1 WHERE id = $2`, v, id); err != nil {
		t.Fatal(err)
	}
}

// Purge removes old sessions with their analyses and files, keeps a file a
// younger session or a newer write still needs, touches nothing younger,
// changes nothing in a dry run, and finds nothing on a second run.
func TestPurge(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		old := time.Now().Add(-400 * 24 * time.Hour)
		cutoff := time.Now().Add(-365 * 24 * time.Hour)
		ingest := func(key string, seed uint64, fileTime time.Time) *store.Session {
			t.Helper()
			ev := p.upload(t, key, testrec.Ghostly(testrec.Options{Seed: seed, Seconds: 12}))
			if !fileTime.IsZero() {
				path := filepath.Join(p.fs.Dir(), "c3d-examples", filepath.FromSlash(key))
				if err := os.Chtimes(path, fileTime, fileTime); err != nil {
					t.Fatal(err)
				}
				info, _ := p.fs.Stat(ctx, "c3d-examples", key)
				ev.ETag = info.ETag
			}
			out, err := p.svc.Ingest(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			return waitFor(t, st, out.Session.ID, store.StatusCompleted, 60*time.Second)
		}
		oldS := ingest("P001/old.c3d", 1, old)
		v1 := ingest("P002/versioned.c3d", 2, old)
		v2 := ingest("P002/versioned.c3d", 3, time.Time{})
		rewritten := ingest("P003/rewritten.c3d", 4, time.Time{})
		young := ingest("P004/young.c3d", 5, old)
		gone := ingest("P005/gone.c3d", 6, old)
		for _, s := range []*store.Session{oldS, v1, rewritten, gone} {
			backdate(t, st, s.ID, old)
		}
		if err := p.fs.Delete(ctx, "c3d-examples", "P005/gone.c3d"); err != nil {
			t.Fatal(err)
		}

		rep, err := p.svc.Purge(ctx, service.PurgeOptions{Before: cutoff, DryRun: true, Batch: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sessions != 4 || rep.Analyses != 4 || rep.Files != 1 || rep.FileBytes <= 0 || rep.Failed != 0 {
			t.Fatalf("dry run: %+v", rep)
		}
		if page, _ := st.ListSessions(ctx, store.ListOptions{}); len(page.Sessions) != 6 {
			t.Fatalf("dry run deleted sessions: %d left", len(page.Sessions))
		}
		if _, err := p.fs.Stat(ctx, "c3d-examples", "P001/old.c3d"); err != nil {
			t.Fatalf("dry run deleted a file: %v", err)
		}

		rep, err = p.svc.Purge(ctx, service.PurgeOptions{Before: cutoff, Batch: 2})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Sessions != 4 || rep.Analyses != 4 || rep.Files != 1 || rep.Failed != 0 {
			t.Fatalf("purge: %+v", rep)
		}
		kept := map[string]string{}
		for _, it := range rep.Items {
			kept[it.Key] = it.FileKept
		}
		if kept["P002/versioned.c3d"] == "" || kept["P003/rewritten.c3d"] == "" {
			t.Errorf("files kept: %v", kept)
		}
		for _, s := range []*store.Session{oldS, v1, rewritten, gone} {
			if _, err := st.GetSession(ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s still there: %v", s.SessionCode, err)
			}
			if a, _ := st.ListAnalyses(ctx, s.ID); len(a) != 0 {
				t.Errorf("%s: %d analyses left", s.SessionCode, len(a))
			}
		}
		for _, s := range []*store.Session{v2, young} {
			if got, err := st.GetSession(ctx, s.ID); err != nil || !got.HasAnalysis {
				t.Errorf("younger session %s: %v", s.SessionCode, err)
			}
		}
		if _, err := p.fs.Stat(ctx, "c3d-examples", "P001/old.c3d"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("old file: %v", err)
		}
		for _, k := range []string{"P002/versioned.c3d", "P003/rewritten.c3d", "P004/young.c3d"} {
			if _, err := p.fs.Stat(ctx, "c3d-examples", k); err != nil {
				t.Errorf("%s: %v", k, err)
			}
		}
		rep, err = p.svc.Purge(ctx, service.PurgeOptions{Before: cutoff})
		if err != nil || rep.Sessions != 0 || rep.Files != 0 {
			t.Fatalf("second run: %+v %v", rep, err)
		}
	})
}
