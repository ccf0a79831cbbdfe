package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"emgd/internal/jobs"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// Reconcile gives a session to every .c3d object whose event was lost, leaves
// alone objects that have one (also when the event's etag was in another
// form), records unreadable files as rejected and reports them without
// stopping (not trying them again), and changes nothing in a
// dry run; a second run finds nothing to do.
func TestReconcile(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		rec := testrec.Ghostly(testrec.Options{Seed: 3, Seconds: 12})

		// One object announced by its event with the storage's etag, one by
		// a sender that writes its etag differently, two whose events were lost.
		ev := p.upload(t, "P001/announced.c3d", rec)
		if _, err := p.svc.Ingest(ctx, ev); err != nil {
			t.Fatal(err)
		}
		ev = p.upload(t, "P001/other etag form.c3d", rec)
		ev.ETag = "sender-form"
		if _, err := p.svc.Ingest(ctx, ev); err != nil {
			t.Fatal(err)
		}
		p.upload(t, "P002/lost (1).c3d", rec)
		p.upload(t, "P003/lost.C3D", rec)
		p.upload(t, "P003/readme.txt", []byte("notes"))
		p.upload(t, "P004/broken.c3d", []byte("not a C3D file at all"))

		rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Listed != 6 || rep.C3D != 5 || rep.Known != 2 || len(rep.Enqueued) != 3 || len(rep.Failed) != 0 {
			t.Fatalf("dry run: %+v", rep)
		}
		if page, _ := st.ListSessions(ctx, store.ListOptions{}); len(page.Sessions) != 2 {
			t.Fatalf("dry run created sessions: %d", len(page.Sessions))
		}

		rep, err = p.svc.Reconcile(ctx, service.ReconcileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Known != 2 || len(rep.Enqueued) != 2 || len(rep.Failed) != 0 || len(rep.Rejected) != 1 || rep.Rejected[0].Key != "P004/broken.c3d" ||
			rep.Rejected[0].SessionCode != "P004R001" || rep.Rejected[0].Error == "" {
			t.Fatalf("run: %+v", rep)
		}
		for _, it := range rep.Enqueued {
			if it.SessionCode == "" {
				t.Errorf("%s: no session code", it.Key)
			}
			waitFor(t, st, it.SessionID, store.StatusCompleted, 60*time.Second)
		}

		rep, err = p.svc.Reconcile(ctx, service.ReconcileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Known != 5 || len(rep.Enqueued) != 0 || len(rep.Failed) != 0 || len(rep.Rejected) != 1 {
			t.Fatalf("second run: %+v", rep)
		}

		// A new version written after its key's last session, whose event
		// was lost too, is a new session.
		time.Sleep(10 * time.Millisecond)
		p.upload(t, "P001/other etag form.c3d", testrec.Ghostly(testrec.Options{Seed: 4, Seconds: 12}))
		rep, err = p.svc.Reconcile(ctx, service.ReconcileOptions{Prefix: "P001/"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Listed != 2 || len(rep.Enqueued) != 1 || rep.Enqueued[0].Key != "P001/other etag form.c3d" {
			t.Fatalf("new version: %+v", rep)
		}
	})
}

// Reconcile also finds the sessions a crash stranded (their job discarded at
// rescue), reports them in a dry run and fails them otherwise.
func TestReconcileFailsStrandedSessions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newIdlePipeline(t, st)
		out, err := p.svc.Ingest(ctx, p.upload(t, "P005/crashed.c3d", testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 4})))
		if err != nil {
			t.Fatal(err)
		}
		id := out.Session.ID
		if _, err := st.SetStatus(ctx, id, store.StatusUpdate{Status: store.StatusProcessing}); err != nil {
			t.Fatal(err)
		}
		endJob(t, st, analyzeJobIDs(t, st, id)[0], "discarded", jobs.RescuedError)

		rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{DryRun: true})
		if err != nil || len(rep.Stranded) != 1 || rep.Stranded[0].SessionID != id || rep.Stranded[0].JobState != "discarded" {
			t.Fatalf("dry run: %+v %v", rep, err)
		}
		if s, _ := st.GetSession(ctx, id); s.Status != store.StatusProcessing {
			t.Fatalf("dry run changed the session to %s", s.Status)
		}
		rep, err = p.svc.Reconcile(ctx, service.ReconcileOptions{})
		if err != nil || len(rep.Stranded) != 1 || rep.Known != 1 {
			t.Fatalf("run: %+v %v", rep, err)
		}
		s, _ := st.GetSession(ctx, id)
		if s.Status != store.StatusFailed || !strings.Contains(s.Error, "the worker process stopped") {
			t.Fatalf("session %s %q", s.Status, s.Error)
		}
		if rep, err := p.svc.Reconcile(ctx, service.ReconcileOptions{}); err != nil || len(rep.Stranded) != 0 {
			t.Fatalf("again: %+v %v", rep, err)
		}
	})
}
