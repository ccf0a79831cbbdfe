package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
)

// ghostlyReference is the old backend's analysis of the real recordings
// (shared/testdata/ghostly/reference.json): its MVC threshold per channel
// is 75 % of the estimate.
func ghostlyReference(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(testenv.Testdata(t, "ghostly", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Files []struct {
			File     string `json:"file"`
			Channels map[string]struct {
				MVC75Threshold float64 `json:"mvc75_threshold"`
			} `json:"channels"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, f := range ref.Files {
		out[f.File] = map[string]float64{}
		for ch, v := range f.Channels {
			out[f.File][ch] = v.MVC75Threshold
		}
	}
	if len(out) != 5 {
		t.Fatalf("%d files in the reference, want 5", len(out))
	}
	return out
}

// The MVC estimated from each real recording is the analysis's own
// estimate: the old backend's 75 % threshold is 75 % of it, and phase 2's
// threshold without MVC is 75 % of it to the last bit of the product.
func TestEstimateMVCRealRecordings(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	svc := &service.Service{Store: st}
	ctx := context.Background()
	for file, chans := range ghostlyReference(t) {
		rec := ghostly(t, file)
		est, err := svc.EstimateMVC(ctx, "P044", bytes.NewReader(rec), int64(len(rec)), file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(est.MVC) != 2 || len(est.Failed) != 0 || est.SamplingRate != 990 {
			t.Errorf("%s: %+v", file, est)
		}
		res, err := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), file, emg.Params{}, emg.Analyzer{})
		if err != nil {
			t.Fatal(err)
		}
		for ch, want75 := range chans {
			got := est.MVC[ch]
			if math.Abs(got*0.75-want75) > 1e-6*want75 {
				t.Errorf("%s %s: MVC %g, 75 %% = %g; the old backend's threshold %g", file, ch, got, got*0.75, want75)
			}
			if thr := *res.Analytics[ch].MVC75Threshold; thr != got*0.75 {
				t.Errorf("%s %s: the analysis's threshold %v is not 75 %% of the estimate %v", file, ch, thr, got)
			}
		}
	}
}

// The estimate uses the patient's profile and validation limits; a file
// that is not C3D, or whose every channel fails, is ErrInvalidFile.
func TestEstimateMVCRefuses(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	svc := &service.Service{Store: st}
	ctx := context.Background()
	rec := ghostly(t, "Ghostly_Emg_20250310_11-46-23-0823.c3d")
	if _, err := svc.EstimateMVC(ctx, "P045", strings.NewReader("not a C3D file"), 14, "x.c3d"); !errors.Is(err, service.ErrInvalidFile) {
		t.Errorf("not C3D: %v", err)
	}
	if _, err := st.SaveSettings(ctx, "P045", json.RawMessage(`{"validation":{"max_seconds":30},"mvc":{"CH1":0.5}}`), "api"); err != nil {
		t.Fatal(err)
	}
	_, err := svc.EstimateMVC(ctx, "P045", bytes.NewReader(rec), int64(len(rec)), "x.c3d")
	if !errors.Is(err, service.ErrInvalidFile) || !strings.Contains(err.Error(), "too long") {
		t.Errorf("64 s recording, settings allowing 30 s: %v", err)
	}
	// The settings' own MVC is not used: the estimate is the recording's.
	if _, err := st.SaveSettings(ctx, "P045", json.RawMessage(`{"mvc":{"CH1":0.5},"threshold_pct":40}`), "api"); err != nil {
		t.Fatal(err)
	}
	est, err := svc.EstimateMVC(ctx, "P045", bytes.NewReader(rec), int64(len(rec)), "x.c3d")
	ref, _ := svc.EstimateMVC(ctx, "P046", bytes.NewReader(rec), int64(len(rec)), "x.c3d")
	if err != nil || est.MVC["CH1"] == 0.5 || est.MVC["CH1"] != ref.MVC["CH1"] {
		t.Errorf("with settings holding an MVC: %+v, %v; without settings %+v", est, err, ref)
	}
}

// SessionMVC reads exactly the session's version of its object: the same
// estimate as the file's; a rejected session is ErrInvalidFile, an
// overwritten version ErrObjectChanged.
func TestSessionMVC(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		const key = "P047/Ghostly_Emg_20230321_17-28-14-0160.c3d"
		rec := ghostly(t, "Ghostly_Emg_20230321_17-28-14-0160.c3d")
		id := ingestDone(t, p, key, rec)
		sess, _ := st.GetSession(ctx, id)
		got, err := p.svc.SessionMVC(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		want, err := p.svc.EstimateMVC(ctx, "P047", bytes.NewReader(rec), int64(len(rec)), "x.c3d")
		if err != nil || len(got.MVC) != 2 || got.MVC["CH1"] != want.MVC["CH1"] || got.MVC["CH2"] != want.MVC["CH2"] {
			t.Errorf("session %+v, file %+v (%v)", got, want, err)
		}
		if _, err := p.svc.Ingest(ctx, p.upload(t, "P047/Ghostly_Emg_20230321_18-00-00-0001.c3d", []byte("nonsense"))); !errors.Is(err, service.ErrInvalidFile) {
			t.Fatal(err)
		}
		page, _ := st.ListSessions(ctx, store.ListOptions{PatientCode: "P047", Status: store.StatusRejected})
		if _, err := p.svc.SessionMVC(ctx, &page.Sessions[0]); !errors.Is(err, service.ErrInvalidFile) {
			t.Errorf("rejected session: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // a new mtime for the folder storage
		if _, err := p.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 47, Seconds: 10}))); err != nil {
			t.Fatal(err)
		}
		if _, err := p.svc.SessionMVC(ctx, sess); !errors.Is(err, service.ErrObjectChanged) {
			t.Errorf("overwritten version: %v", err)
		}
	})
}
