package signals_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"emgd/internal/auth"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// auditLog keeps the entries appended, or refuses them while broken.
type auditLog struct {
	mu      sync.Mutex
	entries []auth.Entry
	broken  bool
}

func (a *auditLog) Append(_ context.Context, e auth.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.broken {
		return errors.New("audit table unavailable")
	}
	a.entries = append(a.entries, e)
	return nil
}

func (a *auditLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

func (a *auditLog) setBroken(b bool) {
	a.mu.Lock()
	a.broken = b
	a.mu.Unlock()
}

// A signal answered 304 Not Modified is a read of the patient's data as
// the 200 was (clinic.md: every read of signals is recorded; the ETag is
// the answer's, not the user's, so another user of the same browser may
// hold it): it appends its entry, and without the audit trail it is
// refused (503) like any other read, in the signals' error shape.
func TestNotModifiedIsAudited(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	info, err := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(testrec.Ghostly(testrec.Options{Seconds: 4})))
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	log := &auditLog{}
	who := &auth.Principal{Email: "theo@example.org", Role: auth.Therapist, Patients: []string{"P001"}, Via: auth.ViaToken}
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h(w, r.WithContext(auth.WithAuditor(auth.WithPrincipal(r.Context(), who), log)))
		}
	}
	mux := http.NewServeMux()
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(16 << 20)}).Register(mux, guard)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, id: sess.ID}

	code, _, h := e.get(t, e.path("CH1 Raw", "max_points=100"))
	if code != 200 || h.Get("ETag") == "" || log.count() != 1 {
		t.Fatalf("first read: %d, ETag %q, %d audit entries", code, h.Get("ETag"), log.count())
	}
	code, _, _ = e.get(t, e.path("CH1 Raw", "max_points=100"), "If-None-Match", h.Get("ETag"))
	if code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", code)
	}
	if n := log.count(); n != 2 {
		t.Errorf("after a 304: %d audit entries, want 2", n)
	} else if en := log.entries[1]; en.Action != "signals.read" || en.User != who.Email || en.PatientCode != "P001" || en.SessionID != sess.ID {
		t.Errorf("the 304's entry: %+v", en)
	}
	log.setBroken(true)
	code, a, _ := e.get(t, e.path("CH1 Raw", "max_points=100"), "If-None-Match", h.Get("ETag"))
	if code != http.StatusServiceUnavailable || a.Success || a.Error != "audit trail unavailable" {
		t.Errorf("audit trail down, If-None-Match: %d %+v, want 503 audit trail unavailable", code, a)
	}
}
