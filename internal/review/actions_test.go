package review_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"emgd/emg"
	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/auth"
	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

// auditLog is an auth.Auditor that records entries, or refuses them.
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

// actions lists the entries of action ("action user patient session").
func (a *auditLog) actions(action string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.entries {
		if e.Action == action {
			out = append(out, e.Action+" "+e.User+" "+e.PatientCode+" "+e.SessionID)
		}
	}
	return out
}

// actionEnv is env with the review served by a pipeline (reanalysis, MVC
// calibration) behind a guard that puts the principal and the audit trail
// in the request's context.
type actionEnv struct {
	*env
	audit     *auditLog
	principal *auth.Principal
}

func newActionEnv(t *testing.T, st store.Store, limit int64) *actionEnv {
	t.Helper()
	return newActionEnvSettings(t, st, limit, st)
}

// newActionEnvSettings is newActionEnv with the review's patient settings
// in ps.
func newActionEnvSettings(t *testing.T, st store.Store, limit int64, ps store.Settings) *actionEnv {
	t.Helper()
	fs, err := storage.OpenFolder(filepath.Join(t.TempDir(), "storage"), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	e := &actionEnv{env: &env{t: t, st: st, q: q, fs: fs, ids: map[string]string{},
		svc: &service.Service{Store: st, Storage: fs, Queue: q}}, audit: &auditLog{}}
	mux := apidoc.NewMux(apidoc.Info{Title: "review", Version: "1",
		Security: map[string]any{apidoc.ReadToken: map[string]any{"type": "http", "scheme": "bearer"}}})
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"success":false,"error":"a bearer token is required"}`))
				return
			}
			ctx := auth.WithAuditor(r.Context(), e.audit)
			if e.principal != nil {
				ctx = auth.WithPrincipal(ctx, e.principal)
			}
			h(w, r.WithContext(ctx))
		}
	}
	review.Register(mux, review.Deps{Store: st, PatientSettings: ps, Guard: guard, Service: e.svc, UploadLimit: limit})
	e.srv = httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	t.Cleanup(e.srv.Close)
	return e
}

// realFiles are three of the shared GHOSTLY recordings: two recorded on
// 2023-03-21, one on 2025-03-10.
var realFiles = []string{
	"Ghostly_Emg_20230321_17-23-09-0409.c3d",
	"Ghostly_Emg_20230321_17-28-14-0160.c3d",
	"Ghostly_Emg_20250310_11-46-23-0823.c3d",
}

func readReal(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Testdata(t, "ghostly", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordReal stores a real recording as the patient's and runs phases 1
// and 2 on it.
func (e *actionEnv) recordReal(patient, name string) *store.Session {
	e.t.Helper()
	ctx := context.Background()
	key := patient + "/" + name
	info, err := e.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(readReal(e.t, name)))
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, Version: info.Version})
	if err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	return out.Session
}

func (e *actionEnv) post(path, ct string, body io.Reader) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *actionEnv) postJSON(path, body string, want int, v any) {
	e.t.Helper()
	code, b := e.post(path, "application/json", strings.NewReader(body))
	if code != want {
		e.t.Fatalf("POST %s %s: %d %s, want %d", path, body, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("POST %s: %v: %s", path, err, b)
		}
	}
}

func (e *actionEnv) jobs() []service.AnalyzeArgs {
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	return append([]service.AnalyzeArgs(nil), e.q.jobs...)
}

func (e *actionEnv) status(id string) store.Status {
	e.t.Helper()
	s, err := e.st.GetSession(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Status
}

// POST /patients/{code}/reanalyze analyses the patient's sessions recorded
// in the range again with the current settings (real recordings): 202 with
// the count, each session pending with its job until analysed, then its
// new analysis current with settings_version 1 while the old one is kept;
// the trends show it. Bad input is 4xx; the change is audited first.
func TestReanalyzeRoute(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newActionEnv(t, st, 0)
		ctx := context.Background()
		var sess []*store.Session
		for _, f := range realFiles {
			sess = append(sess, e.recordReal(patient, f))
		}
		if _, err := st.SaveSettings(ctx, patient, json.RawMessage(`{"mvc":{"CH1":0.0002,"CH2":0.0001},"threshold_pct":50}`), "api"); err != nil {
			t.Fatal(err)
		}
		path := "/patients/" + patient + "/reanalyze"

		var re review.ReanalyzeResponse
		e.postJSON(path, `{"from":"2023-03-21","to":"2023-03-21"}`, http.StatusAccepted, &re)
		if re.PatientCode != patient || re.Sessions != 2 || re.SettingsVersion != 1 || re.Skipped == nil || len(re.Skipped) != 0 {
			t.Fatalf("answer %+v", re)
		}
		jobs := e.jobs()
		if len(jobs) != 2 || jobs[0].SessionID != sess[0].ID || jobs[1].SessionID != sess[1].ID || !jobs[0].CurrentSettings {
			t.Fatalf("jobs %+v", jobs)
		}
		for i, s := range sess {
			want := store.StatusPending
			if i == 2 {
				want = store.StatusCompleted
			}
			if got := e.status(s.ID); got != want {
				t.Errorf("session %d is %s before the jobs ran, want %s", i, got, want)
			}
		}
		e.drain()
		for i, s := range sess {
			l, err := st.ListAnalyses(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			cur := e.stored(s.ID)
			if i < 2 {
				if len(l) != 2 || cur.summary.SettingsVersion != 1 || cur.params.MVC["CH1"] != 0.0002 ||
					math.Abs(*cur.summary.Analytics["CH1"].MVC75Threshold-0.0001) > 1e-15 {
					t.Errorf("session %d: %d analyses, settings_version %d, params %s", i, len(l), cur.summary.SettingsVersion, cur.a.Params)
				}
			} else if len(l) != 1 || cur.summary.SettingsVersion != 0 {
				t.Errorf("session outside the range: %d analyses, settings_version %d", len(l), cur.summary.SettingsVersion)
			}
		}
		var tr review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends", http.StatusOK, &tr)
		if len(tr.Sessions) != 3 || tr.Sessions[0].SettingsVersion != 1 || tr.Sessions[1].SettingsVersion != 1 || tr.Sessions[2].SettingsVersion != 0 {
			t.Errorf("trends after the reanalysis: %+v", tr.Sessions)
		}

		// No body: every session; a range without sessions: 0.
		e.postJSON(path, ``, http.StatusAccepted, &re)
		if re.Sessions != 3 {
			t.Errorf("no body: %+v, want 3 sessions", re)
		}
		e.drain()
		e.postJSON(path, `{"from":"2024-01-01","to":"2024-12-31"}`, http.StatusAccepted, &re)
		if re.Sessions != 0 {
			t.Errorf("empty range: %+v", re)
		}
		if got := e.audit.actions("patient.reanalyze"); len(got) != 3 || got[0] != "patient.reanalyze  "+patient+" " {
			t.Errorf("audit trail %q", got)
		}

		for _, bad := range []struct {
			path, body string
			want       int
		}{
			{path, `{"from":"2023-13-01"}`, 400},
			{path, `{"to":"21/03/2023"}`, 400},
			{path, `{"from":"2023-03-22","to":"2023-03-21"}`, 400},
			{path, `{"from":"1000-01-01","to":"9999-12-31"}`, 400},
			{path, `{"from":"2023-03-21","until":"2023-03-22"}`, 400},
			{path, `{"from":`, 400},
			{path, `{"from":"2023-03-21"} {}`, 400},
			{path, `[1,2]`, 400},
			{path, `{"from":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
			{"/patients/P404/reanalyze", `{}`, 404},
			{"/patients/x/reanalyze", `{}`, 400},
		} {
			if code, b := e.post(bad.path, "application/json", strings.NewReader(bad.body)); code != bad.want || !bytes.Contains(b, []byte(`"error"`)) {
				t.Errorf("POST %s %.60s: %d %s, want %d", bad.path, bad.body, code, b, bad.want)
			}
		}
		if len(e.jobs()) != 0 {
			t.Errorf("refused requests queued jobs: %+v", e.jobs())
		}
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(`{}`))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("without the token: %v %v", resp, err)
		}

		// Another therapist's patient is absent; an audit trail that
		// cannot be written stops the change.
		e.principal = &auth.Principal{Email: "t@example.org", Role: auth.Therapist, Patients: []string{"P001"}, Via: auth.ViaToken}
		if code, _ := e.post(path, "application/json", strings.NewReader(`{}`)); code != http.StatusNotFound {
			t.Errorf("another therapist's patient: %d, want 404", code)
		}
		e.principal = &auth.Principal{Email: "t@example.org", Role: auth.Therapist, Patients: []string{patient}, Via: auth.ViaToken}
		e.audit.broken = true
		if code, _ := e.post(path, "application/json", strings.NewReader(`{}`)); code != http.StatusServiceUnavailable {
			t.Errorf("audit trail down: %d, want 503", code)
		}
		if len(e.jobs()) != 0 || e.status(sess[0].ID) != store.StatusCompleted {
			t.Errorf("a change the audit trail did not record was made: %+v", e.jobs())
		}
		e.audit.broken = false
		e.postJSON(path, `{"to":"2023-03-21"}`, http.StatusAccepted, &re)
		if got := e.audit.actions("patient.reanalyze"); re.Sessions != 2 || got[len(got)-1] != "patient.reanalyze t@example.org "+patient+" " {
			t.Errorf("assigned therapist: %+v, audit %q", re, got)
		}
	})
}

// Without a pipeline the routes answer 501.
func TestActionsWithoutService(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	e := newEnv(t, st, nil)
	e.record("20261124", 1, "e1")
	for _, path := range []string{"/patients/" + patient + "/reanalyze", "/patients/" + patient + "/mvc"} {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(`{"session_id":"x"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("POST %s: %d, want 501", path, resp.StatusCode)
		}
	}
}

// multipartBody is a form with the given fields, then the file when name
// is not "".
func multipartBody(t *testing.T, fields [][2]string, name string, file []byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if name != "" {
		w, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(file)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// POST /patients/{code}/mvc estimates each channel's MVC as the analysis
// does, from a session of the patient or a calibration recording (real
// recordings); with save it becomes a new settings version with the other
// settings unchanged, by the request's user, and the next reanalysis uses
// it. Bad input is 4xx; each calibration is audited.
func TestMVCRoute(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newActionEnv(t, st, 2<<20)
		ctx := context.Background()
		sess := e.recordReal(patient, realFiles[1])
		other := e.recordReal("P008", realFiles[0])
		path := "/patients/" + patient + "/mvc"
		fromSession, err := e.svc.SessionMVC(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}

		// From the session, not saved: the current version (0).
		var got review.MVCResponse
		e.postJSON(path, `{"session_id":"`+sess.SessionCode+`"}`, http.StatusOK, &got)
		if got.PatientCode != patient || got.Source != "session" || got.SessionID == nil || *got.SessionID != sess.ID ||
			got.SessionCode == nil || *got.SessionCode != sess.SessionCode || got.Saved || got.SettingsVersion != 0 ||
			len(got.MVC) != 2 || got.MVC["CH1"] != fromSession.MVC["CH1"] || got.MVC["CH2"] != fromSession.MVC["CH2"] || len(got.FailedChannels) != 0 {
			t.Fatalf("from the session: %+v, want %+v", got, fromSession.MVC)
		}
		// The analysis's own estimate: its threshold at 75 % without MVC.
		if thr := *e.stored(sess.ID).summary.Analytics["CH1"].MVC75Threshold; thr != got.MVC["CH1"]*0.75 {
			t.Errorf("MVC %v, the session's analysis's 75 %% threshold %v", got.MVC["CH1"], thr)
		}

		// Saved over existing settings: only mvc changes (CH1 under its
		// label replaced), by the request's user.
		base := `{"mvc":{"CH1 Raw":0.5},"threshold_pct":60,"muscle_names":{"CH1":"Left quadriceps"},"sessions_per_week":4}`
		if _, err := st.SaveSettings(ctx, patient, json.RawMessage(base), "api"); err != nil {
			t.Fatal(err)
		}
		e.principal = &auth.Principal{Email: "ther@example.org", Role: auth.Therapist, Patients: []string{patient}, Via: auth.ViaCookie}
		e.postJSON(path, `{"session_id":"`+sess.ID+`","save":true}`, http.StatusOK, &got)
		if !got.Saved || got.SettingsVersion != 2 {
			t.Fatalf("saved: %+v", got)
		}
		var cur review.PatientSettingsResponse
		e.getJSON("/patients/"+patient, http.StatusOK, &cur)
		s := cur.Settings
		if cur.SettingsVersion != 2 || cur.UpdatedBy == nil || *cur.UpdatedBy != "ther@example.org" || len(s.MVC) != 2 ||
			s.MVC["CH1"] != got.MVC["CH1"] || s.MVC["CH2"] != got.MVC["CH2"] ||
			s.ThresholdPct == nil || *s.ThresholdPct != 60 || s.MuscleNames["CH1"] != "Left quadriceps" || s.SessionsPerWeek == nil || *s.SessionsPerWeek != 4 {
			t.Errorf("settings after the save: %+v (by %v)", cur, cur.UpdatedBy)
		}
		// The next reanalysis uses the saved MVC.
		var re review.ReanalyzeResponse
		e.postJSON("/patients/"+patient+"/reanalyze", `{}`, http.StatusAccepted, &re)
		e.drain()
		an := e.stored(sess.ID).summary.Analytics["CH1"]
		if an.MVCEstimationMethod != emg.MVCUserProvided || math.Abs(*an.MVC75Threshold-got.MVC["CH1"]*0.6) > 1e-15 {
			t.Errorf("reanalysis after the calibration: %s %v, want user_provided %v", an.MVCEstimationMethod, *an.MVC75Threshold, got.MVC["CH1"]*0.6)
		}

		// A calibration recording, with save.
		rec := readReal(t, realFiles[2])
		body, ct := multipartBody(t, [][2]string{{"save", "true"}}, realFiles[2], rec)
		code, b := e.post(path, ct, body)
		if code != http.StatusOK {
			t.Fatalf("recording: %d %s", code, b)
		}
		got = review.MVCResponse{}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		fromFile, err := e.svc.EstimateMVC(ctx, patient, bytes.NewReader(rec), int64(len(rec)), realFiles[2])
		if err != nil {
			t.Fatal(err)
		}
		if got.Source != "recording" || got.SessionID != nil || !got.Saved || got.SettingsVersion != 3 || got.MVC["CH1"] != fromFile.MVC["CH1"] {
			t.Errorf("from a recording: %+v, want %+v", got, fromFile.MVC)
		}
		// Not saved: the current version.
		body, ct = multipartBody(t, [][2]string{{"save", "false"}}, realFiles[2], rec)
		if code, b = e.post(path, ct, body); code != http.StatusOK || !bytes.Contains(b, []byte(`"settings_version":3`)) || !bytes.Contains(b, []byte(`"saved":false`)) {
			t.Errorf("not saved: %d %s", code, b)
		}
		if got := e.audit.actions("mvc.calibrate"); len(got) != 4 || got[0] != "mvc.calibrate  "+patient+" "+sess.ID || got[3] != "mvc.calibrate ther@example.org "+patient+" " {
			t.Errorf("audit trail %q", got)
		}

		// A channel the calibration does not have keeps its value.
		if _, err := st.SaveSettings(ctx, patient, json.RawMessage(`{"mvc":{"CH1":0.5,"CH3":0.25}}`), "api"); err != nil {
			t.Fatal(err)
		}
		e.postJSON(path, `{"session_id":"`+sess.ID+`","save":true}`, http.StatusOK, &got)
		e.getJSON("/patients/"+patient, http.StatusOK, &cur)
		if cur.SettingsVersion != 5 || len(cur.Settings.MVC) != 3 || cur.Settings.MVC["CH3"] != 0.25 || cur.Settings.MVC["CH1"] != fromSession.MVC["CH1"] {
			t.Errorf("a channel outside the calibration: %+v", cur)
		}

		// Refusals.
		rejectKey := patient + "/Ghostly_Emg_20230322_10-00-00-0001.c3d"
		info, _ := e.fs.Put(ctx, "c3d-examples", rejectKey, strings.NewReader("not a C3D file"))
		if _, err := e.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: rejectKey, Version: info.Version}); !errors.Is(err, service.ErrInvalidFile) {
			t.Fatal(err)
		}
		page, _ := st.ListSessions(ctx, store.ListOptions{PatientCode: patient, Status: store.StatusRejected})
		form := func(fields [][2]string, name string, file []byte) func() (string, io.Reader) {
			return func() (string, io.Reader) {
				b, ct := multipartBody(t, fields, name, file)
				return ct, b
			}
		}
		js := func(s string) func() (string, io.Reader) {
			return func() (string, io.Reader) { return "application/json", strings.NewReader(s) }
		}
		for _, bad := range []struct {
			name string
			path string
			body func() (string, io.Reader)
			want int
		}{
			{"another patient's session", path, js(`{"session_id":"` + other.ID + `"}`), 404},
			{"unknown session", path, js(`{"session_id":"P007S999"}`), 404},
			{"no session_id", path, js(`{"save":true}`), 400},
			{"unknown key", path, js(`{"session_id":"` + sess.ID + `","sve":true}`), 400},
			{"malformed JSON", path, js(`{"session_id":`), 400},
			{"rejected session", path, js(`{"session_id":"` + page.Sessions[0].ID + `"}`), 422},
			{"not C3D", path, form(nil, "x.c3d", []byte("definitely not a C3D file")), 422},
			{"empty file", path, form(nil, "x.c3d", nil), 422},
			{"no file", path, form([][2]string{{"save", "true"}}, "", nil), 400},
			{"bad save", path, form([][2]string{{"save", "perhaps"}}, realFiles[2], rec), 400},
			{"unknown field", path, form([][2]string{{"patient", "P001"}}, realFiles[2], rec), 400},
			{"over the limit", path, form(nil, realFiles[0], append(readReal(t, realFiles[0]), make([]byte, 1<<20)...)), 413},
			{"plain text", path, func() (string, io.Reader) { return "text/plain", strings.NewReader("x") }, 415},
			{"malformed patient", "/patients/x/mvc", js(`{"session_id":"` + sess.ID + `"}`), 400},
		} {
			ct, body := bad.body()
			if code, b := e.post(bad.path, ct, body); code != bad.want || !bytes.Contains(b, []byte(`"error"`)) {
				t.Errorf("%s: %d %.200s, want %d", bad.name, code, b, bad.want)
			}
		}
		e.getJSON("/patients/"+patient, http.StatusOK, &cur)
		if cur.SettingsVersion != 5 {
			t.Errorf("refused requests changed the settings: version %d", cur.SettingsVersion)
		}
		// Another therapist: 404, as if absent; an audit trail down: 503.
		e.principal = &auth.Principal{Email: "x@example.org", Role: auth.Therapist, Patients: []string{"P008"}, Via: auth.ViaToken}
		if code, _ := e.post(path, "application/json", strings.NewReader(`{"session_id":"`+sess.ID+`","save":true}`)); code != http.StatusNotFound {
			t.Errorf("another therapist's patient: %d, want 404", code)
		}
		e.principal = nil
		e.audit.broken = true
		if code, _ := e.post(path, "application/json", strings.NewReader(`{"session_id":"`+sess.ID+`","save":true}`)); code != http.StatusServiceUnavailable {
			t.Errorf("audit trail down: %d, want 503", code)
		}
		e.audit.broken = false
		e.getJSON("/patients/"+patient, http.StatusOK, &cur)
		if cur.SettingsVersion != 5 {
			t.Errorf("a change the audit trail did not record was made: version %d", cur.SettingsVersion)
		}
	})
}
