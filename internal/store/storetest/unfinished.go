package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/store"
)

// testUnfinished: ListUnfinished pages through the pending and processing
// sessions oldest first; FailUnfinished fails one only while it is still
// unfinished and unchanged since read, once however many callers race.
func testUnfinished(t *testing.T, s store.Store) {
	a := create(t, s, store.NewSession{ObjectKey: "P017/a.c3d"})
	b := create(t, s, store.NewSession{ObjectKey: "P017/b.c3d"})
	c := create(t, s, store.NewSession{ObjectKey: "P017/c.c3d"})
	d := create(t, s, store.NewSession{ObjectKey: "P017/d.c3d"})
	e := create(t, s, store.NewSession{ObjectKey: "P017/e.c3d"})
	setStatus := func(id string, st store.Status) *store.Session {
		t.Helper()
		got, err := s.SetStatus(ctx(t), id, store.StatusUpdate{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	setStatus(c.ID, store.StatusCompleted)
	setStatus(d.ID, store.StatusFailed)
	ids := func(l []store.Session) []string {
		var out []string
		for _, x := range l {
			out = append(out, x.SessionCode)
		}
		return out
	}
	list := func(o store.UnfinishedOptions, want ...*store.Session) []store.Session {
		t.Helper()
		got, err := s.ListUnfinished(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = got[i].ID == want[i].ID
		}
		if !ok {
			var w []string
			for _, x := range want {
				w = append(w, x.SessionCode)
			}
			t.Fatalf("ListUnfinished(%+v) = %v, want %v", o, ids(got), w)
		}
		return got
	}
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	b = setStatus(b.ID, store.StatusProcessing)

	all := list(store.UnfinishedOptions{}, a, b, e)
	if all[1].Status != store.StatusProcessing || all[0].Status != store.StatusPending {
		t.Errorf("statuses %s %s", all[0].Status, all[1].Status)
	}
	page := list(store.UnfinishedOptions{Limit: 2}, a, b)
	list(store.UnfinishedOptions{Limit: 2, AfterCreatedAt: page[1].CreatedAt, AfterID: page[1].ID}, e)
	list(store.UnfinishedOptions{UpdatedBefore: cut}, a, e)
	if _, err := s.ListUnfinished(ctx(t), store.UnfinishedOptions{Limit: -1}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("negative limit: %v", err)
	}

	// Unchanged since read: failed, with the message and a processed time.
	done, err := s.FailUnfinished(ctx(t), a.ID, all[0].UpdatedAt, "the analysis job was lost")
	if err != nil || !done {
		t.Fatalf("FailUnfinished of an unchanged session = %v, %v", done, err)
	}
	got, _ := s.GetSession(ctx(t), a.ID)
	if got.Status != store.StatusFailed || got.Error != "the analysis job was lost" || got.ProcessedAt == nil {
		t.Errorf("failed session: %s %q %v", got.Status, got.Error, got.ProcessedAt)
	}
	if done, err := s.FailUnfinished(ctx(t), a.ID, all[0].UpdatedAt, "again"); err != nil || done {
		t.Errorf("second FailUnfinished = %v, %v", done, err)
	}
	// Changed since read (here: from pending to processing): left alone.
	if done, err := s.FailUnfinished(ctx(t), b.ID, a.UpdatedAt, "stale"); err != nil || done {
		t.Errorf("FailUnfinished with a stale time = %v, %v", done, err)
	}
	if got, _ := s.GetSession(ctx(t), b.ID); got.Status != store.StatusProcessing || got.Error != "" {
		t.Errorf("changed session became %s %q", got.Status, got.Error)
	}
	// Finished sessions are never touched.
	for _, x := range []*store.Session{c, d} {
		cur, _ := s.GetSession(ctx(t), x.ID)
		if done, err := s.FailUnfinished(ctx(t), x.ID, cur.UpdatedAt, "no"); err != nil || done {
			t.Errorf("FailUnfinished of a %s session = %v, %v", cur.Status, done, err)
		}
	}
	for _, id := range []string{"nope", "00000000-0000-4000-8000-000000000000"} {
		if _, err := s.FailUnfinished(ctx(t), id, time.Now(), "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FailUnfinished(%q) = %v, want ErrNotFound", id, err)
		}
	}
	// Callers racing (replicas sweeping at once): one changes it.
	var wg sync.WaitGroup
	var changed atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := s.FailUnfinished(ctx(t), e.ID, all[2].UpdatedAt, "raced")
			if err != nil {
				t.Error(err)
			}
			if done {
				changed.Add(1)
			}
		}()
	}
	wg.Wait()
	if changed.Load() != 1 {
		t.Errorf("%d racing callers failed the session, want 1", changed.Load())
	}
	// Inside a transaction too.
	b2, _ := s.GetSession(ctx(t), b.ID)
	err = s.InTx(ctx(t), func(tx store.Tx) error {
		done, err := tx.FailUnfinished(ctx(t), b.ID, b2.UpdatedAt, "in a transaction")
		if err == nil && !done {
			t.Error("FailUnfinished in a transaction did nothing")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	list(store.UnfinishedOptions{})
}
