// Package storetest is the conformance suite every store.Store passes, with
// helpers to open test databases (a fresh SQLite file or PostgreSQL database
// per test) and to check that no table holds a time series.
package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/store"
)

// Run runs the suite; newStore returns a migrated, empty store for each
// subtest.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateSessionIsIdempotent", testCreateIdempotent},
		{"SessionFields", testSessionFields},
		{"SessionCodesPerPatient", testCodes},
		{"SessionCodesPastNineHundredNinetyNine", testCodesPast999},
		{"ExplicitSessionCode", testExplicitCode},
		{"NewETagSupersedes", testSupersede},
		{"ConcurrentCreatesNeverCollide", testConcurrentCodes},
		{"ConcurrentSameObject", testConcurrentSameObject},
		{"CreateSessionsInOneTransaction", testCreateSessions},
		{"ConcurrentCreateSessionsNeverCollide", testConcurrentCreateSessions},
		{"StatusTransitions", testStatus},
		{"InvalidStatus", testInvalidStatus},
		{"UnknownIDs", testUnknown},
		{"BadInput", testBadInput},
		{"AnalysisUpsertNewestIsCurrent", testAnalysis},
		{"CurrentAnalysesOfSeveralSessions", testCurrentAnalyses},
		{"ListFiltersAndCursor", testList},
		{"Transaction", testTx},
		{"DatabaseRejectsInvalidStatus", testCheckConstraint},
		{"NoTimeSeries", testNoTimeSeries},
		{"MigrateTwice", testMigrate},
		{"DeleteSessionAndRetentionFilter", testDelete},
		{"UnfinishedSessionsListedAndFailedOnce", testUnfinished},
		{"StorageVersionReadBackEverywhere", testStorageVersion},
		{"ObjectSessionsOfManyKeys", testObjectSessions},
		{"KeyStats", testKeyStats},
		{"ImportedCreatedAt", testImportedCreatedAt},
		{"HasTables", testHasTables},
		{"ScoringDefaultInFreshDatabase", testScoringDefault},
		{"ScoringConfigLifecycle", testScoringLifecycle},
		{"ScoringCustomConfigs", testScoringCustom},
		{"ScoringDefaultSaved", testScoringDefaultSaved},
		{"PatientsCountCurrentSessions", testPatients},
		{"PatientSessionsWithCurrentAnalysis", testPatientSessions},
		{"RejectedRecordings", testRejected},
		{"SettingsVersions", testSettingsVersions},
		{"SettingsConcurrentSaves", testSettingsConcurrentSaves},
		{"SettingsSaveIfCurrentVersion", testSettingsSaveIf},
		{"SettingsSaveIfRacing", testSettingsSaveIfRacing},
		{"ScopeRestrictsListings", testScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
	t.Run("Accounts", func(t *testing.T) { RunAccounts(t, newStore) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func key(patient string, i int) string {
	return fmt.Sprintf("%s/Ghostly_Emg_20230321_17-50-%02d-%04d.c3d", patient, i%60, i)
}

func create(t *testing.T, s store.Queries, n store.NewSession) *store.Session {
	t.Helper()
	if n.Bucket == "" {
		n.Bucket = "c3d-examples"
	}
	if n.ETag == "" {
		n.ETag = "etag-1"
	}
	sess, created, err := s.CreateSession(ctx(t), n)
	if err != nil {
		t.Fatalf("CreateSession(%+v): %v", n, err)
	}
	if !created {
		t.Fatalf("CreateSession(%+v) returned an existing session", n)
	}
	return sess
}

func int64p(v int64) *int64 { return &v }

func jsonEqual(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: stored value %q is not JSON: %v", what, got, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

func testCreateIdempotent(t *testing.T, s store.Store) {
	n := store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/a.c3d", ETag: "abc-2", FileSizeBytes: int64p(1234)}
	first, created, err := s.CreateSession(ctx(t), n)
	if err != nil || !created {
		t.Fatalf("first CreateSession = %v, %v", created, err)
	}
	if first.SessionCode != "P001S001" || first.PatientCode != "P001" || first.Status != store.StatusPending {
		t.Errorf("new session %+v", first)
	}
	again, created, err := s.CreateSession(ctx(t), n)
	if err != nil || created {
		t.Fatalf("second CreateSession = %v, %v", created, err)
	}
	if again.ID != first.ID || again.SessionCode != first.SessionCode {
		t.Errorf("same object version gave a second session: %s %s vs %s %s", again.ID, again.SessionCode, first.ID, first.SessionCode)
	}
	// The existing session answers with its current status.
	if _, err := s.SetStatus(ctx(t), first.ID, store.StatusUpdate{Status: store.StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	again, _, err = s.CreateSession(ctx(t), n)
	if err != nil || again.Status != store.StatusProcessing {
		t.Errorf("duplicate answered status %q (%v), want processing", again.Status, err)
	}
	// Same key and etag in another bucket is another object.
	other, created, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "other-bucket", ObjectKey: "P001/a.c3d", ETag: "abc-2"})
	if err != nil || !created || other.ID == first.ID {
		t.Errorf("other bucket: created=%v err=%v", created, err)
	}
}

func testSessionFields(t *testing.T, s store.Store) {
	rec := time.Date(2023, 3, 21, 17, 50, 17, 0, time.FixedZone("CET", 3600))
	meta := json.RawMessage(`{"channel_names":["CH1","CH2"],"sampling_rate":2000,"game":{"name":"GHOSTLY","level":3}}`)
	before := time.Now().Add(-time.Second)
	sess := create(t, s, store.NewSession{ObjectKey: "clinic/P012/Ghostly_Emg_20230321_17-50-17-0000.c3d",
		ETag: `"quoted"`, FileSizeBytes: int64p(45_000_000), Metadata: meta, RecordedAt: &rec})
	got, err := s.GetSession(ctx(t), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PatientCode != "P012" || got.SessionCode != "P012S001" || got.Bucket != "c3d-examples" ||
		got.ObjectKey != "clinic/P012/Ghostly_Emg_20230321_17-50-17-0000.c3d" || got.ETag != `"quoted"` {
		t.Errorf("session %+v", got)
	}
	if got.FileSizeBytes == nil || *got.FileSizeBytes != 45_000_000 {
		t.Errorf("file size %v", got.FileSizeBytes)
	}
	jsonEqual(t, "metadata", got.Metadata, meta)
	jsonEqual(t, "timings", got.Timings, json.RawMessage(`{}`))
	if got.RecordedAt == nil || got.RecordedAt.Format(store.RecordedAtLayout) != "2023-03-21T17:50:17" {
		t.Errorf("recorded_at %v, want the wall clock 2023-03-21T17:50:17", got.RecordedAt)
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("created %v updated %v", got.CreatedAt, got.UpdatedAt)
	}
	if got.ProcessedAt != nil || got.SupersededBy != "" || got.FileSHA256 != "" || got.Error != "" || got.HasAnalysis {
		t.Errorf("fresh session %+v", got)
	}
	if _, err := time.Parse(time.RFC3339, got.CreatedAt.Format(time.RFC3339)); err != nil || got.ID != strings.ToLower(got.ID) {
		t.Errorf("id %q", got.ID)
	}
	// By code, by id or code, upper-case id.
	for _, ref := range []string{got.SessionCode, got.ID, strings.ToUpper(got.ID)} {
		f, err := s.FindSession(ctx(t), ref)
		if err != nil || f.ID != got.ID {
			t.Errorf("FindSession(%q) = %v", ref, err)
		}
	}
	if c, err := s.GetSessionByCode(ctx(t), "P012S001"); err != nil || c.ID != got.ID {
		t.Errorf("GetSessionByCode = %v", err)
	}
	if o, err := s.GetSessionByObject(ctx(t), "c3d-examples", got.ObjectKey, `"quoted"`); err != nil || o.ID != got.ID {
		t.Errorf("GetSessionByObject = %v", err)
	}
	// No patient segment: P000. Empty metadata is stored as {}.
	p0 := create(t, s, store.NewSession{ObjectKey: "uploads/x.c3d", Timings: json.RawMessage(`{"phase1_ms": 2.5}`)})
	jsonEqual(t, "initial timings", p0.Timings, json.RawMessage(`{"phase1_ms": 2.5}`))
	if p0.PatientCode != "P000" || p0.SessionCode != "P000S001" || p0.RecordedAt != nil || p0.FileSizeBytes != nil {
		t.Errorf("session without patient %+v", p0)
	}
	jsonEqual(t, "empty metadata", p0.Metadata, json.RawMessage(`{}`))
}

func testCodes(t *testing.T, s store.Store) {
	want := []string{"P001S001", "P001S002", "P002S001", "P001S003", "P000S001", "P002S002", "P010S001"}
	keys := []string{"P001/a.c3d", "P001/b.c3d", "P002/a.c3d", "x/P001/c.c3d", "nopatient.c3d", "P002/P001/b.c3d", "P010/a.c3d"}
	for i, k := range keys {
		if got := create(t, s, store.NewSession{ObjectKey: k}).SessionCode; got != want[i] {
			t.Errorf("key %s: code %s, want %s", k, got, want[i])
		}
	}
}

func testCodesPast999(t *testing.T, s store.Store) {
	create(t, s, store.NewSession{ObjectKey: "P003/old.c3d", SessionCode: "P003S999"})
	if got := create(t, s, store.NewSession{ObjectKey: "P003/a.c3d"}).SessionCode; got != "P003S1000" {
		t.Errorf("after P003S999: %s, want P003S1000", got)
	}
	// Numeric, not text, order: S1000 > S999.
	if got := create(t, s, store.NewSession{ObjectKey: "P003/b.c3d"}).SessionCode; got != "P003S1001" {
		t.Errorf("after P003S1000: %s, want P003S1001", got)
	}
}

func testExplicitCode(t *testing.T, s store.Store) {
	create(t, s, store.NewSession{ObjectKey: "P004/a.c3d", SessionCode: "P004S007"})
	_, _, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P004/b.c3d", ETag: "e", SessionCode: "P004S007"})
	if !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("duplicate session code: %v, want ErrDuplicate", err)
	}
	if _, err := s.GetSessionByObject(ctx(t), "c3d-examples", "P004/b.c3d", "e"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a rejected session was stored: %v", err)
	}
	for _, bad := range []string{"P005S001", "P004X1", "S001", "P004S", "P004S1a"} {
		_, _, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P004/c.c3d", ETag: "e", SessionCode: bad})
		if !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("session code %q for patient P004: %v, want ErrInvalidInput", bad, err)
		}
	}
	if got := create(t, s, store.NewSession{ObjectKey: "P004/d.c3d"}).SessionCode; got != "P004S008" {
		t.Errorf("next code %s, want P004S008", got)
	}
}

func testSupersede(t *testing.T, s store.Store) {
	k := "P006/a.c3d"
	v1 := create(t, s, store.NewSession{ObjectKey: k, ETag: "v1"})
	v2 := create(t, s, store.NewSession{ObjectKey: k, ETag: "v2"})
	other := create(t, s, store.NewSession{ObjectKey: "P006/b.c3d", ETag: "v1"})
	get := func(id string) *store.Session {
		g, err := s.GetSession(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := get(v1.ID); g.SupersededBy != v2.ID {
		t.Errorf("v1 superseded_by %q, want %s", g.SupersededBy, v2.ID)
	}
	if v2.SessionCode != "P006S002" || get(v2.ID).SupersededBy != "" || get(other.ID).SupersededBy != "" {
		t.Errorf("v2 %+v", get(v2.ID))
	}
	v3 := create(t, s, store.NewSession{ObjectKey: k, ETag: "v3"})
	if g := get(v2.ID); g.SupersededBy != v3.ID {
		t.Errorf("v2 superseded_by %q, want %s", g.SupersededBy, v3.ID)
	}
	if g := get(v1.ID); g.SupersededBy != v2.ID {
		t.Errorf("v1 superseded_by changed to %q", g.SupersededBy)
	}
	// The same old version again is a duplicate, not a new version.
	again, created, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: k, ETag: "v1"})
	if err != nil || created || again.ID != v1.ID || get(v3.ID).SupersededBy != "" {
		t.Errorf("old etag again: created=%v err=%v", created, err)
	}
}

func testConcurrentCodes(t *testing.T, s store.Store) {
	const workers, each = 16, 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]string{}
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				patient := fmt.Sprintf("P%03d", 100+(w+i)%3)
				n := store.NewSession{Bucket: "c3d-examples", ObjectKey: key(patient, w*each+i), ETag: "e"}
				var sess *store.Session
				var err error
				if i%2 == 0 { // inside a caller's transaction, as the webhook does
					err = s.InTx(ctx(t), func(tx store.Tx) error {
						sess, _, err = tx.CreateSession(ctx(t), n)
						return err
					})
				} else {
					sess, _, err = s.CreateSession(ctx(t), n)
				}
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if prev, ok := codes[sess.SessionCode]; ok {
					errs <- fmt.Errorf("code %s given to %s and %s", sess.SessionCode, prev, n.ObjectKey)
				}
				codes[sess.SessionCode] = n.ObjectKey
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(codes) != workers*each {
		t.Fatalf("%d codes for %d sessions", len(codes), workers*each)
	}
	// Per patient the numbers are 1..n without gaps.
	per := map[string][]string{}
	for c := range codes {
		per[c[:4]] = append(per[c[:4]], c)
	}
	for p, cs := range per {
		slices.Sort(cs)
		for i, c := range cs {
			if want := store.FormatSessionCode(p, i+1); c != want {
				t.Errorf("patient %s: codes %v are not consecutive", p, cs)
				break
			}
		}
	}
	page, err := s.ListSessions(ctx(t), store.ListOptions{Limit: store.MaxListLimit})
	if err != nil || len(page.Sessions) != workers*each {
		t.Errorf("listed %d sessions (%v)", len(page.Sessions), err)
	}
}

func testConcurrentSameObject(t *testing.T, s store.Store) {
	const workers = 12
	ids := make(chan string, workers)
	var created sync.Map
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			sess, c, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P007/same.c3d", ETag: "e1"})
			if err != nil {
				t.Errorf("worker %d: %v", w, err)
				return
			}
			if c {
				created.Store(w, true)
			}
			ids <- sess.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	n := 0
	created.Range(func(any, any) bool { n++; return true })
	if len(seen) != 1 || n != 1 {
		t.Errorf("%d sessions (%d reported created) for one object version", len(seen), n)
	}
	page, _ := s.ListSessions(ctx(t), store.ListOptions{})
	if len(page.Sessions) != 1 || page.Sessions[0].SessionCode != "P007S001" {
		t.Errorf("stored %d sessions", len(page.Sessions))
	}
}

func testStatus(t *testing.T, s store.Store) {
	sess := create(t, s, store.NewSession{ObjectKey: "P008/a.c3d"})
	p, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusProcessing,
		Timings: json.RawMessage(`{"phase1_ms": 4.5}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != store.StatusProcessing || p.ProcessedAt != nil || !p.UpdatedAt.After(sess.UpdatedAt) && !p.UpdatedAt.Equal(sess.UpdatedAt) {
		t.Errorf("processing: %+v", p)
	}
	jsonEqual(t, "timings", p.Timings, json.RawMessage(`{"phase1_ms": 4.5}`))
	sha := strings.Repeat("ab", 32)
	c, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusCompleted,
		Timings: json.RawMessage(`{"phase2_ms": 812}`), FileSHA256: sha, FileSizeBytes: int64p(99)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusCompleted || c.ProcessedAt == nil || c.FileSHA256 != sha || c.Error != "" ||
		c.FileSizeBytes == nil || *c.FileSizeBytes != 99 {
		t.Errorf("completed: %+v", c)
	}
	jsonEqual(t, "merged timings", c.Timings, json.RawMessage(`{"phase1_ms": 4.5, "phase2_ms": 812}`))
	// Recalculation: processing again keeps the hash; failing records the error.
	f, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusFailed, Error: "data section truncated at byte 4096"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Status != store.StatusFailed || f.Error != "data section truncated at byte 4096" || f.FileSHA256 != sha {
		t.Errorf("failed: %+v", f)
	}
	if f.ProcessedAt == nil || f.ProcessedAt.Before(*c.ProcessedAt) {
		t.Errorf("processed_at %v after %v", f.ProcessedAt, c.ProcessedAt)
	}
	r, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusProcessing})
	if err != nil || r.Error != "" {
		t.Errorf("retry: error %q kept (%v)", r.Error, err)
	}
	nf, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusFailed})
	if err != nil || nf.Error == "" {
		t.Errorf("failed without a message must still store one: %+v %v", nf, err)
	}
	if _, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusCompleted, FileSHA256: "xyz"}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("bad SHA-256: %v", err)
	}
	if _, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusCompleted, Timings: json.RawMessage(`[1,2]`)}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("timings not an object: %v", err)
	}
}

func testInvalidStatus(t *testing.T, s store.Store) {
	sess := create(t, s, store.NewSession{ObjectKey: "P009/a.c3d"})
	for _, st := range []store.Status{"", "done", "PENDING", "completed ", "cancelled"} {
		_, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: st})
		if !errors.Is(err, store.ErrInvalidStatus) || !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("SetStatus(%q) = %v, want ErrInvalidStatus", st, err)
		}
	}
	if _, err := s.ListSessions(ctx(t), store.ListOptions{Status: "done"}); !errors.Is(err, store.ErrInvalidStatus) {
		t.Errorf("ListSessions(status=done) = %v", err)
	}
	if g, _ := s.GetSession(ctx(t), sess.ID); g.Status != store.StatusPending {
		t.Errorf("status changed to %q", g.Status)
	}
}

func testUnknown(t *testing.T, s store.Store) {
	unknown := "0190f3a4-0000-7000-8000-000000000000"
	for _, id := range []string{unknown, "not-a-uuid", "", "'; DROP TABLE sessions; --", "P001S001"} {
		if _, err := s.GetSession(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(%q) = %v", id, err)
		}
		if _, err := s.SetStatus(ctx(t), id, store.StatusUpdate{Status: store.StatusProcessing}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetStatus(%q) = %v", id, err)
		}
		if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: id, ProcessingVersion: "1",
			AnalyticsSummary: json.RawMessage(`{}`)}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SaveAnalysis(%q) = %v", id, err)
		}
		if _, err := s.CurrentAnalysis(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CurrentAnalysis(%q) = %v", id, err)
		}
		if _, err := s.FindSession(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindSession(%q) = %v", id, err)
		}
	}
	if _, err := s.GetSessionByCode(ctx(t), "P001S001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSessionByCode = %v", err)
	}
	if _, err := s.GetSessionByObject(ctx(t), "c3d-examples", "P001/x.c3d", "e"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSessionByObject = %v", err)
	}
	// A session without analysis.
	sess := create(t, s, store.NewSession{ObjectKey: "P001/x.c3d"})
	if _, err := s.CurrentAnalysis(ctx(t), sess.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CurrentAnalysis without analysis = %v", err)
	}
	if l, err := s.ListAnalyses(ctx(t), sess.ID); err != nil || len(l) != 0 {
		t.Errorf("ListAnalyses = %v, %v", l, err)
	}
}

func testBadInput(t *testing.T, s store.Store) {
	bad := []store.NewSession{
		{ObjectKey: "P001/a.c3d", ETag: "e"},
		{Bucket: "b", ETag: "e"},
		{Bucket: "b", ObjectKey: "P001/a.c3d"},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", PatientCode: "patient-1"},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", Metadata: json.RawMessage(`{"a":`)},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", Metadata: json.RawMessage(`[1,2,3]`)},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", Metadata: json.RawMessage(`{"a":1} {"b":2}`)},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", FileSizeBytes: int64p(-1)},
		{Bucket: "b", ObjectKey: "P001/a.c3d", ETag: "e", Timings: json.RawMessage(`[1]`)},
	}
	for _, n := range bad {
		if _, _, err := s.CreateSession(ctx(t), n); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("CreateSession(%+v) = %v, want ErrInvalidInput", n, err)
		}
	}
	sess := create(t, s, store.NewSession{ObjectKey: "P001/a.c3d"})
	badA := []store.AnalysisResult{
		{SessionID: sess.ID, AnalyticsSummary: json.RawMessage(`{}`)},
		{SessionID: sess.ID, ProcessingVersion: "1"},
		{SessionID: sess.ID, ProcessingVersion: "1", AnalyticsSummary: json.RawMessage(`nope`)},
		{SessionID: sess.ID, ProcessingVersion: "1", AnalyticsSummary: json.RawMessage(`{}`), Params: json.RawMessage(`"x"`)},
		{SessionID: sess.ID, ProcessingVersion: "1", AnalyticsSummary: json.RawMessage(`{}`), Scores: json.RawMessage(`{`)},
	}
	for _, a := range badA {
		if _, err := s.SaveAnalysis(ctx(t), a); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("SaveAnalysis(%+v) = %v, want ErrInvalidInput", a, err)
		}
	}
	for _, o := range []store.ListOptions{{Limit: -1}, {Cursor: "garbage"}, {Cursor: "eyJjIjoxfQ"}} {
		if _, err := s.ListSessions(ctx(t), o); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("ListSessions(%+v) = %v, want ErrInvalidInput", o, err)
		}
	}
}

// CurrentAnalyses gives, in one call, what CurrentAnalysis gives per session.
func testCurrentAnalyses(t *testing.T, s store.Store) {
	var ids []string
	for i, n := range []int{2, 0, 3} { // analyses per session
		sess := create(t, s, store.NewSession{ObjectKey: fmt.Sprintf("P012/%d.c3d", i)})
		ids = append(ids, sess.ID)
		for k := 0; k < n; k++ {
			time.Sleep(2 * time.Millisecond)
			if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "emg-1",
				Params: json.RawMessage(fmt.Sprintf(`{"k":%d}`, k)), AnalyticsSummary: json.RawMessage(fmt.Sprintf(`{"n":%d}`, k))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.CurrentAnalyses(ctx(t), append(ids, "not-an-id", "00000000-0000-0000-0000-000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[ids[1]] != nil {
		t.Fatalf("%d results (%v); want the two sessions with analyses", len(got), got)
	}
	for _, id := range []string{ids[0], ids[2]} {
		want, err := s.CurrentAnalysis(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if got[id] == nil || got[id].ParamsHash != want.ParamsHash {
			t.Errorf("session %s: %+v, want the current %s", id, got[id], want.ParamsHash)
		}
	}
	if none, err := s.CurrentAnalyses(ctx(t), nil); err != nil || len(none) != 0 {
		t.Errorf("no ids: %v %v", none, err)
	}
}

func testAnalysis(t *testing.T, s store.Store) {
	sess := create(t, s, store.NewSession{ObjectKey: "P011/a.c3d"})
	paramsA := json.RawMessage(`{"threshold_factor": 0.2, "mvc": {"CH1": 1.5e-4}}`)
	paramsA2 := json.RawMessage(`{"mvc": {"CH1": 1.5e-4}, "threshold_factor": 0.2}`) // same, other order
	paramsB := json.RawMessage(`{"threshold_factor": 0.3, "mvc": {"CH1": 1.5e-4}}`)
	summary := func(v int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"CH1":{"contraction_count":%d,"contractions":[{"start_s":1.5,"end_s":2.25,"max_amplitude":0.0004}]}}`, v))
	}
	a1, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "emg-1",
		Params: paramsA, AnalyticsSummary: summary(1), Scores: json.RawMessage(`{"overall": 71.5}`)})
	if err != nil {
		t.Fatal(err)
	}
	hA, _ := store.ParamsHash(paramsA)
	hA2, _ := store.ParamsHash(paramsA2)
	hB, _ := store.ParamsHash(paramsB)
	if hA != hA2 || hA == hB || a1.ParamsHash != hA || len(hA) != 64 {
		t.Errorf("params hashes %s %s %s (stored %s)", hA, hA2, hB, a1.ParamsHash)
	}
	g, _ := s.GetSession(ctx(t), sess.ID)
	if !g.HasAnalysis {
		t.Error("HasAnalysis false after SaveAnalysis")
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "emg-1",
		Params: paramsB, AnalyticsSummary: summary(2)}); err != nil {
		t.Fatal(err)
	}
	cur, err := s.CurrentAnalysis(ctx(t), sess.ID)
	if err != nil || cur.ParamsHash != hB {
		t.Fatalf("current = %+v, %v; want params B", cur, err)
	}
	jsonEqual(t, "summary", cur.AnalyticsSummary, summary(2))
	if cur.Scores != nil {
		t.Errorf("scores %s, want none", cur.Scores)
	}
	// The same parameters again (in another key order) replace row A and make it current.
	time.Sleep(2 * time.Millisecond)
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "emg-1",
		Params: paramsA2, AnalyticsSummary: summary(3), Scores: json.RawMessage(`{"overall": 80}`)}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListAnalyses(ctx(t), sess.ID)
	if err != nil || len(all) != 2 {
		t.Fatalf("ListAnalyses = %d rows, %v; want 2", len(all), err)
	}
	if all[0].ParamsHash != hA || !all[0].CreatedAt.After(all[1].CreatedAt) {
		t.Errorf("newest first: %s at %v, %s at %v", all[0].ParamsHash, all[0].CreatedAt, all[1].ParamsHash, all[1].CreatedAt)
	}
	jsonEqual(t, "replaced summary", all[0].AnalyticsSummary, summary(3))
	jsonEqual(t, "replaced scores", all[0].Scores, json.RawMessage(`{"overall": 80}`))
	jsonEqual(t, "params", all[0].Params, paramsA)
	// A new processing version is a new row.
	time.Sleep(2 * time.Millisecond)
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "emg-2",
		Params: paramsA, AnalyticsSummary: summary(4)}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := s.CurrentAnalysis(ctx(t), sess.ID); cur.ProcessingVersion != "emg-2" {
		t.Errorf("current version %s, want emg-2", cur.ProcessingVersion)
	}
	if all, _ := s.ListAnalyses(ctx(t), sess.ID); len(all) != 3 {
		t.Errorf("%d rows, want 3", len(all))
	}
}

func testList(t *testing.T, s store.Store) {
	var all []*store.Session
	for i := range 23 {
		patient := []string{"P001", "P002", "P003"}[i%3]
		sess := create(t, s, store.NewSession{ObjectKey: key(patient, i)})
		all = append(all, sess)
		if i%4 == 0 {
			if _, err := s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusCompleted}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Newest first: creation time, then id.
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b *store.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	check := func(o store.ListOptions, keep func(*store.Session) bool) {
		t.Helper()
		var got []string
		cursor := ""
		pages := 0
		for {
			o.Cursor = cursor
			page, err := s.ListSessions(ctx(t), o)
			if err != nil {
				t.Fatalf("ListSessions(%+v): %v", o, err)
			}
			if o.Limit > 0 && len(page.Sessions) > o.Limit {
				t.Fatalf("page of %d > limit %d", len(page.Sessions), o.Limit)
			}
			for _, ss := range page.Sessions {
				got = append(got, ss.ID)
			}
			pages++
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
			if pages > 100 {
				t.Fatal("paging does not end")
			}
		}
		var exp []string
		for _, w := range want {
			if keep(w) {
				exp = append(exp, w.ID)
			}
		}
		if !slices.Equal(got, exp) {
			t.Errorf("ListSessions(%+v): %d ids, want %d in order", o, len(got), len(exp))
		}
	}
	check(store.ListOptions{}, func(*store.Session) bool { return true })
	check(store.ListOptions{Limit: 5}, func(*store.Session) bool { return true })
	check(store.ListOptions{Limit: 1}, func(*store.Session) bool { return true })
	check(store.ListOptions{Limit: 4, PatientCode: "P002"}, func(x *store.Session) bool { return x.PatientCode == "P002" })
	completed := map[string]bool{}
	for i, x := range all {
		if i%4 == 0 {
			completed[x.ID] = true
		}
	}
	check(store.ListOptions{Limit: 2, Status: store.StatusCompleted}, func(x *store.Session) bool { return completed[x.ID] })
	check(store.ListOptions{Limit: 3, Status: store.StatusPending, PatientCode: "P001"},
		func(x *store.Session) bool { return !completed[x.ID] && x.PatientCode == "P001" })
	check(store.ListOptions{PatientCode: "P999"}, func(*store.Session) bool { return false })
	// Sessions created after a page was read do not disturb the next pages.
	page, err := s.ListSessions(ctx(t), store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	create(t, s, store.NewSession{ObjectKey: "P001/late.c3d"})
	next, err := s.ListSessions(ctx(t), store.ListOptions{Limit: 10, Cursor: page.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Sessions) != 10 || next.Sessions[0].ID != want[10].ID {
		t.Errorf("second page after an insert starts at %s, want %s", next.Sessions[0].ID, want[10].ID)
	}
	// Limits are capped.
	if p, err := s.ListSessions(ctx(t), store.ListOptions{Limit: 1_000_000}); err != nil || len(p.Sessions) != 24 {
		t.Errorf("huge limit: %d sessions, %v", len(p.Sessions), err)
	}
}

func testTx(t *testing.T, s store.Store) {
	boom := errors.New("enqueue failed")
	var id string
	err := s.InTx(ctx(t), func(tx store.Tx) error {
		sess, _, err := tx.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P012/a.c3d", ETag: "e"})
		if err != nil {
			return err
		}
		id = sess.ID
		// Visible inside the transaction.
		if _, err := tx.GetSession(ctx(t), id); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v", err)
	}
	if _, err := s.GetSession(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back session is visible: %v", err)
	}
	// The code is free again.
	var sess *store.Session
	err = s.InTx(ctx(t), func(tx store.Tx) error {
		switch d := store.NativeTx(tx).(type) {
		case *sql.Tx:
			if s.Dialect() != store.SQLite {
				return fmt.Errorf("%s transaction is a *sql.Tx", s.Dialect())
			}
			var one int
			if err := d.QueryRowContext(ctx(t), "SELECT 1").Scan(&one); err != nil {
				return err
			}
		default:
			if s.Dialect() != store.Postgres || !strings.Contains(fmt.Sprintf("%T", d), "pgx") {
				return fmt.Errorf("%s transaction driver is %T", s.Dialect(), d)
			}
		}
		var err error
		sess, _, err = tx.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P012/b.c3d", ETag: "e"})
		if err != nil {
			return err
		}
		_, err = tx.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusProcessing})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx(t), sess.ID)
	if err != nil || got.SessionCode != "P012S001" || got.Status != store.StatusProcessing {
		t.Errorf("committed session %+v, %v", got, err)
	}
	// A panic rolls back too.
	func() {
		defer func() { recover() }()
		s.InTx(ctx(t), func(tx store.Tx) error {
			tx.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: "P012/panic.c3d", ETag: "e"})
			panic("worker bug")
		})
	}()
	if _, err := s.GetSessionByObject(ctx(t), "c3d-examples", "P012/panic.c3d", "e"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a panicking transaction is visible: %v", err)
	}
}

func testCheckConstraint(t *testing.T, s store.Store) {
	sess := create(t, s, store.NewSession{ObjectKey: "P013/a.c3d"})
	db := DB(s)
	q := "UPDATE sessions SET status = 'done' WHERE id = $1"
	if _, err := db.ExecContext(ctx(t), q, sess.ID); err == nil {
		t.Error("the database accepted status 'done'")
	}
	if _, err := db.ExecContext(ctx(t), "UPDATE sessions SET session_code = 'P013S001' WHERE id <> $1", sess.ID); err != nil {
		t.Fatal(err) // no other rows: nothing to violate
	}
	other := create(t, s, store.NewSession{ObjectKey: "P013/b.c3d"})
	if _, err := db.ExecContext(ctx(t), "UPDATE sessions SET session_code = 'P013S001' WHERE id = $1", other.ID); err == nil {
		t.Error("the database accepted a duplicate session code")
	}
	if _, err := db.ExecContext(ctx(t), "UPDATE sessions SET etag = $1 WHERE id = $2", sess.ETag, other.ID); err != nil {
		t.Fatal(err) // other key: allowed
	}
	if _, err := db.ExecContext(ctx(t), "UPDATE sessions SET object_key = $1 WHERE id = $2", sess.ObjectKey, other.ID); err == nil {
		t.Error("the database accepted a second session of one object version")
	}
	if _, err := db.ExecContext(ctx(t), `INSERT INTO analysis_results
		(session_id, processing_version, params, params_hash, analytics_summary, created_at)
		VALUES ($1, '1', '{}', 'h', '{}', $2)`, "0190f3a4-0000-7000-8000-000000000000", time.Now().UTC().Format(time.RFC3339)); err == nil {
		t.Error("the database accepted an analysis of no session")
	}
	// No column for signals.
	var n int
	if err := db.QueryRowContext(ctx(t), "SELECT COUNT(*) FROM analysis_results WHERE 1 = 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx(t), "SELECT emg_signals FROM analysis_results"); err == nil {
		t.Error("analysis_results has an emg_signals column")
	}
}

func testNoTimeSeries(t *testing.T, s store.Store) {
	sess := create(t, s, store.NewSession{ObjectKey: "P014/a.c3d",
		Metadata: json.RawMessage(`{"channel_names":["CH1","CH2"],"channel_count":2,"sampling_rate":2000}`)})
	signal := make([]float64, 5000)
	for i := range signal {
		signal[i] = float64(i) * 1e-6
	}
	sig, _ := json.Marshal(map[string]any{"CH1": map[string]any{"data": signal}})
	// The store refuses time series in every JSON field.
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "1",
		AnalyticsSummary: sig}); !errors.Is(err, store.ErrTimeSeries) {
		t.Errorf("SaveAnalysis with a signal = %v, want ErrTimeSeries", err)
	}
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "1",
		AnalyticsSummary: json.RawMessage(`{}`), Scores: sig}); !errors.Is(err, store.ErrTimeSeries) {
		t.Errorf("SaveAnalysis with a signal in scores = %v, want ErrTimeSeries", err)
	}
	if _, _, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "b", ObjectKey: "P014/b.c3d", ETag: "e",
		Metadata: sig}); !errors.Is(err, store.ErrTimeSeries) {
		t.Errorf("CreateSession with a signal in metadata = %v, want ErrTimeSeries", err)
	}
	// A realistic summary with a few hundred numbers at most is fine.
	contractions := make([]map[string]float64, 60)
	for i := range contractions {
		contractions[i] = map[string]float64{"start_s": float64(i), "end_s": float64(i) + 0.5, "max_amplitude": 1e-4}
	}
	okSummary, _ := json.Marshal(map[string]any{"CH1": map[string]any{"contractions": contractions,
		"mvc_per_rep": make([]float64, store.MaxJSONArrayNumbers)}})
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: "1",
		AnalyticsSummary: okSummary}); err != nil {
		t.Fatalf("realistic summary rejected: %v", err)
	}
	AssertNoTimeSeries(t, s)

	// The scan finds a series written past the store.
	if _, err := DB(s).ExecContext(ctx(t), "UPDATE sessions SET metadata = $1 WHERE id = $2", string(sig), sess.ID); err != nil {
		t.Fatal(err)
	}
	findings, err := FindTimeSeries(ctx(t), DB(s), s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || !strings.Contains(findings[0], "sessions.metadata") || !strings.Contains(findings[0], "5000") {
		t.Errorf("FindTimeSeries = %q, want the 5000 numbers in sessions.metadata", findings)
	}
}

func testMigrate(t *testing.T, s store.Store) {
	if err := s.Migrate(ctx(t)); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	cols := map[string]bool{}
	var q string
	if s.Dialect() == store.SQLite {
		q = "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.name IN ('sessions','analysis_results')"
	} else {
		q = "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN ('sessions','analysis_results')"
	}
	rs, err := DB(s).QueryContext(ctx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var c string
		rs.Scan(&c)
		cols[c] = true
	}
	rs.Close()
	want := []string{}
	for _, c := range strings.Fields(`id session_code patient_code bucket object_key etag file_size_bytes file_sha256
		status error metadata recorded_at superseded_by timings created_at updated_at processed_at storage_version`) {
		want = append(want, "sessions."+c)
	}
	for _, c := range strings.Fields(`session_id processing_version params params_hash analytics_summary scores created_at`) {
		want = append(want, "analysis_results."+c)
	}
	got := slices.Sorted(maps.Keys(cols))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("columns %q, want exactly %q", got, want)
	}
}

func testDelete(t *testing.T, s store.Store) {
	v1 := create(t, s, store.NewSession{ObjectKey: "P015/a.c3d", ETag: "v1"})
	if _, err := s.SaveAnalysis(ctx(t), store.AnalysisResult{SessionID: v1.ID, ProcessingVersion: "1",
		AnalyticsSummary: json.RawMessage(`{"CH1":{}}`)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	v2 := create(t, s, store.NewSession{ObjectKey: "P015/a.c3d", ETag: "v2"})
	old, err := s.ListSessions(ctx(t), store.ListOptions{CreatedBefore: cut})
	if err != nil || len(old.Sessions) != 1 || old.Sessions[0].ID != v1.ID {
		t.Fatalf("CreatedBefore: %v sessions, %v", len(old.Sessions), err)
	}
	if err := s.DeleteSession(ctx(t), v1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx(t), v1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
	if l, err := s.ListAnalyses(ctx(t), v1.ID); err != nil || len(l) != 0 {
		t.Errorf("analyses of a deleted session: %d, %v", len(l), err)
	}
	if g, err := s.GetSession(ctx(t), v2.ID); err != nil || g.SupersededBy != "" {
		t.Errorf("newer version after delete: %v", err)
	}
	if err := s.DeleteSession(ctx(t), v1.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.DeleteSession(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of a non-id: %v", err)
	}
	// Deleting the newer version clears the older one's link.
	v3 := create(t, s, store.NewSession{ObjectKey: "P015/a.c3d", ETag: "v3"})
	if err := s.DeleteSession(ctx(t), v3.ID); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetSession(ctx(t), v2.ID); g.SupersededBy != "" {
		t.Errorf("superseded_by %q points to a deleted session", g.SupersededBy)
	}
}

// testStorageVersion: the storage's own version of the object is stored
// beside the sender's etag (in another form) and read back by every query
// that returns sessions; sessions without one read back "".
func testStorageVersion(t *testing.T, s store.Store) {
	const k = "P016/Ghostly_Emg_20230321_17-50-17-0000.c3d"
	sess := create(t, s, store.NewSession{ObjectKey: k, ETag: "d41d8cd98f00b204e9800998ecf8427e",
		StorageVersion: "12345-1700000000123456789"})
	if sess.StorageVersion != "12345-1700000000123456789" || sess.ETag != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("CreateSession returned storage version %q, etag %q", sess.StorageVersion, sess.ETag)
	}
	check := func(what string, got *store.Session, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if got.ID != sess.ID || got.StorageVersion != sess.StorageVersion {
			t.Errorf("%s: session %s storage version %q, want %s %q", what, got.ID, got.StorageVersion, sess.ID, sess.StorageVersion)
		}
	}
	got, err := s.GetSession(ctx(t), sess.ID)
	check("GetSession", got, err)
	got, err = s.GetSessionByCode(ctx(t), sess.SessionCode)
	check("GetSessionByCode", got, err)
	got, err = s.FindSession(ctx(t), sess.SessionCode)
	check("FindSession", got, err)
	got, err = s.GetSessionByObject(ctx(t), "c3d-examples", k, sess.ETag)
	check("GetSessionByObject", got, err)
	got, created, err := s.CreateSession(ctx(t), store.NewSession{Bucket: "c3d-examples", ObjectKey: k, ETag: sess.ETag})
	if created {
		t.Error("duplicate CreateSession created a session")
	}
	check("CreateSession of a known object version", got, err)
	got, err = s.SetStatus(ctx(t), sess.ID, store.StatusUpdate{Status: store.StatusProcessing})
	check("SetStatus", got, err)
	page, err := s.ListSessions(ctx(t), store.ListOptions{Limit: 10})
	if err != nil || len(page.Sessions) != 1 {
		t.Fatalf("ListSessions = %v, %v", page, err)
	}
	check("ListSessions", &page.Sessions[0], nil)
	err = s.InTx(ctx(t), func(tx store.Tx) error {
		got, err := tx.GetSession(ctx(t), sess.ID)
		check("GetSession in a transaction", got, err)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Overwritten: the new version's session has its own storage version.
	newer := create(t, s, store.NewSession{ObjectKey: k, ETag: "e2", StorageVersion: "999-1700000000999999999"})
	if newer.StorageVersion != "999-1700000000999999999" {
		t.Errorf("newer session storage version %q", newer.StorageVersion)
	}
	got, err = s.GetSession(ctx(t), sess.ID)
	check("GetSession of the superseded session", got, err)
	// None given: "".
	none := create(t, s, store.NewSession{ObjectKey: "P016/b.c3d"})
	if g, err := s.GetSession(ctx(t), none.ID); err != nil || g.StorageVersion != "" {
		t.Errorf("session without storage version reads %q (%v)", g.StorageVersion, err)
	}
}

// CreateSessions is CreateSession of each in order, in the caller's
// transaction: consecutive codes per patient, an object version already
// stored (before or earlier in the same call) returned as it is, a new
// version superseding the old.
func testCreateSessions(t *testing.T, s store.Store) {
	old := create(t, s, store.NewSession{ObjectKey: "P020/a.c3d", ETag: "v1"})
	dup := create(t, s, store.NewSession{ObjectKey: "P020/b.c3d", ETag: "v1"})
	ns := []store.NewSession{
		{ObjectKey: "P020/a.c3d", ETag: "v2"}, // new version of old
		{ObjectKey: "P021/a.c3d", ETag: "v1"},
		{ObjectKey: "P020/b.c3d", ETag: "v1"}, // stored already
		{ObjectKey: "P020/c.c3d", ETag: "v1"},
		{ObjectKey: "P020/c.c3d", ETag: "v1"}, // same as the one before
		{ObjectKey: "P021/b.c3d", ETag: "v1", Metadata: json.RawMessage(`{"k":1}`)},
	}
	for i := range ns {
		ns[i].Bucket = "c3d-examples"
	}
	var made []store.Created
	err := s.InTx(ctx(t), func(tx store.Tx) error {
		var err error
		made, err = tx.CreateSessions(ctx(t), ns)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != len(ns) {
		t.Fatalf("%d results for %d sessions", len(made), len(ns))
	}
	want := []struct {
		code    string
		created bool
	}{{"P020S003", true}, {"P021S001", true}, {dup.SessionCode, false}, {"P020S004", true}, {"P020S004", false}, {"P021S002", true}}
	for i, w := range want {
		if m := made[i]; m.Session == nil || m.Session.SessionCode != w.code || m.Created != w.created {
			t.Errorf("session %d (%s): %+v, want code %s created %v", i, ns[i].ObjectKey, m, w.code, w.created)
		}
	}
	if made[2].Session.ID != dup.ID || made[4].Session.ID != made[3].Session.ID {
		t.Errorf("an existing object version got a new session")
	}
	if g, err := s.GetSession(ctx(t), old.ID); err != nil || g.SupersededBy != made[0].Session.ID {
		t.Errorf("old version: %+v, %v; want superseded by %s", g, err, made[0].Session.ID)
	}
	if g, err := s.GetSession(ctx(t), made[5].Session.ID); err != nil || g.Status != store.StatusPending || string(g.Metadata) != string(made[5].Session.Metadata) {
		t.Errorf("created session read back: %+v, %v", g, err)
	}
	jsonEqual(t, "metadata", made[5].Session.Metadata, json.RawMessage(`{"k":1}`))
	// Bad input fails the call (and the caller's transaction rolls back).
	err = s.InTx(ctx(t), func(tx store.Tx) error {
		_, err := tx.CreateSessions(ctx(t), []store.NewSession{{Bucket: "c3d-examples", ObjectKey: "P022/a.c3d", ETag: "e"}, {Bucket: "c3d-examples", ObjectKey: "P022/b.c3d"}})
		return err
	})
	if !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("a session without etag: %v, want ErrInvalidInput", err)
	}
	if _, err := s.GetSessionByObject(ctx(t), "c3d-examples", "P022/a.c3d", "e"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session of a failed call was stored: %v", err)
	}
}

// Transactions creating several sessions each, side by side, for the same
// patients in different orders: every code once, consecutive per patient.
func testConcurrentCreateSessions(t *testing.T, s store.Store) {
	const workers, batches, each = 6, 3, 5
	var mu sync.Mutex
	codes := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				var ns []store.NewSession
				for i := range each {
					patient := fmt.Sprintf("P%03d", 200+(w+i)%3) // orders differ between workers
					ns = append(ns, store.NewSession{Bucket: "c3d-examples", ObjectKey: key(patient, (w*batches+b)*each+i), ETag: "e"})
				}
				var made []store.Created
				err := s.InTx(ctx(t), func(tx store.Tx) error {
					var err error
					made, err = tx.CreateSessions(ctx(t), ns)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, m := range made {
					if codes[m.Session.SessionCode] || !m.Created {
						t.Errorf("code %s given twice (created %v)", m.Session.SessionCode, m.Created)
					}
					codes[m.Session.SessionCode] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	per := map[string][]string{}
	for c := range codes {
		per[c[:4]] = append(per[c[:4]], c)
	}
	n := 0
	for p, cs := range per {
		slices.Sort(cs)
		n += len(cs)
		for i, c := range cs {
			if want := store.FormatSessionCode(p, i+1); c != want {
				t.Errorf("patient %s: codes %v are not consecutive", p, cs)
				break
			}
		}
	}
	if n != workers*batches*each {
		t.Errorf("%d sessions, want %d", n, workers*batches*each)
	}
}
