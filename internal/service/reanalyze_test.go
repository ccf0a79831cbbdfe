package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// Reanalyze puts a completed session back to pending with its job carrying
// the parameters, and the worker analyses it again with them; a session
// found by its code works as by its id.
func TestReanalyze(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		out, err := p.svc.Ingest(ctx, p.upload(t, "P011/Ghostly_Emg_20240101_10-00-00-0001.c3d", testrec.Ghostly(testrec.Options{Seed: 11})))
		if err != nil {
			t.Fatal(err)
		}
		id := out.Session.ID
		waitFor(t, st, id, store.StatusCompleted, 30*time.Second)
		hold := make(chan struct{})
		service.SetTestHook(p.svc, func(service.AnalyzeArgs) { <-hold })
		mvc := 0.0003
		re, err := p.svc.Reanalyze(ctx, out.Session.SessionCode, emg.Params{MVCGlobal: &mvc})
		if err != nil {
			t.Fatal(err)
		}
		if re.Session.ID != id || re.Session.Status != store.StatusPending || !strings.Contains(string(re.Params), `"mvc_global":0.0003`) {
			t.Fatalf("reanalysis %+v params %s", re.Session, re.Params)
		}
		if s, _ := st.GetSession(ctx, id); s.Status != store.StatusPending {
			t.Errorf("stored status %s, want pending", s.Status)
		}
		close(hold)
		waitFor(t, st, id, store.StatusCompleted, 30*time.Second)
		a, err := st.CurrentAnalysis(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var params emg.Params
		if err := json.Unmarshal(a.Params, &params); err != nil || params.MVCGlobal == nil || *params.MVCGlobal != mvc {
			t.Errorf("analysed with %s (%v)", a.Params, err)
		}
	})
}

// Reanalyze's refusals: unknown session, unknown profile, a version of the
// object that was overwritten (naming the newer session).
func TestReanalyzeRefuses(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		hold := make(chan struct{})
		t.Cleanup(func() { close(hold) })
		service.SetTestHook(p.svc, func(service.AnalyzeArgs) { <-hold })
		if _, err := p.svc.Reanalyze(ctx, "P404S001", emg.Params{}); !errors.Is(err, service.ErrSessionNotFound) || err.Error() != `no session "P404S001"` {
			t.Errorf("unknown session: %v", err)
		}
		if _, err := p.svc.Reanalyze(ctx, "not a session id", emg.Params{}); !errors.Is(err, service.ErrSessionNotFound) {
			t.Errorf("unparseable reference: %v", err)
		}
		const key = "P012/Ghostly_Emg_20240101_10-00-00-0001.c3d"
		a, err := p.svc.Ingest(ctx, p.upload(t, key, testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 10})))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.svc.Reanalyze(ctx, a.Session.ID, emg.Params{Profile: "nonesuch"}); !errors.Is(err, service.ErrInvalidParams) || !strings.Contains(err.Error(), "nonesuch") {
			t.Errorf("unknown profile: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // a new mtime for the folder storage
		b, err := p.svc.Ingest(ctx, p.upload(t, key, testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 12})))
		if err != nil || !b.Created {
			t.Fatalf("version B: %v %+v", err, b)
		}
		_, err = p.svc.Reanalyze(ctx, a.Session.ID, emg.Params{})
		if !errors.Is(err, service.ErrObjectChanged) || !strings.Contains(err.Error(), b.Session.ID) {
			t.Errorf("overwritten version: %v, want ErrObjectChanged naming %s", err, b.Session.ID)
		}
		if _, err := p.svc.Reanalyze(ctx, b.Session.ID, emg.Params{}); err != nil {
			t.Errorf("current version: %v", err)
		}
	})
}

// failingQueue refuses every job.
type failingQueue struct{}

func (failingQueue) EnqueueTx(context.Context, store.Tx, service.AnalyzeArgs) error {
	return errors.New("queue refused the job")
}

// The status change and the job are one transaction: a job that cannot be
// enqueued leaves the session as it was.
func TestReanalyzeIsOneTransaction(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		out, err := p.svc.Ingest(ctx, p.upload(t, "P013/Ghostly_Emg_20240101_10-00-00-0001.c3d", testrec.Ghostly(testrec.Options{Seed: 13})))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, out.Session.ID, store.StatusCompleted, 30*time.Second)
		broken := &service.Service{Store: st, Storage: p.svc.Storage, Queue: failingQueue{}}
		if _, err := broken.Reanalyze(ctx, out.Session.ID, emg.Params{}); !errors.Is(err, service.ErrUnavailable) {
			t.Errorf("error %v, want ErrUnavailable", err)
		}
		if s, _ := st.GetSession(ctx, out.Session.ID); s.Status != store.StatusCompleted {
			t.Errorf("status %s after a failed enqueue, want completed", s.Status)
		}
	})
}

// Ingest of a version the caller stored (an upload's Put): when another
// write of the same key came in between, phase 1 refuses with
// ErrObjectChanged rather than describe the newer bytes under the first
// write's etag; the newer write gets its own session with its own data.
func TestIngestOfStoredVersion(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		hold := make(chan struct{})
		t.Cleanup(func() { close(hold) })
		service.SetTestHook(p.svc, func(service.AnalyzeArgs) { <-hold })
		const key = "P014/Ghostly_Emg_20240101_10-00-00-0001.c3d"
		infoA, err := p.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 10})))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // a new mtime for the folder storage
		infoB, err := p.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 12})))
		if err != nil {
			t.Fatal(err)
		}
		ev := func(info storage.ObjectInfo) service.Event {
			return service.Event{Bucket: "c3d-examples", Key: key, ETag: info.ETag, Size: info.Size, Version: info.Version}
		}
		_, err = p.svc.Ingest(ctx, ev(infoA))
		if !errors.Is(err, service.ErrObjectChanged) {
			t.Errorf("ingest of the overwritten version: %v, want ErrObjectChanged", err)
		}
		b, err := p.svc.Ingest(ctx, ev(infoB))
		if err != nil || !b.Created {
			t.Fatalf("ingest of the current version: %v %+v", err, b)
		}
		if b.Session.StorageVersion != infoB.Version || b.Metadata["duration_seconds"] != 12.0 {
			t.Errorf("session of B: version %q (want %q), duration %v", b.Session.StorageVersion, infoB.Version, b.Metadata["duration_seconds"])
		}
		page, err := st.ListSessions(ctx, store.ListOptions{PatientCode: "P014"})
		if err != nil || len(page.Sessions) != 1 {
			t.Errorf("sessions %+v (%v), want B's alone", page.Sessions, err)
		}
	})
}

// The last attempt's message counts attempts in good English.
func TestWorkerGaveUpAfterOneAttempt(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	p := newPipeline(t, st, 1)
	service.SetTestHook(p.svc, func(service.AnalyzeArgs) { panic("injected") })
	out, err := p.svc.Ingest(context.Background(), p.upload(t, "P015/once.c3d", testrec.Ghostly(testrec.Options{})))
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, st, out.Session.ID, store.StatusFailed, 30*time.Second)
	if !strings.Contains(s.Error, "gave up after 1 attempt:") {
		t.Errorf("error %q, want \"gave up after 1 attempt: ...\"", s.Error)
	}
}
