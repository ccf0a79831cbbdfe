package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"emgd/internal/store"
)

// testObjectSessions: the sessions of many keys come back in one call,
// every version of each key oldest first, only of the bucket asked, across
// the batch boundary; in a transaction too.
func testObjectSessions(t *testing.T, s store.Store) {
	a1 := create(t, s, store.NewSession{ObjectKey: "P020/a.c3d", ETag: "e1", StorageVersion: "v1"})
	a2 := create(t, s, store.NewSession{ObjectKey: "P020/a.c3d", ETag: "e2", StorageVersion: "v2"})
	b := create(t, s, store.NewSession{ObjectKey: "P020/b.c3d", ETag: "e1"})
	create(t, s, store.NewSession{Bucket: "other", ObjectKey: "P020/c.c3d", ETag: "e1"})
	keys := []string{"P020/a.c3d", "P020/b.c3d", "P020/c.c3d", "P020/none.c3d", "P020/a.c3d"}
	// Enough keys for two batches, the known ones in the second.
	for i := range 250 {
		keys = append([]string{fmt.Sprintf("P020/missing-%03d.c3d", i)}, keys...)
	}
	check := func(what string, got map[string][]store.Session, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(got) != 2 || len(got["P020/a.c3d"]) != 2 || len(got["P020/b.c3d"]) != 1 {
			t.Fatalf("%s: sessions of %d keys: %+v", what, len(got), got)
		}
		as := got["P020/a.c3d"]
		if as[0].ID != a1.ID || as[1].ID != a2.ID || as[0].ETag != "e1" || as[1].StorageVersion != "v2" ||
			as[0].SupersededBy != a2.ID || !as[1].CreatedAt.Equal(a2.CreatedAt) {
			t.Errorf("%s: versions of a.c3d %+v", what, as)
		}
		if got["P020/b.c3d"][0].ID != b.ID || got["P020/b.c3d"][0].Bucket != "c3d-examples" {
			t.Errorf("%s: b.c3d %+v", what, got["P020/b.c3d"])
		}
	}
	got, err := s.ObjectSessions(ctx(t), "c3d-examples", keys)
	check("ObjectSessions", got, err)
	err = s.InTx(ctx(t), func(tx store.Tx) error {
		got, err := tx.ObjectSessions(ctx(t), "c3d-examples", keys)
		check("ObjectSessions in a transaction", got, err)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ObjectSessions(ctx(t), "other", []string{"P020/c.c3d"}); err != nil || len(got["P020/c.c3d"]) != 1 {
		t.Errorf("other bucket: %+v, %v", got, err)
	}
	if got, err := s.ObjectSessions(ctx(t), "c3d-examples", nil); err != nil || len(got) != 0 {
		t.Errorf("no keys: %+v, %v", got, err)
	}
}

// testKeyStats: sessions, distinct objects, completed sessions, objects
// with several sessions and analysis results are counted among keys holding
// the substring, whose LIKE wildcards are taken literally.
func testKeyStats(t *testing.T, s store.Store) {
	a1 := create(t, s, store.NewSession{ObjectKey: "P021/run1/a.c3d", ETag: "e1"})
	create(t, s, store.NewSession{ObjectKey: "P021/run1/a.c3d", ETag: "e2"})
	b := create(t, s, store.NewSession{Bucket: "other", ObjectKey: "P021/run1/b.c3d", ETag: "e1"})
	create(t, s, store.NewSession{ObjectKey: "P021/run10/c.c3d", ETag: "e1"})
	create(t, s, store.NewSession{ObjectKey: "P021/runX/d.c3d", ETag: "e1"})
	for _, id := range []string{a1.ID, b.ID} {
		if _, err := s.SetStatus(ctx(t), id, store.StatusUpdate{Status: store.StatusCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"1", "2"} {
		if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: a1.ID, ProcessingVersion: v,
			AnalyticsSummary: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.KeyStats(ctx(t), "/run1/")
	want := store.KeyStats{Sessions: 3, Objects: 2, Completed: 2, Duplicated: 1, Results: 2}
	if err != nil || *got != want {
		t.Errorf("KeyStats(/run1/) = %+v, %v; want %+v", got, err, want)
	}
	for _, sub := range []string{"/run_/", "/run%/"} {
		if got, err := s.KeyStats(ctx(t), sub); err != nil || *got != (store.KeyStats{}) {
			t.Errorf("KeyStats(%s) = %+v, %v; want nothing (wildcards are literal)", sub, got, err)
		}
	}
	if got, err := s.KeyStats(ctx(t), ""); err != nil || got.Sessions != 5 || got.Objects != 4 {
		t.Errorf("KeyStats() = %+v, %v; want 5 sessions of 4 objects", got, err)
	}
}

// testImportedCreatedAt: a session imported with its own creation time
// keeps it (retention sees its age); its updates are stamped now.
func testImportedCreatedAt(t *testing.T, s store.Store) {
	old := time.Date(2023, 3, 21, 17, 50, 17, 123456789, time.FixedZone("CET", 3600))
	before := time.Now().Add(-time.Minute)
	sess := create(t, s, store.NewSession{ObjectKey: "P022/old.c3d", CreatedAt: &old})
	want := old.UTC().Truncate(time.Microsecond)
	if !sess.CreatedAt.Equal(want) {
		t.Errorf("created at %s, want %s", sess.CreatedAt, want)
	}
	upd, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusCompleted})
	if err != nil || !upd.CreatedAt.Equal(want) || upd.UpdatedAt.Before(before) {
		t.Errorf("after SetStatus: created %s updated %s (%v)", upd.CreatedAt, upd.UpdatedAt, err)
	}
	fresh := create(t, s, store.NewSession{ObjectKey: "P022/new.c3d"})
	if fresh.CreatedAt.Before(before) {
		t.Errorf("session without CreatedAt created at %s", fresh.CreatedAt)
	}
	page, err := s.ListSessions(ctx(t), store.ListOptions{CreatedBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(page.Sessions) != 1 || page.Sessions[0].ID != sess.ID {
		t.Errorf("sessions created before 2024: %+v, %v", page, err)
	}
}

// testHasTables: a migrated database has emgd's tables, an empty one
// (opened without migrating) has not.
func testHasTables(t *testing.T, s store.Store) {
	if ok, err := s.HasTables(ctx(t)); err != nil || !ok {
		t.Errorf("migrated store: HasTables = %v, %v", ok, err)
	}
	var empty store.Store
	var err error
	switch s.Dialect() {
	case store.SQLite:
		empty, err = store.OpenSQLite(context.Background(), t.TempDir()+"/empty.db", store.Options{NoMigrate: true})
	case store.Postgres:
		empty, err = store.OpenPostgres(context.Background(), NewPostgresDatabase(t), store.Options{NoMigrate: true})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if ok, err := empty.HasTables(ctx(t)); err != nil || ok {
		t.Errorf("empty database: HasTables = %v, %v", ok, err)
	}
}
