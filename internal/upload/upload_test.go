package upload_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
	"emgd/internal/upload"
)

type queue struct {
	mu   sync.Mutex
	jobs []service.AnalyzeArgs
}

func (q *queue) EnqueueTx(ctx context.Context, tx store.Tx, a service.AnalyzeArgs) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, a)
	return nil
}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	svc   *service.Service
	q     *queue
	store store.Store
	fs    *storage.Folder
}

func newEnv(t *testing.T, cfg api.Config, h *upload.Handler) *env {
	t.Helper()
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	q := &queue{}
	svc := &service.Service{Store: st, Storage: fs, Queue: q, Metrics: service.NewMetrics(reg)}
	a := api.New(svc, cfg, reg, nil)
	if h == nil {
		h = &upload.Handler{}
	}
	h.Svc = svc
	h.Register(a.Mux(), a.ReadGuard)
	// Every answer is validated against the API document.
	srv := httptest.NewServer(apidoctest.New(t, a.Mux()).Wrap(a))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, q: q, store: st, fs: fs}
}

// body builds a multipart body: fields in order, then the file when name
// is not empty.
func body(t *testing.T, fields [][2]string, name string, file []byte) (*bytes.Buffer, string) {
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

func (e *env) post(path string, fields [][2]string, name string, file []byte, headers ...string) (int, map[string]any) {
	e.t.Helper()
	b, ct := body(e.t, fields, name, file)
	return e.send(path, b, ct, int64(b.Len()), headers...)
}

func (e *env) send(path string, r io.Reader, ct string, length int64, headers ...string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, r)
	req.ContentLength = length
	req.Header.Set("Content-Type", ct)
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
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("POST %s: %d, not JSON: %v: %.300s", path, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out
}

func (e *env) objects() []string {
	var keys []string
	for info, err := range e.fs.List(context.Background(), "c3d-examples", "") {
		if err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func (e *env) sessions() []store.Session {
	page, err := e.store.ListSessions(context.Background(), store.ListOptions{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Sessions
}

var (
	recOnce sync.Once
	recData []byte
)

func rec() []byte {
	recOnce.Do(func() { recData = testrec.Ghostly(testrec.Options{Seed: 3, GameScore: 30}) })
	return recData
}

const name = "Ghostly_Emg_20230321_17-50-17-0881.c3d"

func TestAnalyseWithoutStoring(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	code, out := e.post("/upload", nil, name, rec())
	if code != 200 || out["success"] != true {
		t.Fatalf("%d %v", code, out["error"])
	}
	for _, k := range []string{"file_id", "timestamp", "source_filename", "metadata", "analytics", "available_channels", "emg_signals",
		"c3d_parameters", "user_id", "session_id", "patient_id", "session_parameters", "session_configuration",
		"processing_parameters", "performance_analysis", "scoring_configuration"} {
		if _, ok := out[k]; !ok {
			t.Errorf("answer lacks %q", k)
		}
	}
	if out["source_filename"] != name {
		t.Errorf("source_filename %v", out["source_filename"])
	}
	if sig, _ := out["emg_signals"].(map[string]any); len(sig) != 6 {
		t.Errorf("emg_signals by default: %d channels, want 6", len(sig))
	}
	an, _ := out["analytics"].(map[string]any)
	ch1, _ := an["CH1"].(map[string]any)
	if ch1 == nil || ch1["contraction_count"].(float64) < 1 {
		t.Fatalf("CH1 analytics %v", an["CH1"])
	}
	if cs, _ := ch1["contractions"].([]any); len(cs) == 0 {
		t.Error("no contractions listed")
	}
	md, _ := out["metadata"].(map[string]any)
	if md["game_name"] != "Ghostly" || md["score"] != 30.0 || md["session_parameters_used"] == nil {
		t.Errorf("metadata %v", md)
	}
	cp, _ := out["c3d_parameters"].(map[string]any)
	if cp["sampling_rate"] != 990.0 || cp["channel_count"] != 4.0 || cp["stateless_mode"] != true {
		t.Errorf("c3d_parameters %v", cp)
	}
	perf, _ := out["performance_analysis"].(map[string]any)
	if _, ok := perf["overall_score"].(float64); !ok {
		t.Errorf("performance_analysis %v", perf)
	}
	if _, ok := out["stored"]; ok {
		t.Error("stored without store=true")
	}
	if keys := e.objects(); len(keys) != 0 {
		t.Errorf("objects stored without store=true: %v", keys)
	}
	if s := e.sessions(); len(s) != 0 {
		t.Errorf("sessions created without store=true: %d", len(s))
	}
	if len(e.q.jobs) != 0 {
		t.Errorf("jobs enqueued without store=true: %d", len(e.q.jobs))
	}
}

func TestIncludeSignals(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	for _, v := range []string{"false", "0", "no"} {
		code, out := e.post("/upload", [][2]string{{"include_signals", v}}, name, rec())
		if sig, _ := out["emg_signals"].(map[string]any); code != 200 || len(sig) != 0 {
			t.Errorf("include_signals=%s: %d, %d channels", v, code, len(sig))
		}
	}
	for _, v := range []string{"true", "1", "on", "TRUE", "(default)"} {
		fields := [][2]string{{"include_signals", v}}
		if v == "(default)" {
			fields = nil // the old backend always answered the signals
		}
		code, out := e.post("/upload", fields, name, rec())
		if code != 200 {
			t.Fatalf("%d %v", code, out["error"])
		}
		sig, _ := out["emg_signals"].(map[string]any)
		n := 20 * 990
		for _, ch := range []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated", "CH1 Processed", "CH2 Processed"} {
			s, _ := sig[ch].(map[string]any)
			if s == nil {
				t.Fatalf("include_signals=%s: no %q in %v", v, ch, keys(sig))
			}
			ta, _ := s["time_axis"].([]any)
			d, _ := s["data"].([]any)
			r, _ := s["rms_envelope"].([]any)
			if len(ta) != n || len(d) != n || len(r) != n {
				t.Errorf("%s: %d time, %d data, %d rms samples, want %d", ch, len(ta), len(d), len(r), n)
			}
			if len(ta) > 1 && ta[1].(float64) != 1.0/990 {
				t.Errorf("%s: time_axis[1] = %v", ch, ta[1])
			}
			if s["sampling_rate"] != 990.0 {
				t.Errorf("%s: sampling_rate %v", ch, s["sampling_rate"])
			}
		}
		raw, _ := sig["CH1 Raw"].(map[string]any)
		if pd, _ := raw["processed_data"].([]any); len(pd) != n {
			t.Errorf("CH1 Raw processed_data: %d samples", len(pd))
		}
		if v != "true" {
			continue
		}
		// The values are the file's samples and the analytics envelope.
		d, _ := raw["data"].([]any)
		p, _ := sig["CH1 Processed"].(map[string]any)
		pd, _ := p["data"].([]any)
		x := make([]float64, len(d))
		for i := range d {
			x[i] = d[i].(float64)
		}
		env, err := emg.ProcessedEnvelope(x, 990)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(env); i += 997 {
			if pd[i].(float64) != env[i] {
				t.Fatalf("CH1 Processed[%d] = %v, want %v", i, pd[i], env[i])
			}
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func f64(v float64) *float64 { return &v }
func intp(v int) *int        { return &v }

// TestFieldsReachTheAnalysis checks every form field against the analysis
// run directly with the parameters it maps to, and that each changes the
// answer (so that a field silently ignored fails).
func TestFieldsReachTheAnalysis(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	// Without activated channels the Processed envelope times the
	// contractions, so that threshold_factor applies.
	f := testrec.Ghostly(testrec.Options{Seed: 4, GameScore: 30, NoActivated: true})
	view := func(an, perf any) string {
		b, _ := json.Marshal(map[string]any{"analytics": an, "performance": perf})
		var v any
		json.Unmarshal(b, &v)
		b, _ = json.Marshal(v)
		return string(b)
	}
	direct := func(p emg.Params) string {
		res, err := analysis.Analyze(bytes.NewReader(f), int64(len(f)), name, p, emg.Analyzer{})
		if err != nil {
			t.Fatal(err)
		}
		var perf map[string]any
		b, _ := json.Marshal(res.PerformanceAnalysis)
		json.Unmarshal(b, &perf)
		delete(perf, "weights")
		return view(res.Analytics, perf)
	}
	perfKeys := map[string]bool{}
	{
		b, _ := json.Marshal(emg.Performance{LeftChannel: "x", RightChannel: "y"})
		var m map[string]any
		json.Unmarshal(b, &m)
		for k := range m {
			perfKeys[k] = k != "weights"
		}
	}
	answer := func(out map[string]any) string {
		perf, _ := out["performance_analysis"].(map[string]any)
		for k := range perf {
			if !perfKeys[k] {
				delete(perf, k) // the old backend's further keys
			}
		}
		return view(out["analytics"], perf)
	}
	defaults := direct(emg.Params{})
	cases := []struct {
		field, value string
		want         emg.Params
	}{
		{"threshold_factor", "0.3", emg.Params{ThresholdFactor: f64(0.3)}},
		{"min_duration_ms", "1500", emg.Params{MinDurationMs: f64(1500)}},
		{"smoothing_window", "600", emg.Params{SmoothingWindow: intp(600)}},
		{"session_mvc_value", "0.00005", emg.Params{MVCGlobal: f64(0.00005)}},
		{"session_mvc_threshold_percentage", "20", emg.Params{ThresholdPct: f64(20)}},
		{"contraction_duration_threshold", "500", emg.Params{DurationThresholdMs: f64(500)}},
		{"session_expected_contractions", "3", emg.Params{ExpectedContractions: intp(3)}},
		{"session_expected_contractions_ch1", "2", emg.Params{ExpectedContractionsPerChannel: map[string]int{"CH1": 2}}},
		{"session_expected_contractions_ch2", "2", emg.Params{ExpectedContractionsPerChannel: map[string]int{"CH2": 2}}},
		{"rpe", "5", emg.Params{RPE: f64(5)}},
		{"profile", "standard", emg.Params{Profile: "standard"}},
		{"params", `{"mvc":{"CH1":0.00003},"game_max_points":100}`, emg.Params{MVC: map[string]float64{"CH1": 0.00003}, GameMaxPoints: f64(100)}},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			want := direct(c.want)
			if want == defaults {
				t.Fatalf("%s=%s does not change the analysis: pick another value", c.field, c.value)
			}
			code, out := e.post("/upload", [][2]string{{c.field, c.value}}, name, f)
			if code != 200 {
				t.Fatalf("%d %v", code, out["error"])
			}
			if got := answer(out); got != want {
				t.Errorf("%s=%s: the answer differs from the analysis with %+v", c.field, c.value, c.want)
			}
		})
	}
	// Fields the query string carries count too, the form winning.
	code, out := e.post("/upload?threshold_factor=0.3", nil, name, f)
	if code != 200 || answer(out) != direct(emg.Params{ThresholdFactor: f64(0.3)}) {
		t.Errorf("threshold_factor in the query string: %d", code)
	}
	code, out = e.post("/upload?threshold_factor=0.05", [][2]string{{"threshold_factor", "0.3"}}, name, f)
	if code != 200 || answer(out) != direct(emg.Params{ThresholdFactor: f64(0.3)}) {
		t.Errorf("threshold_factor in form and query: %d", code)
	}

	// The parameters are echoed in the old backend's places.
	code, out = e.post("/upload", [][2]string{{"threshold_factor", "0.2"}, {"min_duration_ms", "150"}, {"smoothing_window", "50"},
		{"session_mvc_value", "0.0001"}, {"session_mvc_threshold_percentage", "60"}, {"contraction_duration_threshold", "1500"},
		{"session_expected_contractions_ch1", "10"}, {"user_id", "u-1"}, {"patient_id", "patient-x"}, {"session_id", "s-1"}}, name, f)
	if code != 200 {
		t.Fatalf("%d %v", code, out["error"])
	}
	pp, _ := out["processing_parameters"].(map[string]any)
	if pp["threshold_factor"] != 0.2 || pp["min_duration_ms"] != 150.0 || pp["smoothing_window"] != 50.0 {
		t.Errorf("processing_parameters %v", pp)
	}
	used, _ := out["metadata"].(map[string]any)["session_parameters_used"].(map[string]any)
	if used["session_mvc_value"] != 0.0001 || used["session_mvc_threshold_percentage"] != 60.0 ||
		used["contraction_duration_threshold"] != 1500.0 || used["session_expected_contractions_ch1"] != 10.0 {
		t.Errorf("session_parameters_used %v", used)
	}
	sc, _ := out["session_configuration"].(map[string]any)
	if sc["session_mvc_threshold_decimal"] != 0.6 || sc["contraction_duration_threshold_seconds"] != 1.5 {
		t.Errorf("session_configuration %v", sc)
	}
	if out["user_id"] != "u-1" || out["patient_id"] != "patient-x" || out["session_id"] != "s-1" {
		t.Errorf("ids %v %v %v", out["user_id"], out["patient_id"], out["session_id"])
	}
	ch1, _ := out["analytics"].(map[string]any)["CH1"].(map[string]any)
	if ch1["mvc75_threshold"] != 0.0001*0.6 {
		t.Errorf("mvc75_threshold %v, want %v", ch1["mvc75_threshold"], 0.0001*0.6)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	short := testrec.Ghostly(testrec.Options{Seconds: 3, Bursts: [][2]float64{{1, 2}}})
	cases := []struct {
		what   string
		fields [][2]string
		name   string
		file   []byte
		code   int
		msg    string
	}{
		{"no file", [][2]string{{"store", "true"}}, "", nil, 422, "file: Field required"},
		{"no file name", nil, "\x00", f, 400, ""},
		{"not .c3d", nil, "rec.txt", f, 400, ".c3d"},
		{"not a C3D", nil, "rec.c3d", []byte("this is not a C3D file at all, only some text"), 422, "not a readable C3D"},
		{"empty file", nil, "rec.c3d", nil, 422, "not a readable C3D"},
		{"too short to analyse", nil, "short.c3d", short, 422, "EMG analysis not possible"},
		{"include_signals", [][2]string{{"include_signals", "maybe"}}, name, f, 400, "include_signals"},
		{"store", [][2]string{{"store", "perhaps"}}, name, f, 400, "store"},
		{"patient", [][2]string{{"patient", "X12"}}, name, f, 422, "patient"},
		{"patient traversal", [][2]string{{"patient", "../P001"}}, name, f, 422, "patient"},
		{"patient_id to store", [][2]string{{"patient_id", "abc"}, {"store", "true"}}, name, f, 422, "patient_id"},
		{"params JSON", [][2]string{{"params", "{nope"}}, name, f, 400, "params"},
		{"params unknown", [][2]string{{"params", `{"bogus":1}`}}, name, f, 400, "bogus"},
		{"params value", [][2]string{{"params", `{"threshold_pct":500}`}}, name, f, 422, "threshold_pct"},
		{"profile", [][2]string{{"profile", "fast"}}, name, f, 422, "profile"},
		{"file name only an extension", [][2]string{{"store", "true"}}, ".c3d", f, 422, "file name"},
		{"two files", nil, "", nil, 400, "more than one"},
	}
	for _, field := range []string{"threshold_factor", "min_duration_ms", "smoothing_window", "session_mvc_value",
		"session_mvc_threshold_percentage", "contraction_duration_threshold", "session_expected_contractions",
		"session_expected_contractions_ch1", "session_expected_contractions_ch2", "rpe"} {
		cases = append(cases, struct {
			what   string
			fields [][2]string
			name   string
			file   []byte
			code   int
			msg    string
		}{field + " not a number", [][2]string{{field, "abc"}}, name, f, 422, field + ": Input should be a valid"})
	}
	for field, v := range map[string]string{"threshold_factor": "1.5", "min_duration_ms": "-1", "smoothing_window": "0",
		"session_mvc_value": "0", "session_mvc_threshold_percentage": "150", "contraction_duration_threshold": "-5",
		"session_expected_contractions": "-1", "session_expected_contractions_ch1": "-3", "session_expected_contractions_ch2": "-2",
		"rpe": "11", "threshold_factor ": "NaN"} {
		code := 422
		field = strings.TrimSpace(field)
		cases = append(cases, struct {
			what   string
			fields [][2]string
			name   string
			file   []byte
			code   int
			msg    string
		}{field + "=" + v, [][2]string{{field, v}}, name, f, code, field})
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			var code int
			var out map[string]any
			switch c.what {
			case "two files":
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				for i := 0; i < 2; i++ {
					w, _ := mw.CreateFormFile("file", name)
					w.Write(f)
				}
				mw.Close()
				code, out = e.send("/upload", &b, mw.FormDataContentType(), int64(b.Len()))
			case "no file name":
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				w, _ := mw.CreateFormField("file")
				w.Write(f)
				mw.Close()
				code, out = e.send("/upload", &b, mw.FormDataContentType(), int64(b.Len()))
			default:
				code, out = e.post("/upload", c.fields, c.name, c.file)
			}
			msg, _ := out["error"].(string)
			if code != c.code || out["success"] != false || !strings.Contains(msg, c.msg) {
				t.Errorf("%d %q, want %d with %q", code, msg, c.code, c.msg)
			}
			if list, isList := out["detail"].([]any); isList {
				// FastAPI's 422: each refused field with its location.
				d, _ := list[0].(map[string]any)
				if loc, _ := d["loc"].([]any); len(loc) != 2 || loc[0] != "body" || !strings.Contains(msg, loc[1].(string)) {
					t.Errorf("detail %v", out["detail"])
				}
			} else if out["detail"] != msg {
				t.Errorf("detail %v", out["detail"])
			}
		})
	}
	// The failed analysis says why per channel, with the file's metadata.
	_, out := e.post("/upload", nil, "short.c3d", short)
	if out["error_type"] != "emg_validation_failure" || out["c3d_metadata"] == nil || out["analytics"] == nil {
		t.Errorf("analysis failure: %v", out)
	}
	// Not multipart: no file, as FastAPI answers; an empty body too.
	code, out := e.send("/upload", strings.NewReader(`{"file":"x"}`), "application/json", -1)
	if d, _ := out["detail"].([]any); code != 422 || out["success"] != false || len(d) != 1 {
		t.Errorf("JSON body: %d %v", code, out)
	}
	code, out = e.send("/upload", strings.NewReader(``), "", 0)
	if d, _ := out["detail"].([]any); code != 422 || len(d) != 1 {
		t.Errorf("empty body: %d %v", code, out)
	}
	code, _ = e.send("/upload", strings.NewReader(`--x--`), "multipart/form-data", -1)
	if code != 400 {
		t.Errorf("multipart without boundary: %d", code)
	}
	code, _ = e.send("/upload", strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.c3d\"\r\n\r\nabc"), "multipart/form-data; boundary=b", -1)
	if code != 400 {
		t.Errorf("truncated multipart body: %d", code)
	}
	// Nothing of all that was stored.
	if k := e.objects(); len(k) != 0 {
		t.Errorf("objects stored by failed uploads: %v", k)
	}
	if s := e.sessions(); len(s) != 0 {
		t.Errorf("sessions created by failed uploads: %d", len(s))
	}
}

func TestSizeLimit(t *testing.T) {
	f := rec()
	for _, inMem := range []int64{0, 64 << 10} { // in memory; spooled to a temporary file
		t.Run(fmt.Sprintf("in-memory-%d", inMem), func(t *testing.T) {
			e := newEnv(t, api.Config{}, &upload.Handler{Limit: int64(len(f)) - 1, InMemory: inMem})
			code, out := e.post("/upload", nil, name, f)
			if code != 413 || !strings.Contains(out["error"].(string), "too large") {
				t.Errorf("over the limit, length known: %d %v", code, out["error"])
			}
			b, ct := body(t, nil, name, f)
			code, _ = e.send("/upload", io.MultiReader(b), ct, -1) // chunked
			if code != 413 {
				t.Errorf("over the limit, chunked: %d", code)
			}
			e2 := newEnv(t, api.Config{}, &upload.Handler{Limit: int64(len(f)), InMemory: inMem})
			b, ct = body(t, [][2]string{{"store", "true"}}, name, f)
			code, out = e2.send("/upload", io.MultiReader(b), ct, -1)
			if code != 200 {
				t.Fatalf("at the limit, chunked: %d %v", code, out["error"])
			}
			obj, rc, err := e2.fs.Get(context.Background(), "c3d-examples", "P000/"+name)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(obj)
			obj.Close()
			if !bytes.Equal(got, f) || rc.Size != int64(len(f)) {
				t.Errorf("stored %d bytes, sent %d", len(got), len(f))
			}
		})
	}
	// A form field cannot be made huge either.
	e := newEnv(t, api.Config{}, nil)
	code, out := e.post("/upload", [][2]string{{"user_id", strings.Repeat("x", 70<<10)}}, name, f)
	if code != 400 {
		t.Errorf("huge field: %d %v", code, out["error"])
	}
	// The default limit is 256 MiB: a larger body announced is refused
	// before any byte of it is read.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", 300<<20)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("300 MiB announced: %d", resp.StatusCode)
	}
	if upload.DefaultLimit != 256<<20 {
		t.Errorf("DefaultLimit %d", upload.DefaultLimit)
	}
}

func TestReadToken(t *testing.T) {
	e := newEnv(t, api.Config{ReadToken: "s3cret"}, nil)
	code, _ := e.post("/upload", nil, name, rec())
	if code != 401 {
		t.Errorf("without the token: %d", code)
	}
	code, _ = e.post("/upload", nil, name, rec(), "Authorization", "Bearer wrong")
	if code != 401 {
		t.Errorf("with a wrong token: %d", code)
	}
	code, out := e.post("/upload", nil, name, rec(), "Authorization", "Bearer s3cret")
	if code != 200 {
		t.Errorf("with the token: %d %v", code, out["error"])
	}
}

func TestStore(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	code, out := e.post("/upload", [][2]string{{"store", "true"}, {"patient", "P007"}, {"include_signals", "false"}}, name, f)
	if code != 200 {
		t.Fatalf("%d %v", code, out["error"])
	}
	st, _ := out["stored"].(map[string]any)
	if out["session_code"] != "P007S001" || st["session_code"] != "P007S001" || st["object_key"] != "P007/"+name ||
		st["bucket"] != "c3d-examples" || st["analytics_status"] != "processing" || st["duplicate"] != false || st["patient_code"] != "P007" {
		t.Fatalf("stored %v, session_code %v", st, out["session_code"])
	}
	id, _ := out["session_id"].(string)
	if id == "" || st["session_id"] != id || out["file_id"] != id || out["patient_id"] != "P007" {
		t.Errorf("session_id %v, file_id %v, patient_id %v", out["session_id"], out["file_id"], out["patient_id"])
	}
	if cp, _ := out["c3d_parameters"].(map[string]any); cp["stateless_mode"] != false {
		t.Errorf("stateless_mode %v", cp["stateless_mode"])
	}
	obj, _, err := e.fs.Get(context.Background(), "c3d-examples", "P007/"+name)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.Equal(got, f) {
		t.Error("the stored file differs from the upload")
	}
	sess, err := e.store.FindSession(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != store.StatusPending || sess.PatientCode != "P007" || sess.ObjectKey != "P007/"+name {
		t.Errorf("session %+v", sess)
	}
	if sess.RecordedAt == nil || sess.RecordedAt.Format(store.RecordedAtLayout) != "2023-03-21T17:50:17" {
		t.Errorf("recorded_at %v", sess.RecordedAt)
	}
	// Phase 2 runs as for any webhook.
	if len(e.q.jobs) != 1 || e.q.jobs[0].SessionID != id {
		t.Fatalf("jobs %v", e.q.jobs)
	}
	if err := e.svc.Process(context.Background(), e.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	sess, _ = e.store.FindSession(context.Background(), id)
	if sess.Status != store.StatusCompleted {
		t.Errorf("status %s", sess.Status)
	}

	// The patient from patient_id; the query string's store; names sanitised.
	cases := []struct {
		fields     [][2]string
		path, file string
		key, code  string
	}{
		{[][2]string{{"store", "true"}, {"patient_id", "P003"}}, "/upload", "a.c3d", "P003/a.c3d", "P003S001"},
		{nil, "/upload?store=true", "my rec (1).C3D", "P000/my_rec_1_.C3D", "P000S001"},
		{[][2]string{{"store", "1"}}, "/upload", `..\..\etc\x.c3d`, "P000/x.c3d", "P000S002"},
		{[][2]string{{"store", "yes"}, {"patient", "P12"}}, "/upload", "../../P999/é.c3d", "P12/_.c3d", ""},
		{[][2]string{{"store", "true"}, {"patient", "P12"}}, "/upload", "..c3d.c3d", "P12/c3d.c3d", "P12S001"},
	}
	for _, c := range cases {
		code, out := e.post(c.path, c.fields, c.file, f)
		if c.code == "" {
			if code != 422 {
				t.Errorf("%q: %d %v, want 422", c.file, code, out["stored"])
			}
			continue
		}
		st, _ := out["stored"].(map[string]any)
		if code != 200 || st["object_key"] != c.key || out["session_code"] != c.code {
			t.Errorf("%q %v: %d %v %v, want %s %s", c.file, c.fields, code, st["object_key"], out["session_code"], c.key, c.code)
		}
	}
	// Uploading the same name again is a new version of the object.
	code, out = e.post("/upload", [][2]string{{"store", "true"}, {"patient", "P007"}}, name, f)
	if code != 200 || out["session_code"] != "P007S002" {
		t.Errorf("again: %d %v", code, out["session_code"])
	}
	old, _ := e.store.FindSession(context.Background(), id)
	if old.SupersededBy != out["session_id"] {
		t.Errorf("superseded_by %q, want %v", old.SupersededBy, out["session_id"])
	}
	// Without store nothing more is added.
	n := len(e.objects())
	e.post("/upload", [][2]string{{"store", "false"}, {"patient", "P008"}}, name, f)
	if len(e.objects()) != n {
		t.Error("store=false stored the file")
	}
}

// A service watching other buckets stores uploads in its first one.
func TestStoreWatchedBucket(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	if err := e.fs.CreateBucket(context.Background(), "clinic-a"); err != nil {
		t.Fatal(err)
	}
	e.svc.Config.Buckets = []string{"clinic-a"}
	code, out := e.post("/upload", [][2]string{{"store", "true"}}, name, rec())
	st, _ := out["stored"].(map[string]any)
	if code != 200 || st["bucket"] != "clinic-a" {
		t.Errorf("%d %v %v", code, out["error"], st)
	}
}

// Equal answers for equal requests, except the identifiers and times.
func TestDeterministic(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	_, a := e.post("/upload", nil, name, rec())
	_, b := e.post("/upload", nil, name, rec())
	for _, m := range []map[string]any{a, b} {
		delete(m, "file_id")
		delete(m, "timestamp")
		delete(m["c3d_parameters"].(map[string]any), "processed_at")
		delete(m["performance_analysis"].(map[string]any), "session_id") // the scoring run's id
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two analyses of one file differ")
	}
}

// The API description documents the route and every field it reads.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths["/upload"]["post"]
	if !ok {
		t.Fatal("POST /upload is not documented")
	}
	props := op.RequestBody.Content["multipart/form-data"].Schema.Properties
	for _, f := range []string{"file", "threshold_factor", "min_duration_ms", "smoothing_window", "session_mvc_value",
		"session_mvc_threshold_percentage", "contraction_duration_threshold", "session_expected_contractions",
		"session_expected_contractions_ch1", "session_expected_contractions_ch2", "rpe", "profile", "params",
		"include_signals", "store", "patient", "patient_id", "user_id", "session_id"} {
		if _, ok := props[f]; !ok {
			t.Errorf("field %s not documented", f)
		}
	}
	for _, c := range []string{"200", "400", "401", "413", "422", "503"} {
		if _, ok := op.Responses[c]; !ok {
			t.Errorf("answer %s not documented", c)
		}
	}
}

// The real GHOSTLY recordings of the shared test data: every one answers
// with the analysis emgd runs on the file, and with its signals whole.
func TestRealRecordings(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	files, _ := filepath.Glob(filepath.Join(dir, "*.c3d"))
	if len(files) == 0 {
		testenv.Require(t, "no recordings in "+dir)
	}
	e := newEnv(t, api.Config{}, nil)
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		res, err := analysis.Analyze(bytes.NewReader(b), int64(len(b)), name, emg.Params{}, emg.Analyzer{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := json.Marshal(res.Analytics)
		start := time.Now()
		code, out := e.post("/upload", [][2]string{{"include_signals", "true"}}, name, b)
		if code != 200 {
			t.Fatalf("%s: %d %v", name, code, out["error"])
		}
		got, _ := json.Marshal(out["analytics"])
		var a, g any
		json.Unmarshal(want, &a)
		json.Unmarshal(got, &g)
		if !reflect.DeepEqual(a, g) {
			t.Errorf("%s: analytics differ from the analysis of the file", name)
		}
		md := res.Metadata.(*analysis.Metadata)
		sig, _ := out["emg_signals"].(map[string]any)
		for _, ch := range md.ChannelNames {
			s, _ := sig[ch].(map[string]any)
			if d, _ := s["data"].([]any); len(d) != md.SamplesPerChannel {
				t.Errorf("%s %s: %d samples, want %d", name, ch, len(d), md.SamplesPerChannel)
			}
		}
		t.Logf("%s: %.0f s, %d channels, answered in %v", name, md.DurationSeconds, len(sig), time.Since(start).Round(time.Millisecond))
	}
}

// A client that accepts gzip gets the answer compressed.
func TestGzip(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	for _, accept := range []string{"gzip", "deflate, gzip;q=0.8", "br", "gzip;q=0", ""} {
		b, ct := body(t, [][2]string{{"include_signals", "true"}}, name, rec())
		req, _ := http.NewRequest("POST", e.srv.URL+"/upload", b)
		req.Header.Set("Content-Type", ct)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantGzip := accept == "gzip" || strings.Contains(accept, "gzip;q=0.8")
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != wantGzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", accept, resp.Header.Get("Content-Encoding"))
		}
		if wantGzip {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw)*2 > len(plain) {
				t.Errorf("gzip: %d bytes for %d", len(raw), len(plain))
			}
			raw = plain
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 || len(out["emg_signals"].(map[string]any)) != 6 {
			t.Errorf("Accept-Encoding %q: %d %v", accept, resp.StatusCode, err)
		}
	}
}

// fixedETag is storage whose writes all report one etag, as a store that
// derives etags from content does for the same bytes.
type fixedETag struct{ storage.Backend }

func (f fixedETag) Put(ctx context.Context, bucket, key string, r io.Reader) (storage.ObjectInfo, error) {
	info, err := f.Backend.Put(ctx, bucket, key, r)
	info.ETag = "same-content"
	return info, err
}

// The stored session is analysed with the upload's parameters.
func TestStoreWithParameters(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	code, out := e.post("/upload", [][2]string{{"store", "true"}, {"session_mvc_value", "0.0001"}, {"session_mvc_threshold_percentage", "60"}}, name, f)
	if code != 200 {
		t.Fatalf("%d %v", code, out["error"])
	}
	if len(e.q.jobs) != 1 {
		t.Fatalf("jobs %v", e.q.jobs)
	}
	var p emg.Params
	if err := json.Unmarshal(e.q.jobs[0].Params, &p); err != nil || p.MVCGlobal == nil || *p.MVCGlobal != 0.0001 || p.ThresholdPct == nil || *p.ThresholdPct != 60 {
		t.Fatalf("job parameters %s (%v)", e.q.jobs[0].Params, err)
	}
	if err := e.svc.Process(context.Background(), e.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	id := out["session_id"].(string)
	a, err := e.store.CurrentAnalysis(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := service.ExpandJSON(a.AnalyticsSummary)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Analytics map[string]struct {
			MVC75Threshold float64 `json:"mvc75_threshold"`
		} `json:"analytics"`
	}
	json.Unmarshal(sum, &stored)
	answered := out["analytics"].(map[string]any)
	for _, ch := range []string{"CH1", "CH2"} {
		if got := stored.Analytics[ch].MVC75Threshold; got != 0.0001*0.6 || answered[ch].(map[string]any)["mvc75_threshold"] != got {
			t.Errorf("%s: stored threshold %v, answered %v, want %v", ch, got, answered[ch].(map[string]any)["mvc75_threshold"], 0.0001*0.6)
		}
	}

	// Without parameters the job has none, as the webhook's.
	e.q.jobs = nil
	e.post("/upload", [][2]string{{"store", "true"}}, "other.c3d", f)
	if len(e.q.jobs) != 1 || len(e.q.jobs[0].Params) != 0 {
		t.Errorf("jobs %+v", e.q.jobs)
	}
}

// When the object's session exists already (same etag), the upload's
// parameters are applied by a new analysis of it.
func TestStoreExistingSessionWithParameters(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	e.svc.Storage = fixedETag{e.fs}
	f := rec()
	code, first := e.post("/upload", [][2]string{{"store", "true"}}, name, f)
	if code != 200 || len(e.q.jobs) != 1 {
		t.Fatalf("%d %v, jobs %v", code, first["error"], e.q.jobs)
	}
	if err := e.svc.Process(context.Background(), e.q.jobs[0]); err != nil {
		t.Fatal(err)
	}
	e.q.jobs = nil
	code, out := e.post("/upload", [][2]string{{"store", "true"}, {"session_mvc_value", "0.0002"}}, name, f)
	st, _ := out["stored"].(map[string]any)
	if code != 200 || out["session_id"] != first["session_id"] || st["duplicate"] != true || st["analytics_status"] != "processing" {
		t.Fatalf("%d %v %v", code, out["error"], st)
	}
	if len(e.q.jobs) != 1 || !strings.Contains(string(e.q.jobs[0].Params), `"mvc_global":0.0002`) {
		t.Fatalf("jobs %+v", e.q.jobs)
	}
	sess, _ := e.store.FindSession(context.Background(), first["session_id"].(string))
	if sess.Status != store.StatusPending {
		t.Errorf("status %s", sess.Status)
	}
	// The same file again without parameters changes nothing.
	e.q.jobs = nil
	code, out = e.post("/upload", [][2]string{{"store", "true"}}, name, f)
	if code != 200 || len(e.q.jobs) != 0 || out["stored"].(map[string]any)["duplicate"] != true {
		t.Errorf("%d, jobs %v", code, e.q.jobs)
	}
}

// Damaged recordings are refused with 422, never a server error.
func TestDamagedFiles(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	for _, n := range []int{1, 511, 512, 1024, 3000, len(f) / 3, len(f) / 2, len(f) - 513} {
		for _, signals := range []string{"false", "true"} {
			code, out := e.post("/upload", [][2]string{{"include_signals", signals}, {"store", "true"}}, name, f[:n])
			if code != 422 && code != 200 {
				t.Errorf("first %d bytes, include_signals=%s: %d %v", n, signals, code, out["error"])
			}
			if code == 200 {
				// What emgd salvages answers the old backend's shape.
				var errs []string
				checkOld("answer", "EMGAnalysisResult", out, &errs)
				if len(errs) > 0 {
					t.Errorf("first %d bytes: not the old model: %v", n, errs)
				}
			}
		}
	}
	// Bytes flipped in the header and parameter section.
	for _, at := range []int{0, 1, 2, 3, 10, 20, 512, 513, 520, 600, 1024, 1100} {
		g := append([]byte{}, f...)
		g[at] ^= 0xff
		code, out := e.post("/upload", [][2]string{{"include_signals", "true"}}, name, g)
		if code != 422 && code != 200 {
			t.Errorf("byte %d flipped: %d %v", at, code, out["error"])
		}
	}
}
