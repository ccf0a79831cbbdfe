package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
)

// ghostly reads one of the shared real GHOSTLY recordings.
func ghostly(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Testdata(t, "ghostly", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func analysesOf(t *testing.T, st store.Store, id string) []store.AnalysisResult {
	t.Helper()
	l, err := st.ListAnalyses(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A patient's reanalysis over a date range analyses its current sessions
// of those dates again with the current settings (real recordings): the
// new analysis is current and records settings_version 1 and the settings'
// parameters, the old ones are kept, the session's RPE is kept; sessions
// outside the range, superseded and rejected ones are left alone. Again
// with the same settings, the analysis with identical parameters replaces
// its row rather than adding one.
func TestReanalyzePatient(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		const (
			keyA = "P041/Ghostly_Emg_20230321_17-23-09-0409.c3d"
			keyB = "P041/Ghostly_Emg_20230321_17-28-14-0160.c3d"
			keyC = "P041/Ghostly_Emg_20250310_11-46-23-0823.c3d"
		)
		// A's key first held another recording: that session is superseded.
		old := ingestDone(t, p, keyA, testrec.Ghostly(testrec.Options{Seed: 41, Seconds: 10}))
		time.Sleep(5 * time.Millisecond) // a new mtime for the folder storage
		a := ingestDone(t, p, keyA, ghostly(t, "Ghostly_Emg_20230321_17-23-09-0409.c3d"))
		b := ingestDone(t, p, keyB, ghostly(t, "Ghostly_Emg_20230321_17-28-14-0160.c3d"))
		c := ingestDone(t, p, keyC, ghostly(t, "Ghostly_Emg_20250310_11-46-23-0823.c3d"))
		if _, err := p.svc.Ingest(ctx, p.upload(t, "P041/Ghostly_Emg_20230321_18-00-00-0001.c3d", []byte("not a C3D file at all"))); !errors.Is(err, service.ErrInvalidFile) {
			t.Fatalf("rejected upload: %v", err)
		}
		if s, _ := st.GetSession(ctx, old); s.SupersededBy != a {
			t.Fatalf("the first version is not superseded by %s: %+v", a, s)
		}
		rpe := 7.0
		if _, err := p.svc.Reanalyze(ctx, b, emg.Params{RPE: &rpe}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, b, store.StatusCompleted, 60*time.Second)
		if n := len(analysesOf(t, st, b)); n != 2 {
			t.Fatalf("B has %d analyses after the RPE, want 2", n)
		}
		if _, err := st.SaveSettings(ctx, "P041", json.RawMessage(`{"mvc":{"CH1":0.0002,"CH2":0.0001},"threshold_pct":50,"duration_threshold_ms":300,"sessions_per_week":4}`), "api"); err != nil {
			t.Fatal(err)
		}

		re, err := p.svc.ReanalyzePatient(ctx, "P041", day("2023-03-21"), day("2023-03-22"))
		if err != nil {
			t.Fatal(err)
		}
		if re.Sessions != 2 || re.SettingsVersion != 1 || len(re.Skipped) != 0 {
			t.Fatalf("reanalysis %+v, want 2 sessions with settings version 1", re)
		}
		for _, id := range []string{a, b} {
			waitFor(t, st, id, store.StatusCompleted, 60*time.Second)
		}
		check := func(id string, analyses int, rpe *float64) analysed {
			t.Helper()
			if n := len(analysesOf(t, st, id)); n != analyses {
				t.Errorf("session %s: %d analyses, want %d", id, n, analyses)
			}
			got := currentAnalysis(t, st, id)
			if got.summary.SettingsVersion != 1 || got.params.MVC["CH1"] != 0.0002 || got.params.ThresholdPct == nil || *got.params.ThresholdPct != 50 ||
				got.params.DurationThresholdMs == nil || *got.params.DurationThresholdMs != 300 || !eqFloat(got.params.RPE, rpe) {
				t.Errorf("session %s: settings_version %d, params %s", id, got.summary.SettingsVersion, got.a.Params)
			}
			if ch := got.summary.Analytics["CH1"]; ch == nil || ch.MVC75Threshold == nil || math.Abs(*ch.MVC75Threshold-0.0001) > 1e-15 {
				var thr any
				if ch != nil && ch.MVC75Threshold != nil {
					thr = *ch.MVC75Threshold
				}
				t.Errorf("session %s: CH1 MVC threshold %v, want the settings' 0.0001", id, thr)
			}
			return got
		}
		firstA := check(a, 2, nil)
		check(b, 3, &rpe)
		for id, what := range map[string]string{c: "outside the range", old: "superseded"} {
			if l := analysesOf(t, st, id); len(l) != 1 {
				t.Errorf("the session %s (%s) has %d analyses, want 1", id, what, len(l))
			}
		}
		page, err := st.ListSessions(ctx, store.ListOptions{PatientCode: "P041", Status: store.StatusRejected})
		if err != nil || len(page.Sessions) != 1 || page.Sessions[0].HasAnalysis {
			t.Errorf("the rejected recording: %+v, %v", page, err)
		}

		// The whole range, the same settings: A's analysis has identical
		// parameters and replaces its row (still 2, newer); C gets its own.
		re, err = p.svc.ReanalyzePatient(ctx, "P041", time.Time{}, time.Time{})
		if err != nil || re.Sessions != 3 {
			t.Fatalf("whole range: %+v, %v; want 3 sessions", re, err)
		}
		for _, id := range []string{a, b, c} {
			waitFor(t, st, id, store.StatusCompleted, 60*time.Second)
		}
		againA := check(a, 2, nil)
		if againA.a.ParamsHash != firstA.a.ParamsHash || !againA.a.CreatedAt.After(firstA.a.CreatedAt) {
			t.Errorf("A analysed again with identical parameters: hash %s (was %s), created %v (was %v)",
				againA.a.ParamsHash, firstA.a.ParamsHash, againA.a.CreatedAt, firstA.a.CreatedAt)
		}
		check(b, 3, &rpe)
		check(c, 2, nil)

		// A patient without sessions: nothing queued.
		if re, err := p.svc.ReanalyzePatient(ctx, "P404", time.Time{}, time.Time{}); err != nil || re.Sessions != 0 || re.SettingsVersion != 0 {
			t.Errorf("unknown patient: %+v, %v", re, err)
		}
	})
}

func eqFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// txCountingStore counts the transactions run on it.
type txCountingStore struct {
	store.Store
	txs atomic.Int32
}

func (s *txCountingStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	s.txs.Add(1)
	return s.Store.InTx(ctx, fn)
}

// jobQueue records jobs, refusing every job after the first okJobs (<0:
// none refused).
type jobQueue struct {
	mu     sync.Mutex
	jobs   []service.AnalyzeArgs
	okJobs int
}

func (q *jobQueue) EnqueueTx(_ context.Context, _ store.Tx, a service.AnalyzeArgs) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.okJobs >= 0 && len(q.jobs) >= q.okJobs {
		return errors.New("queue refused the job")
	}
	q.jobs = append(q.jobs, a)
	return nil
}

// completedSessions creates n completed sessions of patient recorded on
// consecutive days from 2024-01-01.
func completedSessions(t *testing.T, st store.Store, patient string, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	for i := range n {
		rec := day("2024-01-01").AddDate(0, 0, i)
		s, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ETag: "e",
			ObjectKey: fmt.Sprintf("%s/Ghostly_Emg_%s_10-00-00-0001.c3d", patient, rec.Format("20060102")), RecordedAt: &rec})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetStatus(ctx, s.ID, store.StatusUpdate{Status: store.StatusCompleted}); err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	return ids
}

// A long range is queued in transactions of at most 100 sessions, each
// session's status and job together: a job the queue refuses leaves its
// batch unchanged, the batches before stay queued.
func TestReanalyzePatientBatches(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ids := completedSessions(t, st, "P042", 210)
		cs := &txCountingStore{Store: st}
		q := &jobQueue{okJobs: -1}
		svc := &service.Service{Store: cs, Queue: q}
		re, err := svc.ReanalyzePatient(ctx, "P042", time.Time{}, time.Time{})
		if err != nil || re.Sessions != 210 {
			t.Fatalf("%+v, %v", re, err)
		}
		if n := cs.txs.Load(); n != 3 {
			t.Errorf("%d transactions for 210 sessions, want 3", n)
		}
		if len(q.jobs) != 210 {
			t.Fatalf("%d jobs, want 210", len(q.jobs))
		}
		for i, j := range q.jobs {
			if j.SessionID != ids[i] || !j.CurrentSettings || j.Params != nil {
				t.Fatalf("job %d: %+v, want session %s with the current settings, no parameters", i, j, ids[i])
			}
		}
		status := func(id string) store.Status {
			s, err := st.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return s.Status
		}
		for _, id := range ids {
			if s := status(id); s != store.StatusPending {
				t.Fatalf("session %s is %s, want pending", id, s)
			}
		}

		// The queue refuses the 101st job: the first batch is queued, the
		// second rolled back, the third never tried.
		ids = completedSessions(t, st, "P043", 210)
		refusing := &service.Service{Store: st, Queue: &jobQueue{okJobs: 100}}
		if _, err := refusing.ReanalyzePatient(ctx, "P043", time.Time{}, time.Time{}); !errors.Is(err, service.ErrUnavailable) {
			t.Fatalf("error %v, want ErrUnavailable", err)
		}
		for i, id := range ids {
			want := store.StatusPending
			if i >= 100 {
				want = store.StatusCompleted
			}
			if s := status(id); s != want {
				t.Fatalf("session %d is %s, want %s", i, s, want)
			}
		}
	})
}

// slowStat is a storage whose Stat takes a while, counting the most calls
// under way at once; the objects in gone are not found, the others are at
// version v1.
type slowStat struct {
	storage.Backend
	gone           map[string]bool
	inFlight, most atomic.Int32
	calls          atomic.Int32
}

func (s *slowStat) Stat(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	s.calls.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(10 * time.Millisecond)
	if s.gone[key] {
		return storage.ObjectInfo{}, storage.ErrNotFound
	}
	return storage.ObjectInfo{Version: "v1"}, nil
}

// A reanalysis asks the storage about its sessions' objects a few at a
// time, never more than service.ReanalyzeStats at once, and lists the
// sessions whose object is gone in the sessions' order, queuing the others.
func TestReanalyzePatientStatsConcurrently(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	fs := &slowStat{gone: map[string]bool{}}
	var ids, gone []string
	for i := range 130 {
		rec := day("2024-01-01").Add(time.Duration(i) * time.Hour)
		key := fmt.Sprintf("P044/Ghostly_Emg_%s-0001.c3d", rec.Format("20060102_15-04-05"))
		s, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ETag: "e", ObjectKey: key, RecordedAt: &rec, StorageVersion: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			fs.gone[key] = true
			gone = append(gone, s.ID)
		} else {
			ids = append(ids, s.ID)
		}
	}
	q := &jobQueue{okJobs: -1}
	svc := &service.Service{Store: st, Storage: fs, Queue: q}
	re, err := svc.ReanalyzePatient(ctx, "P044", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if re.Sessions != len(ids) || len(re.Skipped) != len(gone) || int(fs.calls.Load()) != len(ids)+len(gone) {
		t.Fatalf("%d queued, %d skipped after %d storage requests; want %d and %d", re.Sessions, len(re.Skipped), fs.calls.Load(), len(ids), len(gone))
	}
	for i, s := range re.Skipped {
		if s.SessionID != gone[i] || !strings.Contains(s.Reason, "no longer in storage") {
			t.Fatalf("skipped %d: %+v, want session %s, its object gone", i, s, gone[i])
		}
	}
	for i, j := range q.jobs {
		if j.SessionID != ids[i] {
			t.Fatalf("job %d: session %s, want %s", i, j.SessionID, ids[i])
		}
	}
	if m := fs.most.Load(); m < 2 || m > service.ReanalyzeStats {
		t.Errorf("at most %d storage requests at once, want 2 to %d", m, service.ReanalyzeStats)
	}
}
