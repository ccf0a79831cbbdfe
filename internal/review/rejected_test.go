package review_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/store"
)

// Rejected recordings (phase 1's 422s) are not counted among a patient's
// sessions: GET /patients leaves them out of the counts, a patient with
// only rejected uploads is not listed, and trends leave them out.
func TestPatientsLeaveRejectedOut(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, review.NoSettings{})
		e.record("20261124", 1, "e1")
		ctx := context.Background()
		reject := func(key string) {
			t.Helper()
			info, err := e.fs.Put(ctx, "c3d-examples", key, bytes.NewReader([]byte("not a C3D file")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, ETag: "bad", Version: info.Version}); !errors.Is(err, service.ErrInvalidFile) {
				t.Fatalf("Ingest(%s) = %v, want ErrInvalidFile", key, err)
			}
		}
		reject(patient + "/Ghostly_Emg_20261125_10-00-00-0001.c3d")
		reject("P008/Ghostly_Emg_20261125_10-00-00-0001.c3d")
		if page, err := st.ListSessions(ctx, store.ListOptions{Status: store.StatusRejected}); err != nil || len(page.Sessions) != 2 {
			t.Fatalf("rejected rows: %+v, %v", page, err)
		}
		var ps review.PatientsResponse
		e.getJSON("/patients", 200, &ps)
		if len(ps.Patients) != 1 {
			t.Fatalf("patients %+v, want %s alone", ps.Patients, patient)
		}
		if p := ps.Patients[0]; p.PatientCode != patient || p.Sessions != 1 || p.Completed != 1 || p.Failed != 0 ||
			p.LastRecordedAt == nil || *p.LastRecordedAt != "2026-11-24T10:00:00" {
			t.Errorf("%+v", p)
		}
		var tr review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends", 200, &tr)
		if len(tr.Sessions) != 1 {
			t.Errorf("trend sessions %+v, want the completed one", tr.Sessions)
		}
	})
}
