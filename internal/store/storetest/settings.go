package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"emgd/internal/store"
)

func sameJSON(t *testing.T, got, want json.RawMessage) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("stored document %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}

// testSettingsVersions: a patient without settings has none (ErrNotFound,
// an empty history); each save is the next version, kept with its document,
// time and author; the current one is the highest; SettingsAt finds the
// version in force at a time; patients are independent; bad input is
// ErrInvalidInput; a save rolled back with its transaction leaves nothing.
func testSettingsVersions(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.CurrentSettings(c, "P001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CurrentSettings without settings: %v, want ErrNotFound", err)
	}
	if h, err := s.SettingsHistory(c, "P001"); err != nil || len(h) != 0 || h == nil {
		t.Fatalf("SettingsHistory without settings = %v, %v; want empty", h, err)
	}
	if v, err := s.SettingsVersions(c); err != nil || len(v) != 0 {
		t.Fatalf("SettingsVersions of a fresh database = %v, %v", v, err)
	}
	doc1 := json.RawMessage(`{"mvc":{"CH1":0.00015,"CH2":0.0002},"threshold_pct":60,"muscle_names":{"CH1":"Left quadriceps"},"sessions_per_week":4}`)
	doc2 := json.RawMessage(`{"duration_threshold_ms":500,"sessions_per_week":5}`)
	v1, err := s.SaveSettings(c, "P001", doc1, "api")
	if err != nil {
		t.Fatal(err)
	}
	if v1.PatientCode != "P001" || v1.Version != 1 || v1.UpdatedBy != "api" || v1.UpdatedAt.IsZero() || !sameJSON(t, v1.Document, doc1) {
		t.Errorf("first save = %+v (document %s)", v1, v1.Document)
	}
	time.Sleep(2 * time.Millisecond) // two distinct save times
	v2, err := s.SaveSettings(c, "P001", doc2, "someone@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.UpdatedBy != "someone@example.org" || !v2.UpdatedAt.After(v1.UpdatedAt) || !sameJSON(t, v2.Document, doc2) {
		t.Errorf("second save = %+v after %+v", v2, v1)
	}
	if p2, err := s.SaveSettings(c, "P002", doc2, "api"); err != nil || p2.Version != 1 {
		t.Errorf("another patient's first save = %+v, %v; want version 1", p2, err)
	}
	cur, err := s.CurrentSettings(c, "P001")
	if err != nil || cur.Version != 2 || !sameJSON(t, cur.Document, doc2) || !cur.UpdatedAt.Equal(v2.UpdatedAt) {
		t.Errorf("CurrentSettings = %+v, %v; want version 2", cur, err)
	}
	h, err := s.SettingsHistory(c, "P001")
	if err != nil || len(h) != 2 || h[0].Version != 2 || h[1].Version != 1 || !sameJSON(t, h[1].Document, doc1) ||
		!h[1].UpdatedAt.Equal(v1.UpdatedAt) || h[1].UpdatedBy != "api" {
		t.Errorf("SettingsHistory = %+v, %v; want versions 2 and 1", h, err)
	}
	if v, err := s.SettingsVersions(c); err != nil || !reflect.DeepEqual(v, map[string]int{"P001": 2, "P002": 1}) {
		t.Errorf("SettingsVersions = %v, %v", v, err)
	}
	if _, err := s.SettingsAt(c, "P001", v1.UpdatedAt.Add(-time.Microsecond)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SettingsAt before the first save: %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{{v1.UpdatedAt, 1}, {v2.UpdatedAt.Add(-time.Microsecond), 1}, {v2.UpdatedAt, 2}, {v2.UpdatedAt.Add(time.Hour), 2}} {
		if p, err := s.SettingsAt(c, "P001", tc.at); err != nil || p.Version != tc.want {
			t.Errorf("SettingsAt(%v) = %+v, %v; want version %d", tc.at, p, err, tc.want)
		}
	}
	for _, bad := range []struct {
		code, by string
		doc      json.RawMessage
	}{{"P001", "api", json.RawMessage(`[1]`)}, {"P001", "api", json.RawMessage(`{`)}, {"P001", "api", nil},
		{"", "api", doc1}, {"P001", "", doc1}} {
		if _, err := s.SaveSettings(c, bad.code, bad.doc, bad.by); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("SaveSettings(%q, %s, %q): %v, want ErrInvalidInput", bad.code, bad.doc, bad.by, err)
		}
	}
	rollback := errors.New("roll back")
	if err := s.InTx(c, func(tx store.Tx) error {
		if p, err := tx.SaveSettings(c, "P001", doc1, "api"); err != nil || p.Version != 3 {
			t.Errorf("SaveSettings in a transaction = %+v, %v; want version 3", p, err)
		}
		return rollback
	}); !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	if cur, err := s.CurrentSettings(c, "P001"); err != nil || cur.Version != 2 {
		t.Errorf("after a rolled-back save: %+v, %v; want version 2", cur, err)
	}
}

// testSettingsConcurrentSaves: saves of one patient racing each other all
// succeed with distinct versions 1..n, every document kept.
func testSettingsConcurrentSaves(t *testing.T, s store.Store) {
	c := ctx(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	versions := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := s.SaveSettings(c, "P007", json.RawMessage(fmt.Sprintf(`{"sessions_per_week":%d}`, i+1)), "api")
			errs[i] = err
			if err == nil {
				versions[i] = p.Version
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	}
	sort.Ints(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions of racing saves = %v, want 1..%d each once", versions, n)
		}
	}
	h, err := s.SettingsHistory(c, "P007")
	if err != nil || len(h) != n {
		t.Fatalf("history = %d versions, %v; want %d", len(h), err, n)
	}
	docs := map[string]bool{}
	for _, p := range h {
		var d struct {
			N int `json:"sessions_per_week"`
		}
		if err := json.Unmarshal(p.Document, &d); err != nil {
			t.Fatal(err)
		}
		docs[fmt.Sprint(d.N)] = true
	}
	if len(docs) != n {
		t.Errorf("documents kept: %v, want %d distinct", docs, n)
	}
}

// conflictAt checks that err is SaveSettingsIf's refusal naming current.
func conflictAt(t *testing.T, what string, err error, current int) {
	t.Helper()
	var ce *store.VersionConflictError
	if !errors.Is(err, store.ErrVersionConflict) || !errors.As(err, &ce) || ce.Current != current {
		t.Errorf("%s: %v, want a conflict naming current version %d", what, err, current)
	}
}

// testSettingsSaveIf: SaveSettingsIf saves the next version only while
// the version read is current (0: none yet); a stale or future version is
// a *VersionConflictError naming the current one and saves nothing; bad
// input is ErrInvalidInput; a refusal inside a transaction leaves the
// transaction usable.
func testSettingsSaveIf(t *testing.T, s store.Store) {
	c := ctx(t)
	doc := func(n int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"sessions_per_week":%d}`, n)) }
	v1, err := s.SaveSettingsIf(c, "P010", doc(1), "a@example.org", 0)
	if err != nil || v1.Version != 1 || v1.UpdatedBy != "a@example.org" || !sameJSON(t, v1.Document, doc(1)) {
		t.Fatalf("first SaveSettingsIf(0) = %+v, %v; want version 1", v1, err)
	}
	_, err = s.SaveSettingsIf(c, "P010", doc(2), "api", 0)
	conflictAt(t, "SaveSettingsIf(0) once version 1 exists", err, 1)
	if v2, err := s.SaveSettingsIf(c, "P010", doc(2), "api", 1); err != nil || v2.Version != 2 {
		t.Fatalf("SaveSettingsIf(1) = %+v, %v; want version 2", v2, err)
	}
	_, err = s.SaveSettingsIf(c, "P010", doc(3), "api", 1)
	conflictAt(t, "SaveSettingsIf of a stale version", err, 2)
	_, err = s.SaveSettingsIf(c, "P010", doc(3), "api", 7)
	conflictAt(t, "SaveSettingsIf of a version not yet saved", err, 2)
	_, err = s.SaveSettingsIf(c, "P011", doc(3), "api", 1)
	conflictAt(t, "SaveSettingsIf(1) of a patient without settings", err, 0)
	if h, err := s.SettingsHistory(c, "P010"); err != nil || len(h) != 2 || !sameJSON(t, h[0].Document, doc(2)) {
		t.Errorf("history after refusals = %+v, %v; want versions 2 and 1 only", h, err)
	}
	if h, err := s.SettingsHistory(c, "P011"); err != nil || len(h) != 0 {
		t.Errorf("a refused first save left %+v, %v", h, err)
	}
	for _, bad := range []struct {
		code, by string
		doc      json.RawMessage
		expected int
	}{{"P010", "api", json.RawMessage(`[1]`), 2}, {"", "api", doc(1), 2}, {"P010", "", doc(1), 2}, {"P010", "api", doc(1), -1}} {
		if _, err := s.SaveSettingsIf(c, bad.code, bad.doc, bad.by, bad.expected); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("SaveSettingsIf(%q, %s, %q, %d): %v, want ErrInvalidInput", bad.code, bad.doc, bad.by, bad.expected, err)
		}
	}
	if err := s.InTx(c, func(tx store.Tx) error {
		_, err := tx.SaveSettingsIf(c, "P010", doc(4), "api", 1)
		conflictAt(t, "SaveSettingsIf in a transaction", err, 2)
		p, err := tx.SaveSettingsIf(c, "P010", doc(4), "api", 2)
		if err != nil || p.Version != 3 {
			t.Errorf("SaveSettingsIf after a refusal in the same transaction = %+v, %v; want version 3", p, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentSettings(c, "P010"); err != nil || cur.Version != 3 || !sameJSON(t, cur.Document, doc(4)) {
		t.Errorf("current after the transaction = %+v, %v; want version 3", cur, err)
	}
}

// testSettingsSaveIfRacing: of saves racing from the same version read,
// exactly one is saved; every other is refused naming the winner's
// version, and nothing else is written.
func testSettingsSaveIfRacing(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.SaveSettings(c, "P012", json.RawMessage(`{"sessions_per_week":1}`), "api"); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.SaveSettingsIf(c, "P012", json.RawMessage(fmt.Sprintf(`{"sessions_per_week":%d}`, i+2)), "api", 1)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		conflictAt(t, fmt.Sprintf("racing save %d", i), err, 2)
	}
	if won != 1 {
		t.Errorf("%d racing saves from version 1 succeeded, want exactly 1 (errors %v)", won, errs)
	}
	if h, err := s.SettingsHistory(c, "P012"); err != nil || len(h) != 2 {
		t.Errorf("history after the race = %d versions, %v; want 2", len(h), err)
	}
}
