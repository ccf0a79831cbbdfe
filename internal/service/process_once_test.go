package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// headerCounter counts the reads of a file's first block (offset 0):
// c3d.Open makes one each time it reads the header.
type headerCounter struct {
	io.ReaderAt
	n *atomic.Int32
}

func (h headerCounter) ReadAt(p []byte, off int64) (int, error) {
	if off == 0 {
		h.n.Add(1)
	}
	return h.ReaderAt.ReadAt(p, off)
}

// settingsCountingStore counts the reads of patient settings.
type settingsCountingStore struct {
	store.Store
	reads atomic.Int32
}

func (s *settingsCountingStore) CurrentSettings(ctx context.Context, patient string) (*store.PatientSettings, error) {
	s.reads.Add(1)
	return s.Store.CurrentSettings(ctx, patient)
}

func (s *settingsCountingStore) SettingsAt(ctx context.Context, patient string, at time.Time) (*store.PatientSettings, error) {
	s.reads.Add(1)
	return s.Store.SettingsAt(ctx, patient, at)
}

// processFixture is a service without workers (jobs run by calling
// Process) on SQLite and folder storage, with a counter of the header
// reads of each job's spooled copy and of the settings reads.
type processFixture struct {
	svc     *service.Service
	st      store.Store
	cs      *settingsCountingStore
	fs      *storage.Folder
	headers atomic.Int32
}

func newProcessFixture(t *testing.T) *processFixture {
	t.Helper()
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	f := &processFixture{st: st, cs: &settingsCountingStore{Store: st}, fs: fs}
	f.svc = &service.Service{Store: f.cs, Storage: fs, Queue: &jobQueue{okJobs: -1}}
	service.SetSpoolHook(f.svc, func(ra io.ReaderAt) io.ReaderAt { return headerCounter{ra, &f.headers} })
	return f
}

// put stores rec under key and returns its info.
func (f *processFixture) put(t *testing.T, key string, rec []byte) storage.ObjectInfo {
	t.Helper()
	info, err := f.fs.Put(context.Background(), "c3d-examples", key, bytes.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// run runs one job to completion and checks it read the spooled copy's
// header once and the patient's settings once.
func (f *processFixture) run(t *testing.T, what string, args service.AnalyzeArgs) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.st.SetStatus(ctx, args.SessionID, store.StatusUpdate{Status: store.StatusPending}); err != nil {
		t.Fatal(err)
	}
	f.headers.Store(0)
	f.cs.reads.Store(0)
	if err := f.svc.Process(ctx, args); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if s, err := f.st.GetSession(ctx, args.SessionID); err != nil || s.Status != store.StatusCompleted {
		t.Fatalf("%s: session %+v, %v", what, s, err)
	}
	if n := f.headers.Load(); n != 1 {
		t.Errorf("%s: the spooled copy's header was read %d times, want once", what, n)
	}
	if n := f.cs.reads.Load(); n != 1 {
		t.Errorf("%s: the patient's settings were read %d times, want once", what, n)
	}
}

// A job reads the header and parameter section of its copy of the file
// once (the channel labels when the session's metadata lacks them, the
// therapist and the analysis all come from it) and the patient's settings
// once; what it derives from them is what it was: the settings' values for
// a channel the recording lacks are left out with a warning (labels from
// the metadata or the file), and the scores' weights are the custom
// configuration of the file's therapist and the patient.
func TestProcessReadsHeaderAndSettingsOnce(t *testing.T) {
	ctx := context.Background()
	f := newProcessFixture(t)
	custom, err := f.st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T7 - P071",
		Weights: store.ScoringWeights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}, TherapistID: ptr("T7"), PatientID: ptr("P071")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SaveSettings(ctx, "P071", json.RawMessage(`{"mvc":{"CH1":0.0002,"CH3":0.003},"threshold_pct":50}`), "api"); err != nil {
		t.Fatal(err)
	}
	rec := testrec.Ghostly(testrec.Options{Seed: 7, Seconds: 12, TherapistID: "T7"})
	keyA, keyB := "P071/Ghostly_Emg_20240101_10-00-00-0001.c3d", "P071/Ghostly_Emg_20240102_10-00-00-0001.c3d"
	infoA := f.put(t, keyA, rec)
	out, err := f.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: keyA, ETag: infoA.ETag, Size: infoA.Size})
	if err != nil {
		t.Fatal(err)
	}
	a := out.Session.ID
	// A session whose metadata does not hold the channel names (one
	// imported from the old backend).
	infoB := f.put(t, keyB, rec)
	bare, _, err := f.st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: keyB, ETag: infoB.ETag, StorageVersion: infoB.Version})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, id string) {
		t.Helper()
		got := currentAnalysis(t, f.st, id)
		if len(got.params.MVC) != 1 || got.params.MVC["CH1"] != 0.0002 || len(got.summary.Warnings) != 1 || !strings.Contains(got.summary.Warnings[0], `"CH3"`) {
			t.Errorf("%s: parameters %s, warnings %q; want CH3's MVC left out with a warning", what, got.a.Params, got.summary.Warnings)
		}
		if s := storedScores(t, f.st, id); s["scoring_config_id"] != custom.ID {
			t.Errorf("%s: scoring configuration %v, want the therapist's custom %s", what, s["scoring_config_id"], custom.ID)
		}
	}
	for _, tc := range []struct {
		what string
		args service.AnalyzeArgs
	}{
		{"labels from the metadata", service.AnalyzeArgs{SessionID: a}},
		{"labels from the file", service.AnalyzeArgs{SessionID: bare.ID}},
		{"the current settings", service.AnalyzeArgs{SessionID: a, CurrentSettings: true}},
		{"explicit parameters", service.AnalyzeArgs{SessionID: bare.ID, Params: json.RawMessage(`{"threshold_pct":40}`)}},
	} {
		f.run(t, tc.what, tc.args)
		check(tc.what, tc.args.SessionID)
	}
}

// The scores' weights of a job are the job's own, else the settings'
// (through the merged parameters), else the chain's next step; explicit
// parameters whose weights are null leave the settings' in force.
func TestProcessWeightsFromMergedParams(t *testing.T) {
	ctx := context.Background()
	f := newProcessFixture(t)
	wSet := emg.Weights{Compliance: 0.2, Effort: 0.8, Duration: 1}
	if _, err := f.st.SaveSettings(ctx, "P072", json.RawMessage(`{"weights":{"w_compliance":0.2,"w_symmetry":0,"w_effort":0.8,"w_game":0,"w_completion":0,"w_intensity":0,"w_duration":1}}`), "api"); err != nil {
		t.Fatal(err)
	}
	const key = "P072/Ghostly_Emg_20240101_10-00-00-0001.c3d"
	info := f.put(t, key, testrec.Ghostly(testrec.Options{Seed: 8, Seconds: 12}))
	out, err := f.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, ETag: info.ETag, Size: info.Size})
	if err != nil {
		t.Fatal(err)
	}
	id := out.Session.ID
	wExpl := emg.Weights{Compliance: 1, Intensity: 1}
	for _, tc := range []struct {
		what   string
		params string
		want   emg.Weights
	}{
		{"no parameters", "", wSet},
		{"explicit weights", `{"weights":{"w_compliance":1,"w_symmetry":0,"w_effort":0,"w_game":0,"w_completion":0,"w_intensity":1,"w_duration":0}}`, wExpl},
		{"explicit null weights", `{"weights":null}`, wSet},
	} {
		f.run(t, tc.what, service.AnalyzeArgs{SessionID: id, Params: json.RawMessage(tc.params)})
		if got := storedScores(t, f.st, id); got["scoring_config_id"] != nil || !reflect.DeepEqual(got["weights"], weightsJSON(t, tc.want)) {
			t.Errorf("%s: configuration %v, weights %v; want %v", tc.what, got["scoring_config_id"], got["weights"], tc.want)
		}
	}
}
