package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/internal/api"
	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/auth"
	"emgd/internal/oldapi"
	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
	"emgd/internal/upload"
	"emgd/internal/web"
)

// The principals of the scope tests: a therapist assigned P001 only, and
// an admin.
var (
	therapist = &auth.Principal{UserID: "u-t", Email: "therapist@clinic.test", Role: auth.Therapist, Patients: []string{"P001"}, Via: auth.ViaToken}
	admin     = &auth.Principal{UserID: "u-a", Email: "admin@clinic.test", Role: auth.Admin, Via: auth.ViaToken}
)

// auditLog is an Auditor keeping its entries.
type auditLog struct {
	mu      sync.Mutex
	entries []auth.Entry
}

func (a *auditLog) Append(_ context.Context, e auth.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

// since returns the entries appended after the first n.
func (a *auditLog) since(n int) []auth.Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries[n:])
}

func (a *auditLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// brokenAuditor cannot write the trail.
type brokenAuditor struct{}

func (brokenAuditor) Append(context.Context, auth.Entry) error {
	return errors.New("audit table unavailable")
}

// testGuard stands for the accounts guard: X-Test-As names the principal
// (therapist, admin; none: no principal), X-Test-Audit: broken gives the
// request an auditor that fails. The request is changed in place, so that
// the mux's pattern is seen by the document checker around it.
func testGuard(log *auditLog, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.Header.Get("X-Test-As") {
		case "therapist":
			ctx = auth.WithPrincipal(ctx, therapist)
		case "admin":
			ctx = auth.WithPrincipal(ctx, admin)
		}
		var a auth.Auditor = log
		if r.Header.Get("X-Test-Audit") == "broken" {
			a = brokenAuditor{}
		}
		*r = *r.WithContext(auth.WithAuditor(ctx, a))
		h.ServeHTTP(w, r)
	})
}

// scopeEnv is the whole server (as fullServer assembles it, the review's
// actions included) behind testGuard, on a store of either dialect.
type scopeEnv struct {
	*env
	mux   *api.Server
	audit *auditLog
	// sessions of P001 and P002, analysed
	p1, p2 target
}

func newScopeEnv(t *testing.T, st store.Store) *scopeEnv {
	t.Helper()
	dir := t.TempDir()
	fs, err := storage.OpenFolder(dir, "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	q := &recordingQueue{}
	svc := &service.Service{Store: st, Storage: fs, Queue: q, Metrics: service.NewMetrics(reg)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc.Log = quiet
	a := api.New(svc, api.Config{}, reg, quiet)
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(16 << 20), Log: quiet}).Register(a.Mux(), a.ReadGuard)
	(&upload.Handler{Svc: svc, Log: quiet}).Register(a.Mux(), a.ReadGuard)
	oldapi.Register(a.Mux(), oldapi.Deps{Store: st, Log: quiet, Guard: a.ReadGuard})
	review.Register(a.Mux(), review.Deps{Store: st, PatientSettings: st, Service: svc, Log: quiet, Guard: a.ReadGuard})
	web.Register(a.Mux())
	log := &auditLog{}
	check := apidoctest.New(t, a.Mux())
	srv := httptest.NewServer(check.Wrap(testGuard(log, a)))
	t.Cleanup(srv.Close)
	e := &scopeEnv{env: &env{t: t, srv: srv, svc: svc, queue: q, store: st, fs: fs}, mux: a, audit: log}
	e.p1 = e.session("P001/Ghostly_Emg_20230321_17-50-17-0881.c3d", 11)
	e.p2 = e.session("P002/Ghostly_Emg_20230322_09-10-11-0001.c3d", 12)
	ctx := context.Background()
	for _, p := range []string{"P001", "P002"} {
		if _, err := st.SaveSettings(ctx, p, json.RawMessage(`{"sessions_per_week":4}`), "fixture"); err != nil {
			t.Fatal(err)
		}
		tid := "t1"
		pid := p
		if _, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "custom " + p, Weights: store.DefaultScoringWeights(),
			TherapistID: &tid, PatientID: &pid}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// target is what a request names: a patient and a session of it.
type target struct{ patient, id, code string }

// absent names a patient and a session that do not exist.
func absent() target {
	return target{patient: "P999", id: newUUID(), code: "P999S001"}
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// session stores a recording under key through the webhook, analyses it
// and returns its session.
// queued counts the jobs enqueued and not yet run.
func (e *scopeEnv) queued() int {
	e.queue.mu.Lock()
	defer e.queue.mu.Unlock()
	return len(e.queue.jobs)
}

func (e *scopeEnv) session(key string, seed uint64) target {
	e.t.Helper()
	info := e.put(key, testrec.Ghostly(testrec.Options{Seed: seed, GameScore: 10, Seconds: 12}))
	code, out := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, info.ETag, info.Size))
	if code != 200 {
		e.t.Fatalf("webhook %s: %d %v", key, code, out)
	}
	for _, err := range e.drain() {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	sess, err := e.store.GetSession(context.Background(), out["session_id"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return target{patient: sess.PatientCode, id: sess.ID, code: sess.SessionCode}
}

// request is one request of a route.
type request struct {
	method, path string
	body         []byte
	header       []string
}

func jsonReq(method, path, body string) request {
	return request{method, path, []byte(body), []string{"Content-Type", "application/json"}}
}

func get(path string) request { return request{method: "GET", path: path} }

// form is a multipart request with the recording as file name and fields.
func form(path, name string, fields ...string) request {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 12}))
	mw.Close()
	return request{"POST", path, b.Bytes(), []string{"Content-Type", mw.FormDataContentType()}}
}

// call sends q as who ("therapist", "admin" or ""), with a broken auditor
// when broken, and returns the status and body.
func (e *scopeEnv) call(q request, who string, broken bool) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(q.method, e.srv.URL+q.path, bytes.NewReader(q.body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(q.header); i += 2 {
		req.Header.Set(q.header[i], q.header[i+1])
	}
	req.Header.Set("X-Test-As", who)
	if broken {
		req.Header.Set("X-Test-Audit", "broken")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// routeCase is how the scope test exercises one route.
type routeCase struct {
	// kind: patient (the request names one patient's data), list (the
	// answer lists several patients'), global (no patient's data, guarded),
	// admin (a change to what scores every patient: admins only, 403 for a
	// therapist), open (not guarded, or static).
	kind string
	req  func(e *scopeEnv, tg target) request
	want int // the success status (0: 200)
	// action is the audit trail's action for a success ("" none);
	// session: the entry names the session.
	action  string
	session bool
	// absentDiffers: an absent patient is no 404 (the request creates, or
	// reads nothing stored), so another's answer is compared to nothing.
	absentDiffers bool
	// listed returns the patients an answer lists (kind list).
	listed func(t *testing.T, body []byte) []string
}

func sessionCodes(t *testing.T, body []byte) []string {
	var out struct {
		Sessions []struct {
			PatientCode string `json:"patient_code"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ps []string
	for _, s := range out.Sessions {
		ps = append(ps, s.PatientCode)
	}
	return ps
}

// scopeCases has a case for every route of the server: a route without
// one fails TestEveryRouteHonoursThePrincipal.
func scopeCases() map[string]routeCase {
	patient := func(action string, session bool, req func(e *scopeEnv, tg target) request) routeCase {
		return routeCase{kind: "patient", req: req, action: action, session: session}
	}
	open := routeCase{kind: "open"}
	openGet := func(path string) routeCase {
		return routeCase{kind: "open", req: func(*scopeEnv, target) request { return get(path) }}
	}
	global := func(action string, req func(e *scopeEnv, tg target) request) routeCase {
		return routeCase{kind: "global", req: req, action: action}
	}
	adminOnly := func(action string, req func(e *scopeEnv, tg target) request) routeCase {
		return routeCase{kind: "admin", req: req, action: action}
	}
	// globalConfig stores a fresh configuration that names no patient.
	globalConfig := func(e *scopeEnv) string {
		c, err := e.store.CreateScoringConfig(context.Background(), store.ScoringConfig{Name: "g", Weights: store.DefaultScoringWeights()})
		if err != nil {
			e.t.Fatal(err)
		}
		return c.ID
	}
	scoring := `{"configuration_name":"c","weight_compliance":0.4,"weight_symmetry":0.3,"weight_effort":0.2,"weight_game":0.1}`
	// customConfig stores a fresh custom configuration of tg's patient.
	customConfig := func(e *scopeEnv, tg target) string {
		if tg.patient == "P999" {
			return newUUID()
		}
		tid, pid := "t-"+newUUID(), tg.patient
		c, err := e.store.SaveCustomScoringConfig(context.Background(), store.ScoringConfig{Name: "x", Weights: store.DefaultScoringWeights(), TherapistID: &tid, PatientID: &pid})
		if err != nil {
			e.t.Fatal(err)
		}
		return c.ID
	}
	upd := func(c routeCase) routeCase { c.absentDiffers = true; return c }
	withWant := func(c routeCase, want int) routeCase { c.want = want; return c }
	return map[string]routeCase{
		// the API
		"POST /webhooks/storage/c3d-upload": open, // the storage's, not a user's
		"GET /webhooks/storage/status/{ref}": patient("session.status", true, func(_ *scopeEnv, tg target) request {
			return get("/webhooks/storage/status/" + tg.id)
		}),
		"GET /sessions": {kind: "list", action: "sessions.list", listed: sessionCodes,
			req: func(*scopeEnv, target) request { return get("/sessions?limit=500") }},
		"GET /sessions/{id}": patient("session.read", true, func(_ *scopeEnv, tg target) request { return get("/sessions/" + tg.code) }),
		"POST /sessions/{id}/recalc": withWant(patient("session.recalc", true, func(_ *scopeEnv, tg target) request {
			return jsonReq("POST", "/sessions/"+tg.id+"/recalc", `{"threshold_pct":60}`)
		}), 202),
		"GET /healthz":      openGet("/healthz"),
		"GET /readyz":       openGet("/readyz"),
		"GET /metrics":      openGet("/metrics"),
		"GET /openapi.json": openGet("/openapi.json"),
		"GET /docs":         openGet("/docs"),
		// signals
		"GET /signals/jit/{session_id}/channels": patient("channels.read", true, func(_ *scopeEnv, tg target) request {
			return get("/signals/jit/" + tg.id + "/channels")
		}),
		"GET /signals/jit/{session_id}/{channel...}": patient("signals.read", true, func(_ *scopeEnv, tg target) request {
			return get("/signals/jit/" + tg.code + "/CH1%20Raw?max_points=50")
		}),
		// uploads and the old backend's routes on an upload's answer
		"POST /upload": upd(patient("upload", false, func(_ *scopeEnv, tg target) request {
			return form("/upload", "recording.c3d", "store", "true", "patient", tg.patient, "include_signals", "false")
		})),
		"POST /analysis/recalc": upd(patient("analysis.recalc", false, func(_ *scopeEnv, tg target) request {
			return jsonReq("POST", "/analysis/recalc", `{"existing":{"file_id":"f","timestamp":"t","source_filename":"a.c3d","metadata":{},"analytics":{},`+
				`"available_channels":[],"patient_id":"`+tg.patient+`","emg_signals":{"CH1":{"sampling_rate":990,"time_axis":[0],"data":[0.5]}}},"session_params":{}}`)
		})),
		"POST /mvc/calibrate": upd(patient("mvc.calibrate", false, func(_ *scopeEnv, tg target) request {
			return form("/mvc/calibrate", tg.patient+"_calibration.c3d")
		})),
		// the old API
		"GET /health":                        openGet("/health"),
		"GET /config/defaults":               global("", func(*scopeEnv, target) request { return get("/config/defaults") }),
		"GET /scoring/configurations":        {kind: "list", listed: configPatients, req: func(*scopeEnv, target) request { return get("/scoring/configurations") }},
		"POST /scoring/configurations":       adminOnly("scoring.create", func(*scopeEnv, target) request { return jsonReq("POST", "/scoring/configurations", scoring) }),
		"GET /scoring/configurations/active": global("", func(*scopeEnv, target) request { return get("/scoring/configurations/active") }),
		// Whatever configuration is activated, it scores every patient
		// without their own.
		"PUT /scoring/configurations/{config_id}/activate": adminOnly("scoring.activate", func(e *scopeEnv, _ target) request {
			return request{method: "PUT", path: "/scoring/configurations/" + globalConfig(e) + "/activate"}
		}),
		"DELETE /scoring/configurations/{config_id}": patient("scoring.delete", false, func(e *scopeEnv, tg target) request {
			return request{method: "DELETE", path: "/scoring/configurations/" + customConfig(e, tg)}
		}),
		"GET /scoring/configurations/custom": patient("scoring.read", false, func(_ *scopeEnv, tg target) request {
			return get("/scoring/configurations/custom?therapist_id=t1&patient_id=" + tg.patient)
		}),
		"POST /scoring/configurations/custom": upd(patient("scoring.custom", false, func(_ *scopeEnv, tg target) request {
			return jsonReq("POST", "/scoring/configurations/custom", `{"configuration_name":"mine","therapist_id":"t2","patient_id":"`+tg.patient+`"}`)
		})),
		"PUT /scoring/configurations/default": adminOnly("scoring.default", func(*scopeEnv, target) request {
			return jsonReq("PUT", "/scoring/configurations/default", `{"configuration_name":"GHOSTLY+ Default"}`)
		}),
		"GET /scoring/adherence/{patient_code}": patient("adherence.read", false, func(_ *scopeEnv, tg target) request {
			return get("/scoring/adherence/" + tg.patient)
		}),
		// the review
		"GET /patients": {kind: "list", action: "patients.list", listed: patientCodes, req: func(*scopeEnv, target) request { return get("/patients") }},
		"GET /patients/{code}/trends": patient("trends.read", false, func(_ *scopeEnv, tg target) request {
			return get("/patients/" + tg.patient + "/trends")
		}),
		"GET /sessions/{id}/export.csv": patient("export.csv", true, func(_ *scopeEnv, tg target) request {
			return get("/sessions/" + tg.id + "/export.csv")
		}),
		"GET /patients/{code}/export.csv": patient("export.csv", false, func(_ *scopeEnv, tg target) request {
			return get("/patients/" + tg.patient + "/export.csv")
		}),
		"GET /sessions/{id}/report": patient("report.read", true, func(_ *scopeEnv, tg target) request {
			return get("/sessions/" + tg.code + "/report")
		}),
		"GET /patients/{code}/report": patient("report.read", false, func(_ *scopeEnv, tg target) request {
			return get("/patients/" + tg.patient + "/report?from=2023-01-01")
		}),
		"GET /patients/{code}": patient("patient.read", false, func(_ *scopeEnv, tg target) request { return get("/patients/" + tg.patient) }),
		"PUT /patients/{code}/settings": upd(patient("settings.update", false, func(_ *scopeEnv, tg target) request {
			return jsonReq("PUT", "/patients/"+tg.patient+"/settings", `{"threshold_pct":60,"sessions_per_week":3}`)
		})),
		"GET /patients/{code}/settings/history": patient("settings.read", false, func(_ *scopeEnv, tg target) request {
			return get("/patients/" + tg.patient + "/settings/history")
		}),
		"POST /patients/{code}/reanalyze": withWant(patient("patient.reanalyze", false, func(_ *scopeEnv, tg target) request {
			return jsonReq("POST", "/patients/"+tg.patient+"/reanalyze", `{}`)
		}), 202),
		// An absent patient's answer names the session asked for ("no
		// session X of patient P999"), another's patient's does not ("no
		// patient P002"): both say nothing of whether the patient exists.
		"POST /patients/{code}/mvc": upd(patient("mvc.calibrate", true, func(_ *scopeEnv, tg target) request {
			return jsonReq("POST", "/patients/"+tg.patient+"/mvc", `{"session_id":"`+tg.id+`"}`)
		})),
		// the accounts' own routes (internal/auth tests them): who one
		// is, and the audit trail, admins only
		"POST /auth/login":  {kind: "account"},
		"POST /auth/logout": {kind: "account"},
		"GET /auth/me":      {kind: "account"},
		"GET /audit":        {kind: "account"},
		// the dashboard
		"GET /{$}":          openGet("/"),
		"GET /ui/{file...}": openGet("/ui/app.js"),
		"GET /favicon.ico":  openGet("/favicon.ico"),
	}
}

func configPatients(t *testing.T, body []byte) []string {
	var out []struct {
		PatientID *string `json:"patient_id"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ps []string
	for _, c := range out {
		if c.PatientID != nil {
			ps = append(ps, *c.PatientID)
		}
	}
	return ps
}

func patientCodes(t *testing.T, body []byte) []string {
	var out struct {
		Patients []struct {
			PatientCode string `json:"patient_code"`
		} `json:"patients"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ps []string
	for _, p := range out.Patients {
		ps = append(ps, p.PatientCode)
	}
	return ps
}

// Every route of the server, on SQLite and PostgreSQL: a therapist
// assigned P001 gets P001's data and, for P002's, the very answer an
// absent patient or session gets (404); listings leave P002 out; an admin
// gets both; each read of patient data and each change appends its audit
// entry (user, action, patient, session), and an auditor that fails makes
// it a 503 with nothing changed. A route without a case here fails the
// test.
func TestEveryRouteHonoursThePrincipal(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"SQLite", func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{}) }},
		{"PostgreSQL", func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{}) }},
	} {
		t.Run(db.name, func(t *testing.T) { everyRoute(t, db.open(t)) })
	}
}

func everyRoute(t *testing.T, st store.Store) {
	e := newScopeEnv(t, st)
	cases := scopeCases()
	patterns := e.mux.Mux().Patterns()
	// Cases of routes no longer served are stale.
	for p, c := range cases {
		if !slices.Contains(patterns, p) && c.kind != "account" {
			t.Errorf("%s: a case for a route the server does not serve", p)
		}
	}
	for _, p := range patterns {
		if !strings.Contains(p, " ") {
			continue // 405 fallbacks
		}
		c, ok := cases[p]
		if !ok {
			t.Errorf("%s: no case in scopeCases: say how this route honours the principal (and its audit action)", p)
			continue
		}
		if c.req == nil {
			continue
		}
		t.Run(p, func(t *testing.T) {
			e.env.t = t
			want := c.want
			if want == 0 {
				want = 200
			}
			switch c.kind {
			case "open":
				if code, body := e.call(c.req(e, e.p1), "therapist", false); code != 200 {
					t.Errorf("therapist: %d %.300s", code, body)
				}
			case "global":
				e.expect(t, c, c.req(e, e.p1), "therapist", want, "")
			case "admin":
				n, queued := e.audit.len(), e.queued()
				if code, body := e.call(c.req(e, e.p1), "therapist", false); code != 403 || !bytes.Contains(body, []byte("admin only")) {
					t.Errorf("therapist: %d %.300s, want 403 admin only", code, body)
				}
				if got := e.audit.since(n); len(got) > 0 {
					t.Errorf("therapist: audited %+v", got)
				}
				if e.queued() != queued {
					t.Errorf("therapist: a job was queued")
				}
				e.expect(t, c, c.req(e, e.p1), "admin", want, "")
			case "list":
				for _, who := range []string{"therapist", "admin"} {
					code, body := e.expect(t, c, c.req(e, e.p1), who, want, "")
					if code != want {
						continue
					}
					got := c.listed(t, body)
					if !slices.Contains(got, "P001") {
						t.Errorf("%s: P001 is not listed: %v", who, got)
					}
					if slices.Contains(got, "P002") != (who == "admin") {
						t.Errorf("%s: listed %v", who, got)
					}
				}
				if p == "GET /sessions" { // a filter on another's patient lists nothing
					code, body := e.call(get("/sessions?patient=P002"), "therapist", false)
					if got := sessionCodes(t, body); code != 200 || len(got) > 0 {
						t.Errorf("therapist, ?patient=P002: %d %v", code, got)
					}
				}
			case "patient":
				e.expect(t, c, c.req(e, e.p1), "therapist", want, "P001")
				n, queued := e.audit.len(), e.queued()
				code, mine := e.call(c.req(e, e.p2), "therapist", false)
				if code != 404 {
					t.Errorf("therapist, P002's: %d %.300s, want 404", code, mine)
				}
				if got := e.audit.since(n); len(got) > 0 {
					t.Errorf("therapist, P002's: audited %+v", got)
				}
				if e.queued() != queued {
					t.Errorf("therapist, P002's: a job was queued")
				}
				if !c.absentDiffers {
					// The very answer an absent patient or session gets.
					abs := absent()
					acode, abody := e.call(c.req(e, abs), "admin", false)
					abody = bytes.ReplaceAll(abody, []byte(abs.id), []byte(e.p2.id))
					abody = bytes.ReplaceAll(abody, []byte(abs.code), []byte(e.p2.code))
					abody = bytes.ReplaceAll(abody, []byte(abs.patient), []byte(e.p2.patient))
					// Ids the request builder made (configurations) differ.
					abody, mine := uuidRe.ReplaceAll(abody, []byte("<id>")), uuidRe.ReplaceAll(mine, []byte("<id>"))
					if acode != code || !bytes.Equal(abody, mine) {
						t.Errorf("P002's answer to the therapist differs from an absent one's:\n%d %s\n%d %s", code, mine, acode, abody)
					}
				}
				e.expect(t, c, c.req(e, e.p2), "admin", want, "P002")
			}
			if c.action != "" {
				// An auditor that fails: 503, and nothing done.
				queued := e.queued()
				before, _ := st.CurrentSettings(context.Background(), "P001")
				who := "therapist"
				if c.kind == "admin" {
					who = "admin"
				}
				if code, body := e.call(c.req(e, e.p1), who, true); code != 503 {
					t.Errorf("failing auditor: %d %.300s, want 503", code, body)
				} else if msg := refusal(t, p, body); msg != "audit trail unavailable" {
					t.Errorf("failing auditor: %q in %.300s, want audit trail unavailable", msg, body)
				}
				if e.queued() != queued {
					t.Errorf("failing auditor: a job was queued")
				}
				if after, _ := st.CurrentSettings(context.Background(), "P001"); after.Version != before.Version {
					t.Errorf("failing auditor: settings version %d -> %d", before.Version, after.Version)
				}
			}
		})
	}
	e.env.t = t
}

// refusal is the message of an error answer of route: the old backend's
// shape ({error: HTTP_ERROR, message, status_code, path}) for its routes,
// emgd's ({success: false, error}) for the others.
func refusal(t *testing.T, route string, body []byte) string {
	t.Helper()
	var out struct {
		Success    *bool  `json:"success"`
		Error      string `json:"error"`
		Message    string `json:"message"`
		StatusCode int    `json:"status_code"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Errorf("error answer %.300s: %v", body, err)
		return ""
	}
	old := strings.Contains(route, " /scoring/") || route == "POST /analysis/recalc" || route == "POST /mvc/calibrate"
	if old {
		if out.Error != "HTTP_ERROR" || out.Success != nil || out.StatusCode == 0 {
			t.Errorf("error answer %.300s: not the old backend's shape", body)
		}
		return out.Message
	}
	if out.Success == nil || *out.Success {
		t.Errorf("error answer %.300s: not emgd's shape", body)
	}
	return out.Error
}

// expect sends q as who, checks its status and that the audit trail got
// c's entry for patient, and returns the answer.
func (e *scopeEnv) expect(t *testing.T, c routeCase, q request, who string, want int, patient string) (int, []byte) {
	t.Helper()
	n := e.audit.len()
	code, body := e.call(q, who, false)
	if code != want {
		t.Errorf("%s, %s: %d %.500s, want %d", who, q.path, code, body, want)
		return code, body
	}
	got := e.audit.since(n)
	if c.action == "" {
		if len(got) > 0 {
			t.Errorf("%s: audited %+v, want nothing", who, got)
		}
		return code, body
	}
	user := therapist.Email
	if who == "admin" {
		user = admin.Email
	}
	if len(got) != 1 {
		t.Errorf("%s: audit entries %+v, want one %s", who, got, c.action)
		return code, body
	}
	en := got[0]
	if en.Action != c.action || en.PatientCode != patient || en.User != user || en.IP == "" || en.At.IsZero() {
		t.Errorf("%s: audit entry %+v, want %s of %q by %s", who, en, c.action, patient, user)
	}
	if c.session {
		sid := e.p1.id
		if patient == "P002" {
			sid = e.p2.id
		}
		if c.absentDiffers { // a new session: any
			sid = en.SessionID
		}
		if en.SessionID != sid || sid == "" {
			t.Errorf("%s: audit entry names session %q, want %q", who, en.SessionID, sid)
		}
	} else if en.SessionID != "" {
		t.Errorf("%s: audit entry names session %q, want none", who, en.SessionID)
	}
	return code, body
}

// An upload naming a patient the therapist may not see, in a field or its
// file name, or stored under one (P000 when it names none), answers 404
// before anything is analysed or stored, and is not audited; one naming
// only theirs, or none and not stored, is served and audited.
func TestUploadNamesOnlyThePrincipalsPatients(t *testing.T) {
	e := newScopeEnv(t, storetest.OpenSQLite(t, store.Options{}))
	contents := func() (objects, sessions int) {
		for _, err := range e.fs.List(context.Background(), "c3d-examples", "") {
			if err != nil {
				t.Fatal(err)
			}
			objects++
		}
		page, err := e.store.ListSessions(context.Background(), store.ListOptions{Limit: store.MaxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		return objects, len(page.Sessions)
	}
	for _, tc := range []struct {
		name    string
		file    string
		fields  []string
		want    int
		patient string // audited
	}{
		{"file name", "P002_calibration.c3d", nil, 404, ""},
		{"file name with a session code", "P002S001.c3d", nil, 404, ""},
		{"patient_id", "recording.c3d", []string{"patient_id", "P002"}, 404, ""},
		{"patient", "recording.c3d", []string{"patient", "P002"}, 404, ""},
		{"stored under P000", "recording.c3d", []string{"store", "true"}, 404, ""},
		{"own patient, another's in the name", "P002_x.c3d", []string{"store", "true", "patient", "P001"}, 404, ""},
		{"own patient in the name, stored", "P001_x.c3d", []string{"store", "true", "patient_id", "P001"}, 200, "P001"},
		{"no patient, not stored", "recording.c3d", nil, 200, ""},
		{"a device's file name", "Ghostly_Emg_20230321_17-50-17-0881.c3d", nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects, sessions := contents()
			n := e.audit.len()
			q := form("/upload", tc.file, append([]string{"include_signals", "false"}, tc.fields...)...)
			code, body := e.call(q, "therapist", false)
			if code != tc.want {
				t.Fatalf("%d %.300s, want %d", code, body, tc.want)
			}
			got := e.audit.since(n)
			if code == 404 {
				if o, s := contents(); o != objects || s != sessions {
					t.Errorf("objects %d -> %d, sessions %d -> %d", objects, o, sessions, s)
				}
				if len(got) > 0 {
					t.Errorf("audited %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Action != "upload" || got[0].PatientCode != tc.patient || got[0].User != therapist.Email {
				t.Errorf("audit %+v, want one upload of %q", got, tc.patient)
			}
		})
	}
}

// The scope tests' server serves every route of the whole-server document
// tests' (fullServer), so that a route added there is covered here.
func TestScopeServerIsTheFullServer(t *testing.T) {
	_, full, _ := fullServer(t, api.Config{})
	e := newScopeEnv(t, storetest.OpenSQLite(t, store.Options{}))
	for _, p := range full.Mux().Patterns() {
		if !slices.Contains(e.mux.Mux().Patterns(), p) {
			t.Errorf("%s: served by fullServer, not by the scope tests' server", p)
		}
	}
}

// The active scoring configuration, when it is another patient's custom
// one, is absent for the therapist.
func TestActiveConfigurationOfAnotherPatient(t *testing.T) {
	e := newScopeEnv(t, storetest.OpenSQLite(t, store.Options{}))
	tid, pid := "t9", "P002"
	c, err := e.store.SaveCustomScoringConfig(context.Background(), store.ScoringConfig{Name: "P002's", Weights: store.DefaultScoringWeights(), TherapistID: &tid, PatientID: &pid})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.call(request{method: "PUT", path: "/scoring/configurations/" + c.ID + "/activate"}, "admin", false); code != 200 {
		t.Fatalf("activate: %d %s", code, body)
	}
	if code, body := e.call(get("/scoring/configurations/active"), "therapist", false); code != 404 {
		t.Errorf("therapist: %d %s, want 404", code, body)
	}
	if code, body := e.call(get("/scoring/configurations/active"), "admin", false); code != 200 || !bytes.Contains(body, []byte(c.ID)) {
		t.Errorf("admin: %d %s", code, body)
	}
}

// Settings saved by a user name that user; without a principal, "api".
func TestSettingsRecordTheUser(t *testing.T) {
	e := newScopeEnv(t, storetest.OpenSQLite(t, store.Options{}))
	for _, tc := range []struct{ who, want string }{{"therapist", therapist.Email}, {"", review.UpdatedByAPI}} {
		code, body := e.call(jsonReq("PUT", "/patients/P001/settings", `{"sessions_per_week":5}`), tc.who, false)
		var out review.PatientSettingsResponse
		if err := json.Unmarshal(body, &out); err != nil || code != 200 || out.UpdatedBy == nil || *out.UpdatedBy != tc.want {
			t.Errorf("%q: %d %s, want updated_by %s", tc.who, code, body, tc.want)
		}
	}
}

// Every route emgd serve documents has a case in scopeCases: a route
// added to the server without one fails here, even when the scope tests'
// server does not assemble it.
func TestEveryServedRouteHasAScopeCase(t *testing.T) {
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: t.TempDir()})
	resp, err := http.Get("http://" + addr + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Paths) == 0 {
		t.Fatalf("/openapi.json: %d %v", resp.StatusCode, err)
	}
	covered := map[string]bool{}
	for p := range scopeCases() {
		method, path, _ := strings.Cut(p, " ")
		covered[method+" "+apidoc.OpenAPIPath(path)] = true
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if p := strings.ToUpper(method) + " " + path; !covered[p] {
				t.Errorf("%s: served by emgd serve without a case in scopeCases", p)
			}
		}
	}
}
