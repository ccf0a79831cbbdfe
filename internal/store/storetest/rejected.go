package storetest

import (
	"errors"
	"testing"

	"emgd/internal/store"
)

// testRejected: a refused object version is one row with status rejected,
// its reason and a code of its own sequence (<patient>R<n>) that leaves the
// patient's session codes without gaps; it is listed by status, never
// unfinished, superseded by a later readable version, and not counted
// among the patient's sessions.
func testRejected(t *testing.T, s store.Store) {
	c := ctx(t)
	reject := func(key, etag, reason string) (*store.Session, bool) {
		t.Helper()
		size := int64(12)
		sess, created, err := s.RejectObject(c, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: etag,
			FileSizeBytes: &size, StorageVersion: "v-" + etag}, reason)
		if err != nil {
			t.Fatalf("RejectObject(%s, %s): %v", key, etag, err)
		}
		return sess, created
	}
	first := create(t, s, store.NewSession{ObjectKey: "P001/a.c3d"})
	bad, created := reject("P001/bad.c3d", "etag-1", "invalid C3D: header too short")
	if !created || bad.Status != store.StatusRejected || bad.Error != "invalid C3D: header too short" ||
		bad.SessionCode != "P001R001" || bad.PatientCode != "P001" || bad.ProcessedAt == nil || bad.HasAnalysis ||
		bad.StorageVersion != "v-etag-1" || bad.FileSizeBytes == nil || *bad.FileSizeBytes != 12 {
		t.Fatalf("rejected row = %+v (created %v)", bad, created)
	}
	again, created := reject("P001/bad.c3d", "etag-1", "another reason")
	if created || again.ID != bad.ID || again.Error != bad.Error {
		t.Errorf("second RejectObject of one version = %+v (created %v), want the first row", again, created)
	}
	// The version has its row: CreateSession finds it rather than adding one.
	if got, created, err := s.CreateSession(c, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/bad.c3d", ETag: "etag-1"}); err != nil || created || got.ID != bad.ID {
		t.Errorf("CreateSession of a rejected version = %+v, %v, %v", got, created, err)
	}
	other, _ := reject("P001/other.c3d", "etag-1", "no analog channels")
	if other.SessionCode != "P001R002" {
		t.Errorf("second rejected code = %s, want P001R002", other.SessionCode)
	}
	// Rejected rows leave no gap in the patient's session codes.
	next := create(t, s, store.NewSession{ObjectKey: "P001/c.c3d"})
	if first.SessionCode != "P001S001" || next.SessionCode != "P001S002" {
		t.Errorf("session codes %s, %s; want P001S001, P001S002", first.SessionCode, next.SessionCode)
	}
	// A rejected row supersedes nothing: a refused new version of a key
	// leaves its readable session current.
	badA, _ := reject("P001/a.c3d", "etag-2", "not a C3D file")
	if g, _ := s.GetSession(c, first.ID); g.SupersededBy != "" {
		t.Errorf("a rejected version superseded %s", g.SessionCode)
	}
	if badA.SessionCode != "P001R003" {
		t.Errorf("third rejected code = %s", badA.SessionCode)
	}
	// A readable new version supersedes the rejected one.
	fixed := create(t, s, store.NewSession{ObjectKey: "P001/bad.c3d", ETag: "etag-2"})
	if fixed.SessionCode != "P001S003" || fixed.Status != store.StatusPending {
		t.Errorf("readable new version = %s %s", fixed.SessionCode, fixed.Status)
	}
	if g, _ := s.GetSession(c, bad.ID); g.SupersededBy != fixed.ID || g.Status != store.StatusRejected {
		t.Errorf("rejected row after a readable version: superseded by %q, status %s", g.SupersededBy, g.Status)
	}

	page, err := s.ListSessions(c, store.ListOptions{Status: store.StatusRejected})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, x := range page.Sessions {
		codes = append(codes, x.SessionCode)
		if x.Status != store.StatusRejected || x.Error == "" {
			t.Errorf("listed %s: status %s, error %q", x.SessionCode, x.Status, x.Error)
		}
	}
	if len(codes) != 3 {
		t.Errorf("ListSessions(rejected) = %v, want the 3 rejected rows", codes)
	}
	unfinished, err := s.ListUnfinished(c, store.UnfinishedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range unfinished {
		if x.Status == store.StatusRejected {
			t.Errorf("ListUnfinished lists rejected %s", x.SessionCode)
		}
	}
	// Not counted among the patient's sessions: a, c and the readable
	// version of bad (all pending).
	ps, err := s.Patients(c, store.PatientOptions{PatientCode: "P001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Sessions != 3 {
		t.Errorf("Patients(P001) = %+v, want 3 sessions", ps)
	}
	// A patient with only rejected uploads has no sessions.
	reject("P002/x.c3d", "e", "too short")
	if ps, err := s.Patients(c, store.PatientOptions{PatientCode: "P002"}); err != nil || len(ps) != 0 {
		t.Errorf("Patients(P002) = %+v, %v; want none", ps, err)
	}
	// Stored with SetStatus too (the status is valid everywhere).
	if _, err := s.SetStatus(c, next.ID, store.StatusUpdate{Status: store.StatusRejected, Error: "why"}); err != nil {
		t.Errorf("SetStatus(rejected): %v", err)
	}
	if _, _, err := s.RejectObject(c, store.NewSession{Bucket: "b", ObjectKey: "P003/y.c3d", ETag: "e"}, " "); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("RejectObject without a reason = %v", err)
	}
	if _, _, err := s.RejectObject(c, store.NewSession{Bucket: "b", ObjectKey: "P003/y.c3d", ETag: "e", SessionCode: "P003S001"}, "r"); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("RejectObject with a session code = %v", err)
	}
	// Deleted like any session (purge and retention).
	if err := s.DeleteSession(c, other.ID); err != nil {
		t.Errorf("DeleteSession(rejected): %v", err)
	}
}
