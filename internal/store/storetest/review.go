package storetest

import (
	"errors"
	"testing"
	"time"

	"emgd/internal/store"
)

func wallTime(s string) *time.Time {
	t, err := time.Parse(store.RecordedAtLayout, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// reviewFixture stores, for P001: a completed session recorded 2026-11-24
// with two analyses, a failed one recorded 2026-11-30, a pending one without
// a recording time, and an object written twice (the first version
// superseded, the second completed, recorded 2026-11-26); for P002 one
// pending session. It returns P001's current sessions by name.
func reviewFixture(t *testing.T, s store.Store) map[string]*store.Session {
	c := ctx(t)
	out := map[string]*store.Session{}
	analyse := func(sess *store.Session, version, summary string) {
		t.Helper()
		if _, err := s.SaveAnalysis(c, store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: version,
			Params: []byte(`{"threshold_pct":60}`), AnalyticsSummary: []byte(summary), Scores: []byte(`{"overall_score":` + version[1:] + `}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetStatus(c, sess.ID, store.StatusUpdate{Status: store.StatusCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	out["a"] = create(t, s, store.NewSession{ObjectKey: "P001/a.c3d", RecordedAt: wallTime("2026-11-24T00:00:00")})
	analyse(out["a"], "v1", `{"analytics":{"CH1":{"rms":1}}}`)
	analyse(out["a"], "v2", `{"analytics":{"CH1":{"rms":2}}}`)
	out["failed"] = create(t, s, store.NewSession{ObjectKey: "P001/f.c3d", RecordedAt: wallTime("2026-11-30T23:59:59")})
	if _, err := s.SetStatus(c, out["failed"].ID, store.StatusUpdate{Status: store.StatusFailed, Error: "bad file"}); err != nil {
		t.Fatal(err)
	}
	out["undated"] = create(t, s, store.NewSession{ObjectKey: "P001/u.c3d"})
	old := create(t, s, store.NewSession{ObjectKey: "P001/b.c3d", RecordedAt: wallTime("2026-11-20T10:00:00")})
	analyse(old, "v1", `{"analytics":{}}`)
	out["b"] = create(t, s, store.NewSession{ObjectKey: "P001/b.c3d", ETag: "etag-2", RecordedAt: wallTime("2026-11-26T08:30:00")})
	analyse(out["b"], "v1", `{"analytics":{"CH2":{"rms":3}}}`)
	create(t, s, store.NewSession{ObjectKey: "P002/c.c3d", RecordedAt: wallTime("2026-12-01T09:00:00")})
	return out
}

func testPatients(t *testing.T, s store.Store) {
	reviewFixture(t, s)
	c := ctx(t)
	got, err := s.Patients(c, store.PatientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PatientSummary{
		{PatientCode: "P001", Sessions: 4, Completed: 2, Failed: 1, LastRecordedAt: wallTime("2026-11-30T23:59:59")},
		{PatientCode: "P002", Sessions: 1, LastRecordedAt: wallTime("2026-12-01T09:00:00")},
	}
	check := func(got, want []store.PatientSummary) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("Patients = %+v, want %+v", got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.PatientCode != w.PatientCode || g.Sessions != w.Sessions || g.Completed != w.Completed || g.Failed != w.Failed ||
				(g.LastRecordedAt == nil) != (w.LastRecordedAt == nil) || (g.LastRecordedAt != nil && !g.LastRecordedAt.Equal(*w.LastRecordedAt)) {
				t.Errorf("patient %d = %+v (last %v), want %+v (last %v)", i, g, g.LastRecordedAt, w, w.LastRecordedAt)
			}
		}
	}
	check(got, want)
	one, err := s.Patients(c, store.PatientOptions{PatientCode: "P002"})
	if err != nil {
		t.Fatal(err)
	}
	check(one, want[1:])
	none, err := s.Patients(c, store.PatientOptions{PatientCode: "P404"})
	if err != nil || len(none) != 0 {
		t.Errorf("Patients(P404) = %+v, %v; want none", none, err)
	}
}

func testPatientSessions(t *testing.T, s store.Store) {
	sessions := reviewFixture(t, s)
	c := ctx(t)
	list := func(r store.PatientRange) []store.SessionAnalysis {
		t.Helper()
		var out []store.SessionAnalysis
		if err := s.PatientSessions(c, r, func(sa store.SessionAnalysis) error {
			out = append(out, sa)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	codes := func(l []store.SessionAnalysis) []string {
		var out []string
		for _, sa := range l {
			for name, sess := range sessions {
				if sess.ID == sa.Session.ID {
					out = append(out, name)
				}
			}
		}
		return out
	}
	same := func(what string, got []store.SessionAnalysis, want ...string) {
		t.Helper()
		g := codes(got)
		if len(g) != len(want) || len(got) != len(want) {
			t.Errorf("%s: sessions %v (%d), want %v", what, g, len(got), want)
			return
		}
		for i := range want {
			if g[i] != want[i] {
				t.Errorf("%s: sessions %v, want %v", what, g, want)
				return
			}
		}
	}
	all := list(store.PatientRange{PatientCode: "P001"})
	same("no range", all, "a", "b", "failed", "undated")
	for _, sa := range all {
		cur, err := s.CurrentAnalysis(c, sa.Session.ID)
		if errors.Is(err, store.ErrNotFound) {
			if sa.Analysis != nil {
				t.Errorf("%s: analysis %+v, want none", sa.Session.SessionCode, sa.Analysis)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if sa.Analysis == nil {
			t.Errorf("%s: no analysis, want %s", sa.Session.SessionCode, cur.ProcessingVersion)
			continue
		}
		a := sa.Analysis
		if a.SessionID != cur.SessionID || a.ProcessingVersion != cur.ProcessingVersion || a.ParamsHash != cur.ParamsHash || !a.CreatedAt.Equal(cur.CreatedAt) {
			t.Errorf("%s: analysis %s %s %v, want %s %s %v", sa.Session.SessionCode, a.ProcessingVersion, a.ParamsHash, a.CreatedAt, cur.ProcessingVersion, cur.ParamsHash, cur.CreatedAt)
		}
		jsonEqual(t, "params", a.Params, cur.Params)
		jsonEqual(t, "analytics_summary", a.AnalyticsSummary, cur.AnalyticsSummary)
		jsonEqual(t, "scores", a.Scores, cur.Scores)
	}
	if a := all[0].Analysis; a == nil || a.ProcessingVersion != "v2" {
		t.Errorf("session a: current analysis %+v, want v2", a)
	}
	if s := all[0].Session; s.RecordedAt == nil || !s.RecordedAt.Equal(*wallTime("2026-11-24T00:00:00")) || s.Status != store.StatusCompleted || !s.HasAnalysis {
		t.Errorf("session a read back as %+v", s)
	}
	if s := all[2].Session; s.Status != store.StatusFailed || s.Error != "bad file" {
		t.Errorf("failed session read back as %+v", s)
	}
	// The bounds: from inclusive, before exclusive; undated sessions left out.
	same("from the 24th", list(store.PatientRange{PatientCode: "P001", RecordedFrom: *wallTime("2026-11-24T00:00:00")}), "a", "b", "failed")
	same("from just after", list(store.PatientRange{PatientCode: "P001", RecordedFrom: *wallTime("2026-11-24T00:00:01")}), "b", "failed")
	same("before the 30th's end", list(store.PatientRange{PatientCode: "P001", RecordedBefore: *wallTime("2026-11-30T23:59:59")}), "a", "b")
	same("a day", list(store.PatientRange{PatientCode: "P001", RecordedFrom: *wallTime("2026-11-26T00:00:00"), RecordedBefore: *wallTime("2026-11-27T00:00:00")}), "b")
	same("unknown patient", list(store.PatientRange{PatientCode: "P404"}))
	if p2 := list(store.PatientRange{PatientCode: "P002"}); len(p2) != 1 || p2[0].Analysis != nil || p2[0].Session.PatientCode != "P002" {
		t.Errorf("P002: %+v", p2)
	}
	// fn's error stops the listing.
	stop := errors.New("stop")
	n := 0
	err := s.PatientSessions(c, store.PatientRange{PatientCode: "P001"}, func(store.SessionAnalysis) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d calls", err, n)
	}
	if err := s.PatientSessions(c, store.PatientRange{}, func(store.SessionAnalysis) error { return nil }); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("no patient code: %v", err)
	}
}
