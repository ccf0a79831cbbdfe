package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/internal/api"
	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/oldapi"
	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
	"emgd/internal/upload"
	"emgd/internal/web"
	"emgd/internal/webhook"
)

// fullServer assembles the server as emgd serve does: the API with the
// signals, upload, old API and dashboard routes on its mux, every answer
// validated against the document.
func fullServer(t *testing.T, cfg api.Config) (*env, *api.Server, *apidoctest.Checker) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "emgd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fs, err := storage.OpenFolder(filepath.Join(dir, "storage"), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	q := &recordingQueue{}
	svc := &service.Service{Store: st, Storage: fs, Queue: q, Metrics: service.NewMetrics(reg)}
	a := api.New(svc, cfg, reg, nil)
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(16 << 20)}).Register(a.Mux(), a.ReadGuard)
	(&upload.Handler{Svc: svc}).Register(a.Mux(), a.ReadGuard)
	oldapi.Register(a.Mux(), oldapi.Deps{Store: st, Guard: a.ReadGuard})
	review.Register(a.Mux(), review.Deps{Store: st, PatientSettings: st, Guard: a.ReadGuard, Service: svc})
	web.Register(a.Mux())
	check := apidoctest.New(t, a.Mux())
	srv := httptest.NewServer(check.Wrap(a))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, queue: q, store: st, fs: fs}, a, check
}

// Every route registered on the server's mux, by any package, is in the
// document with a success answer that has a content type and a schema.
func TestEveryRouteIsDocumented(t *testing.T) {
	e, a, _ := fullServer(t, api.Config{})
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("/openapi.json: %d %s", resp.StatusCode, b)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	patterns := a.Mux().Patterns()
	for _, want := range []string{"POST /webhooks/storage/c3d-upload", "GET /webhooks/storage/status/{ref}", "GET /sessions",
		"GET /sessions/{id}", "POST /sessions/{id}/recalc", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json",
		"GET /docs", "GET /signals/jit/{session_id}/channels", "GET /signals/jit/{session_id}/{channel...}", "POST /upload",
		"GET /health", "GET /scoring/configurations", "GET /{$}", "GET /ui/{file...}", "GET /patients", "GET /patients/{code}/trends",
		"GET /sessions/{id}/export.csv", "GET /patients/{code}/export.csv", "GET /sessions/{id}/report", "GET /patients/{code}/report",
		"GET /patients/{code}", "PUT /patients/{code}/settings", "GET /patients/{code}/settings/history"} {
		if !slices.Contains(patterns, want) {
			t.Errorf("%s is not registered", want)
		}
	}
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok { // a method-less fallback answering 405
			if doc.Paths[apidoc.OpenAPIPath(p)] == nil {
				t.Errorf("%s: its path is not documented", p)
			}
			continue
		}
		op, ok := doc.Paths[apidoc.OpenAPIPath(path)][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not documented", p)
			continue
		}
		success := false
		for code, r := range op.Responses {
			if code[0] != '2' {
				continue
			}
			for ct, c := range r.Content {
				if ct != "" && len(c.Schema) > 0 {
					success = true
				}
			}
		}
		if !success {
			t.Errorf("%s: no success answer with a content type and schema", p)
		}
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
}

// A route registered without its documentation fails the document, and so
// the test above.
func TestUndocumentedRouteIsCaught(t *testing.T) {
	e, a, _ := fullServer(t, api.Config{})
	a.Mux().HandleFunc("GET /hidden", func(w http.ResponseWriter, r *http.Request) {})
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "GET /hidden") {
		t.Errorf("/openapi.json with an undocumented route: %d %s", resp.StatusCode, b)
	}
}

// One flow through every route: each answer (successes and errors) is
// validated against the document as it is written, and every route has
// answered a documented success.
func TestEveryRouteAnswersAsDocumented(t *testing.T) {
	e, a, check := fullServer(t, api.Config{ReadToken: "rt", WebhookAuth: webhook.Auth{Token: "wt"}})
	auth := []string{"Authorization", "Bearer rt"}
	do := func(method, path string, body []byte, want int, headers ...string) map[string]any {
		t.Helper()
		code, out := e.do(method, path, body, append(append([]string{}, auth...), headers...)...)
		if code != want {
			t.Errorf("%s %s: %d %v, want %d", method, path, code, out, want)
		}
		return out
	}
	rec := testrec.Ghostly(testrec.Options{Seed: 3, GameScore: 12, Seconds: 12})
	key := "P004/Ghostly_Emg_20230321_17-50-17-0881.c3d"
	info := e.put(key, rec)
	ev := supabaseEvent("INSERT", "c3d-examples", key, info.ETag, info.Size)
	do("POST", "/webhooks/storage/c3d-upload", ev, 401, "Authorization", "")
	noAuth := []string{"Authorization", ""}
	out := do("POST", "/webhooks/storage/c3d-upload?token=wt", ev, 200, noAuth...)
	id, _ := out["session_id"].(string)
	// several records, one of them failing
	multi := []byte(`{"Records":[` + s3Record(key, info) + `,` + s3Record("P004/missing.c3d", storage.ObjectInfo{ETag: "x", Size: 1}) + `]}`)
	do("POST", "/webhooks/storage/c3d-upload?token=wt", multi, 200, noAuth...)
	do("POST", "/webhooks/storage/c3d-upload?token=wt", []byte(`{"Records":[`+s3Record("P004/missing.c3d", storage.ObjectInfo{ETag: "x", Size: 1})+`]}`), 404, noAuth...)
	do("GET", "/webhooks/storage/status/"+id, nil, 200)
	do("GET", "/sessions/"+id, nil, 200) // before its analysis
	if errs := e.drain(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("analysis: %v", errs)
	}
	do("GET", "/webhooks/storage/status/"+id, nil, 200)
	do("GET", "/webhooks/storage/status/"+id, nil, 401, "Authorization", "")
	do("GET", "/sessions", nil, 200)
	do("GET", "/sessions?limit=0", nil, 400)
	do("GET", "/sessions/"+id, nil, 200)
	do("GET", "/sessions/nope", nil, 404)
	do("POST", "/sessions/"+id+"/recalc", []byte(`{"threshold_pct": 60}`), 202)
	do("POST", "/sessions/"+id+"/recalc", []byte(`{"threshold_pct": 600}`), 422)
	do("GET", "/healthz", nil, 200)
	do("GET", "/readyz", nil, 200)
	do("GET", "/metrics", nil, 200)
	do("GET", "/openapi.json", nil, 200)
	do("GET", "/docs", nil, 200)
	do("GET", "/signals/jit/"+id+"/channels", nil, 200)
	do("GET", "/signals/jit/"+id+"/CH1%20Raw?include_rms=true&max_points=50", nil, 200)
	do("GET", "/signals/jit/"+id+"/CH9", nil, 404)

	// POST /upload with signals, stored as a session
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("include_signals", "true")
	mw.WriteField("store", "true")
	mw.WriteField("patient_id", "P004")
	fw, _ := mw.CreateFormFile("file", "upload.c3d")
	fw.Write(rec)
	mw.Close()
	do("POST", "/upload", body.Bytes(), 200, "Content-Type", mw.FormDataContentType(), "Accept-Encoding", "gzip")
	do("POST", "/upload", []byte("x"), 422, "Content-Type", "text/plain") // FastAPI: no file
	// the old backend's routes on an upload's answer
	do("POST", "/analysis/recalc", []byte(`{"existing":{"file_id":"f","timestamp":"t","source_filename":"a.c3d","metadata":{},"analytics":{},`+
		`"available_channels":[],"emg_signals":{"CH1":{"sampling_rate":990,"time_axis":[0],"data":[0.5]}}},"session_params":{}}`), 200, "Content-Type", "application/json")
	do("POST", "/analysis/recalc", []byte(`{}`), 422, "Content-Type", "application/json")
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("file", "upload.c3d")
	fw.Write(rec)
	mw.Close()
	do("POST", "/mvc/calibrate", body.Bytes(), 200, "Content-Type", mw.FormDataContentType())
	do("POST", "/mvc/calibrate", []byte("x"), 400, "Content-Type", "text/plain")

	// the old API
	do("GET", "/health", nil, 200, "Authorization", "")
	do("GET", "/config/defaults", nil, 200)
	do("GET", "/scoring/configurations", nil, 200)
	cfg := do("POST", "/scoring/configurations", []byte(`{"configuration_name":"c1","weight_compliance":0.4,"weight_symmetry":0.3,"weight_effort":0.2,"weight_game":0.1}`), 200)
	cid, _ := cfg["id"].(string)
	do("POST", "/scoring/configurations", []byte(`{"weight_game":2}`), 422)
	do("PUT", "/scoring/configurations/"+cid+"/activate", nil, 200)
	do("GET", "/scoring/configurations/active", nil, 200)
	do("GET", "/scoring/configurations/custom?therapist_id=t1", nil, 404)
	do("POST", "/scoring/configurations/custom", []byte(`{"configuration_name":"mine","therapist_id":"t1"}`), 200)
	do("GET", "/scoring/configurations/custom?therapist_id=t1", nil, 200)
	do("PUT", "/scoring/configurations/default", []byte(`{"configuration_name":"GHOSTLY+ Default"}`), 200)
	other := do("POST", "/scoring/configurations", []byte(`{"configuration_name":"c2"}`), 200)
	oid, _ := other["id"].(string)
	do("DELETE", "/scoring/configurations/"+oid, nil, 200)
	do("DELETE", "/scoring/configurations/"+cid, nil, 400)
	do("GET", "/scoring/adherence/P004", nil, 200)
	do("GET", "/scoring/configurations", nil, 401, "Authorization", "")

	// the review
	do("GET", "/patients", nil, 200)
	do("GET", "/patients", nil, 401, "Authorization", "")
	do("GET", "/patients/P004/trends?from=2023-03-01&to=2023-03-31", nil, 200)
	do("GET", "/patients/P004/trends?from=2023-03-31&to=2023-03-01", nil, 400)
	do("GET", "/patients/P404/trends", nil, 404)
	do("GET", "/sessions/"+id+"/export.csv", nil, 200)
	do("GET", "/sessions/nope/export.csv", nil, 404)
	do("GET", "/patients/P004/export.csv?from=2023-03-21", nil, 200)
	do("GET", "/patients/x/export.csv", nil, 400)
	do("GET", "/sessions/"+id+"/report", nil, 200)
	do("GET", "/patients/P004/report", nil, 200)
	do("GET", "/patients/P004/report?to=never", nil, 400)
	do("GET", "/patients/P004", nil, 200)
	do("GET", "/patients/P404", nil, 404)
	do("PUT", "/patients/P004/settings", []byte(`{"mvc":{"CH1":0.0002},"threshold_pct":60,"muscle_names":{"CH1":"Left quadriceps"},"sessions_per_week":4}`), 200, "Content-Type", "application/json")
	do("PUT", "/patients/P004/settings", []byte(`{"threshold_pct":150}`), 422, "Content-Type", "application/json")
	do("GET", "/patients/P004/settings/history", nil, 200)
	do("POST", "/patients/P004/reanalyze", []byte(`{"from":"2023-03-21","to":"2023-03-21"}`), 202, "Content-Type", "application/json")
	do("POST", "/patients/P004/reanalyze", []byte(`{"from":"21/03/2023"}`), 400, "Content-Type", "application/json")
	do("POST", "/patients/P404/reanalyze", nil, 404)
	do("POST", "/patients/P004/mvc", []byte(`{"session_id":"`+id+`","save":true}`), 200, "Content-Type", "application/json")
	do("POST", "/patients/P004/mvc", []byte(`{"session_id":"P004S999"}`), 404, "Content-Type", "application/json")
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("file", "calibration.c3d")
	fw.Write([]byte("not a C3D file"))
	mw.Close()
	do("POST", "/patients/P004/mvc", body.Bytes(), 422, "Content-Type", mw.FormDataContentType())

	// the dashboard
	for _, p := range []string{"/", "/ui/app.js", "/ui/style.css", "/favicon.ico"} {
		resp, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}

	seen := check.Seen()
	for _, p := range a.Mux().Patterns() {
		if !strings.Contains(p, " ") {
			continue // 405 fallbacks
		}
		if !slices.ContainsFunc(seen[p], func(c int) bool { return c >= 200 && c < 300 }) {
			t.Errorf("%s: no success answer validated (saw %v)", p, seen[p])
		}
	}
}
