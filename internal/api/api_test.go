package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
	"emgd/internal/webhook"
)

// recordingQueue keeps enqueued jobs; tests run them with drain.
type recordingQueue struct {
	mu   sync.Mutex
	jobs []service.AnalyzeArgs
}

func (q *recordingQueue) EnqueueTx(ctx context.Context, tx store.Tx, a service.AnalyzeArgs) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, a)
	return nil
}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	svc   *service.Service
	queue *recordingQueue
	store store.Store
	fs    *storage.Folder
}

func newEnv(t *testing.T, cfg api.Config) *env {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emgd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, cfg, st)
}

// newEnvOn is newEnv on the given store.
func newEnvOn(t *testing.T, cfg api.Config, st store.Store) *env {
	t.Helper()
	dir := t.TempDir()
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
	// Every answer is validated against the API document.
	srv := httptest.NewServer(apidoctest.New(t, a.Mux()).Wrap(a))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, queue: q, store: st, fs: fs}
}

func (e *env) put(key string, b []byte) storage.ObjectInfo {
	e.t.Helper()
	info, err := e.fs.Put(context.Background(), "c3d-examples", key, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

func (e *env) do(method, path string, body []byte, headers ...string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

// drain runs the queued jobs as a worker would.
func (e *env) drain() []error {
	e.queue.mu.Lock()
	jobs := e.queue.jobs
	e.queue.jobs = nil
	e.queue.mu.Unlock()
	var errs []error
	for _, j := range jobs {
		errs = append(errs, e.svc.Process(context.Background(), j))
	}
	return errs
}

func supabaseEvent(typ, bucket, key, etag string, size int64) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "table": "objects", "schema": "storage",
		"record": map[string]any{"bucket_id": bucket, "name": key, "metadata": map[string]any{"eTag": `"` + etag + `"`, "size": size}}})
	return b
}

var defaultConfig = store.DefaultScoringConfigID

func TestWebhookToCompletedSession(t *testing.T) {
	e := newEnv(t, api.Config{})
	rec := testrec.Ghostly(testrec.Options{Seed: 1, GameScore: 24})
	key := "P005/Ghostly_Emg_20230321_17-50-17-0881.c3d"
	info := e.put(key, rec)

	code, body := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, info.ETag, info.Size))
	if code != 200 || body["success"] != true || body["analytics_status"] != "processing" {
		t.Fatalf("%d %v", code, body)
	}
	if body["session_code"] != "P005S001" {
		t.Errorf("session_code %v", body["session_code"])
	}
	md, _ := body["metadata"].(map[string]any)
	for k, want := range map[string]any{"channel_count": 4.0, "sampling_rate": 990.0, "samples_per_channel": float64(20 * 990),
		"duration_seconds": 20.0, "frame_count": float64(20 * 33), "patient_code": "P005", "recorded_at": "2023-03-21T17:50:17",
		"bucket": "c3d-examples", "object_key": key, "etag": info.ETag, "file_size_bytes": float64(len(rec))} {
		if md[k] != want {
			t.Errorf("metadata %s = %v, want %v", k, md[k], want)
		}
	}
	if names, _ := md["channel_names"].([]any); len(names) != 4 || names[0] != "CH1 Raw" {
		t.Errorf("channel_names %v", md["channel_names"])
	}
	if game, _ := md["game"].(map[string]any); game["name"] != "Ghostly" || game["score"] != 24.0 || game["level"] != "2" {
		t.Errorf("game %v", md["game"])
	}
	id := body["session_id"].(string)

	// The same object again: the same session, no second job.
	code, again := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("UPDATE", "c3d-examples", key, info.ETag, info.Size))
	if code != 200 || again["session_id"] != id || again["duplicate"] != true {
		t.Fatalf("duplicate: %d %v", code, again)
	}
	if len(e.queue.jobs) != 1 {
		t.Fatalf("%d jobs queued, want 1", len(e.queue.jobs))
	}
	for _, err := range e.drain() {
		if err != nil {
			t.Fatal(err)
		}
	}
	code, st := e.do("GET", "/webhooks/storage/status/P005S001", nil)
	if code != 200 || st["status"] != "completed" || st["has_analysis"] != true {
		t.Fatalf("status %d %v", code, st)
	}
	code, sess := e.do("GET", "/sessions/"+id, nil)
	if code != 200 {
		t.Fatalf("%d %v", code, sess)
	}
	an, _ := sess["analysis"].(map[string]any)
	if an == nil || an["processing_version"] != "ghostly/1" {
		t.Fatalf("analysis %v", sess["analysis"])
	}
	if len(sess["file_sha256"].(string)) != 64 {
		t.Errorf("file_sha256 %v", sess["file_sha256"])
	}

	// The stored analytics equal emgd analyze on the same file.
	want, err := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), key, emg.Params{}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(map[string]any{"analytics": want.Analytics, "available_channels": want.AvailableChannels, "processing_version": want.ProcessingVersion})
	gotJSON, _ := json.Marshal(an["analytics_summary"])
	if !jsonEqual(t, wantJSON, gotJSON) {
		t.Errorf("stored summary differs from emgd analyze:\n got %s\nwant %s", gotJSON, wantJSON)
	}
	// The same scores, with the scoring configuration they were weighted
	// by: a fresh database's GHOSTLY-TRIAL-DEFAULT, emgd's defaults.
	scoresWant, _ := json.Marshal(service.StoredScores{Performance: want.PerformanceAnalysis, ScoringConfigID: &defaultConfig})
	scoresGot, _ := json.Marshal(an["scores"])
	if !jsonEqual(t, scoresWant, scoresGot) {
		t.Errorf("scores differ:\n got %s\nwant %s", scoresGot, scoresWant)
	}

	// A new version of the object: a new session; the old one is superseded.
	info2 := e.put(key, testrec.Ghostly(testrec.Options{Seed: 2}))
	code, v2 := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("UPDATE", "c3d-examples", key, info2.ETag, info2.Size))
	if code != 200 || v2["session_id"] == id || v2["session_code"] != "P005S002" {
		t.Fatalf("new version: %d %v", code, v2)
	}
	_, old := e.do("GET", "/sessions/"+id, nil)
	if old["superseded_by"] != v2["session_id"] {
		t.Errorf("superseded_by %v, want %v", old["superseded_by"], v2["session_id"])
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestWebhookIgnoresAndRejects(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.put("P001/notes.txt", []byte("hello"))
	bad := e.put("P001/broken.c3d", bytes.Repeat([]byte("x"), 3000))
	trunc := testrec.Ghostly(testrec.Options{})
	tinfo := e.put("P001/truncated.c3d", trunc[:len(trunc)/2])
	cases := []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"other bucket", supabaseEvent("INSERT", "other", "P001/a.c3d", "e", 1), 200, "ignored"},
		{"not c3d", supabaseEvent("INSERT", "c3d-examples", "P001/notes.txt", "e", 5), 200, "ignored"},
		{"delete", []byte(`{"type":"DELETE","table":"objects","schema":"storage","record":null}`), 200, "ignored"},
		{"malformed", []byte(`{"type":`), 400, "malformed"},
		{"unknown shape", []byte(`{"hello":1}`), 400, "unknown"},
		{"not a C3D", supabaseEvent("INSERT", "c3d-examples", "P001/broken.c3d", bad.ETag, bad.Size), 422, "C3D"},
		{"truncated C3D", supabaseEvent("INSERT", "c3d-examples", "P001/truncated.c3d", tinfo.ETag, tinfo.Size), 422, "truncated"},
		{"missing object", supabaseEvent("INSERT", "c3d-examples", "P001/none.c3d", "e", 10), 404, "not found"},
		{"traversal", supabaseEvent("INSERT", "c3d-examples", "../../etc/passwd.c3d", "e", 10), 400, "invalid"},
		{"encoded traversal", []byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"..%2F..%2Fx.c3d","size":1}}}]}`), 400, "invalid"},
		{"absolute", supabaseEvent("INSERT", "c3d-examples", "/etc/x.c3d", "e", 10), 400, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := e.do("POST", "/webhooks/storage/c3d-upload", c.body)
			if code != c.code {
				t.Fatalf("%d %v, want %d", code, body, c.code)
			}
			if c.want == "ignored" {
				if body["ignored"] != true {
					t.Errorf("%v", body)
				}
			} else if msg, _ := body["error"].(string); !strings.Contains(strings.ToLower(msg), strings.ToLower(c.want)) {
				t.Errorf("error %q lacks %q", msg, c.want)
			}
		})
	}
	// The unreadable .c3d objects are recorded as rejected, without jobs;
	// nothing else is left behind.
	page, err := e.store.ListSessions(context.Background(), store.ListOptions{})
	if err != nil || len(page.Sessions) != 2 {
		t.Errorf("sessions left behind by refused events: %v %v", page, err)
	}
	for _, s := range page.Sessions {
		if s.Status != store.StatusRejected || s.Error == "" {
			t.Errorf("%s: status %s, error %q", s.ObjectKey, s.Status, s.Error)
		}
	}
	if len(e.queue.jobs) != 0 {
		t.Errorf("%d jobs queued for refused events", len(e.queue.jobs))
	}
	// Oversized body and wrong content type.
	code, _ := e.do("POST", "/webhooks/storage/c3d-upload", bytes.Repeat([]byte(" "), api.MaxWebhookBody+10))
	if code != 413 {
		t.Errorf("huge body: %d", code)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/webhooks/storage/c3d-upload", strings.NewReader("a=b"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := http.DefaultClient.Do(req)
	if resp.StatusCode != 415 {
		t.Errorf("form body: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestS3EventKeysAndSize(t *testing.T) {
	e := newEnv(t, api.Config{})
	rec := testrec.Ghostly(testrec.Options{})
	e.put("P002/my file (1).c3d", rec)
	e.put("P003/a+b.c3d", rec)
	// URL-encoded key with size 0 (multipart): decoded, then stated.
	code, body := e.do("POST", "/webhooks/storage/c3d-upload", []byte(`{"Records":[{"eventName":"s3:ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"P002/my+file+%281%29.c3d","size":0,"eTag":"\"abc-2\""}}}]}`))
	if code != 200 || body["session_code"] != "P002S001" {
		t.Fatalf("%d %v", code, body)
	}
	md := body["metadata"].(map[string]any)
	if md["object_key"] != "P002/my file (1).c3d" || md["file_size_bytes"] != float64(len(rec)) || md["etag"] != "abc-2" {
		t.Errorf("metadata %v", md)
	}
	// A raw key whose decoding names another object: the raw one exists.
	code, body = e.do("POST", "/webhooks/storage/c3d-upload", []byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"P003/a+b.c3d","size":10}}}]}`))
	if code != 200 || body["metadata"].(map[string]any)["object_key"] != "P003/a+b.c3d" {
		t.Fatalf("%d %v", code, body)
	}
}

func TestWebhookAuth(t *testing.T) {
	e := newEnv(t, api.Config{WebhookAuth: webhook.Auth{Secret: "s3cret", Token: "tok"}})
	info := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	body := supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info.ETag, info.Size)
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload", body); code != 401 {
		t.Errorf("no auth: %d", code)
	}
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload", body, "x-supabase-signature", webhook.Sign("wrong", body)); code != 401 {
		t.Errorf("wrong signature: %d", code)
	}
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload", body, "x-supabase-signature", webhook.Sign("s3cret", body)); code != 200 {
		t.Errorf("signed: %d", code)
	}
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload?token=tok", body); code != 200 {
		t.Errorf("query token: %d", code)
	}
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload", body, "Authorization", "Bearer tok"); code != 200 {
		t.Errorf("bearer: %d", code)
	}
}

func TestReadAPI(t *testing.T) {
	e := newEnv(t, api.Config{ReadToken: "reader"})
	auth := []string{"Authorization", "Bearer reader"}
	for _, p := range []string{"P001/a.c3d", "P001/b.c3d", "P002/c.c3d"} {
		info := e.put(p, testrec.Ghostly(testrec.Options{}))
		if code, b := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", p, info.ETag, info.Size)); code != 200 {
			t.Fatalf("%d %v", code, b)
		}
	}
	if code, _ := e.do("GET", "/sessions", nil); code != 401 {
		t.Errorf("no read token: %d", code)
	}
	code, list := e.do("GET", "/sessions?patient=P001&limit=1", nil, auth...)
	if code != 200 || len(list["sessions"].([]any)) != 1 || list["next_cursor"] == nil {
		t.Fatalf("%d %v", code, list)
	}
	code, list2 := e.do("GET", "/sessions?patient=P001&limit=1&cursor="+list["next_cursor"].(string), nil, auth...)
	if code != 200 || len(list2["sessions"].([]any)) != 1 || list2["next_cursor"] != nil {
		t.Fatalf("page 2: %d %v", code, list2)
	}
	a := list["sessions"].([]any)[0].(map[string]any)["id"]
	b := list2["sessions"].([]any)[0].(map[string]any)["id"]
	if a == b {
		t.Error("pages overlap")
	}
	for _, bad := range []string{"limit=0", "limit=x", "status=done", "cursor=garbage"} {
		if code, _ := e.do("GET", "/sessions?"+bad, nil, auth...); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
	if code, _ := e.do("GET", "/sessions/00000000-0000-0000-0000-000000000000", nil, auth...); code != 404 {
		t.Errorf("unknown id: %d", code)
	}
	if code, _ := e.do("GET", "/webhooks/storage/status/P999S001", nil, auth...); code != 404 {
		t.Errorf("unknown code: %d", code)
	}

	// Recalc: parameters validated, job queued with them.
	e.drain()
	id := a.(string)
	if code, b := e.do("POST", "/sessions/"+id+"/recalc", []byte(`{"rpe": 4, "mvc": {"CH1": 0.0002}}`), auth...); code != 202 {
		t.Fatalf("recalc: %d %v", code, b)
	}
	if code, _ := e.do("POST", "/sessions/"+id+"/recalc", []byte(`{"rpe": 11}`), auth...); code != 422 {
		t.Errorf("rpe 11: %d", code)
	}
	if code, _ := e.do("POST", "/sessions/"+id+"/recalc", []byte(`{"rpe": `), auth...); code != 400 {
		t.Errorf("bad JSON: %d", code)
	}
	if errs := e.drain(); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("recalc job: %v", errs)
	}
	analyses, err := e.store.ListAnalyses(context.Background(), id)
	if err != nil || len(analyses) != 2 {
		t.Fatalf("%d analyses (%v), want 2", len(analyses), err)
	}
	// The list shows each analysed session's overview (one query for the page).
	_, listed := e.do("GET", "/sessions?patient=P001", nil, auth...)
	for _, x := range listed["sessions"].([]any) {
		sj := x.(map[string]any)
		ov, _ := sj["overview"].(map[string]any)
		if ov == nil || ov["channels"] == nil || ov["processing_version"] != "ghostly/1" {
			t.Errorf("session %v overview %v", sj["session_code"], sj["overview"])
		}
	}
	var scores map[string]any
	json.Unmarshal(analyses[0].Scores, &scores)
	if scores["effort_score"] != 100.0 {
		t.Errorf("current analysis scores %v, want effort 100 from RPE 4", scores)
	}
}

func TestMalformedFileFailsInPhase2(t *testing.T) {
	e := newEnv(t, api.Config{})
	rec := testrec.Ghostly(testrec.Options{Seconds: 5}) // under the 10 s the ghostly profile requires
	info := e.put("P001/short.c3d", rec)
	code, body := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P001/short.c3d", info.ETag, info.Size))
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	errs := e.drain()
	var perm *service.PermanentError
	if len(errs) != 1 || !errorsAs(errs[0], &perm) {
		t.Fatalf("want a permanent failure, got %v", errs)
	}
	_, st := e.do("GET", "/webhooks/storage/status/"+body["session_id"].(string), nil)
	if st["status"] != "failed" || !strings.Contains(st["error"].(string), "channel") {
		t.Errorf("status %v", st)
	}
}

func TestHealthMetricsDocs(t *testing.T) {
	e := newEnv(t, api.Config{})
	e.do("GET", "/healthz", nil) // counted before /metrics is read
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/openapi.json": 200, "/docs": 200, "/metrics": 200, "/nope": 404} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(b), "emgd_http_requests_total") {
			t.Errorf("metrics lack request counts:\n%s", b)
		}
		if path == "/openapi.json" && !json.Valid(b) {
			t.Error("openapi.json is not JSON")
		}
	}
	e.store.Close()
	if code, _ := e.do("GET", "/readyz", nil); code != 503 {
		t.Errorf("readyz with the database closed: %d", code)
	}
	info := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	if code, _ := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info.ETag, info.Size)); code != 503 {
		t.Errorf("webhook with the database closed: %d", code)
	}
}

// With the read API protected and the webhook open, anyone able to name an
// object could read its session (player name, metadata) through the
// webhook's answer: such answers carry no session data unless the request
// holds the read token, or the webhook itself is authenticated.
func TestWebhookAnswerRedactedWhenReadsProtected(t *testing.T) {
	leaks := func(b map[string]any) bool {
		for _, k := range []string{"session_id", "session_code", "metadata", "results"} {
			if b[k] != nil { // the old keys session_id and session_code are null
				return true
			}
		}
		return strings.Contains(fmt.Sprint(b), "P001S")
	}
	e := newEnv(t, api.Config{ReadToken: "reader"})
	info := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	body := supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info.ETag, info.Size)
	for i, what := range []string{"new object", "known object"} {
		code, b := e.do("POST", "/webhooks/storage/c3d-upload", body)
		if code != 200 || b["success"] != true || leaks(b) {
			t.Errorf("%s (call %d), no credentials: %d %v", what, i, code, b)
		}
	}
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", body, "Authorization", "Bearer wrong"); code != 200 || leaks(b) {
		t.Errorf("wrong read token: %d %v", code, b)
	}
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", body, "Authorization", "Bearer reader"); code != 200 || b["session_code"] != "P001S001" || b["metadata"] == nil {
		t.Errorf("with the read token: %d %v", code, b)
	}
	// Two records: the per-record results are redacted too.
	two := []byte(`{"Records":[` + s3Record("P001/a.c3d", info) + `,` + s3Record("P001/a.c3d", info) + `]}`)
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", two); code != 200 || strings.Contains(fmt.Sprint(b), "P001S") || b["metadata"] != nil {
		t.Errorf("batch, no credentials: %d %v", code, b)
	}

	// An authenticated webhook answers in full.
	e2 := newEnv(t, api.Config{ReadToken: "reader", WebhookAuth: webhook.Auth{Token: "hook"}})
	info2 := e2.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	body2 := supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info2.ETag, info2.Size)
	if code, b := e2.do("POST", "/webhooks/storage/c3d-upload", body2, "Authorization", "Bearer hook"); code != 200 || b["session_code"] != "P001S001" {
		t.Errorf("authenticated webhook: %d %v", code, b)
	}
	// Without a read token nothing is protected: the answer is whole.
	e3 := newEnv(t, api.Config{})
	info3 := e3.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	if code, b := e3.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info3.ETag, info3.Size)); code != 200 || b["session_code"] != "P001S001" {
		t.Errorf("open server: %d %v", code, b)
	}
}

func s3Record(key string, info storage.ObjectInfo) string {
	b, _ := json.Marshal(map[string]any{"eventName": "s3:ObjectCreated:Put", "s3": map[string]any{
		"bucket": map[string]any{"name": "c3d-examples"},
		"object": map[string]any{"key": key, "eTag": info.ETag, "size": info.Size}}})
	return string(b)
}

// A notification with several records answers the first accepted one's
// session with every record's result beside it (it used to be a 500: the
// answer contained itself).
func TestWebhookSeveralRecords(t *testing.T) {
	e := newEnv(t, api.Config{})
	a := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	b := e.put("P001/b.c3d", testrec.Ghostly(testrec.Options{Seed: 2}))
	body := []byte(`{"Records":[` + s3Record("P001/a.c3d", a) + `,` + s3Record("P001/b.c3d", b) + `,` + s3Record("P001/../x.c3d", b) + `]}`)
	code, out := e.do("POST", "/webhooks/storage/c3d-upload", body)
	if code != 200 || out["session_code"] != "P001S001" {
		t.Fatalf("%d %v", code, out)
	}
	res, _ := out["results"].([]any)
	if len(res) != 3 {
		t.Fatalf("results: %v", out["results"])
	}
	if r := res[1].(map[string]any); r["session_code"] != "P001S002" || r["results"] != nil {
		t.Errorf("second record: %v", r)
	}
	if r := res[2].(map[string]any); r["success"] != false || r["status"] != float64(400) {
		t.Errorf("third record: %v", r)
	}
}
