package signals_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

type env struct {
	srv  *httptest.Server
	id   string
	file *c3d.File
	raw  []byte
}

func newEnv(t *testing.T, rec []byte) *env {
	t.Helper()
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	info, err := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(64 << 20)}).Register(mux, nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f, err := c3d.Open(bytes.NewReader(rec), int64(len(rec)))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, id: sess.ID, file: f, raw: rec}
}

type answer struct {
	Success         bool       `json:"success"`
	Error           string     `json:"error"`
	ChannelName     string     `json:"channel_name"`
	GeneratedAt     string     `json:"generated_at"`
	SamplingRate    float64    `json:"sampling_rate"`
	DurationSeconds float64    `json:"duration_seconds"`
	TimeAxis        []float64  `json:"time_axis"`
	Data            []*float64 `json:"data"`
	RMS             []*float64 `json:"rms_envelope"`
	Channels        []string   `json:"channels"`
}

func (e *env) get(t *testing.T, path string, headers ...string) (int, answer, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = gz
	}
	raw, _ := io.ReadAll(body)
	var a answer
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("%s: %v: %.200s", path, err, raw)
		}
	}
	return resp.StatusCode, a, resp.Header
}

func (e *env) path(channel string, q string) string {
	p := "/signals/jit/" + e.id + "/" + url.PathEscape(channel)
	if q != "" {
		p += "?" + q
	}
	return p
}

func values(d []*float64) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = math.NaN()
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

func TestChannelsAndFullSignal(t *testing.T) {
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seconds: 12}))
	code, a, _ := e.get(t, "/signals/jit/"+e.id+"/channels")
	want := []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated", "CH1 Processed", "CH2 Processed"}
	if code != 200 || strings.Join(a.Channels, "|") != strings.Join(want, "|") {
		t.Fatalf("%d %v", code, a.Channels)
	}
	full, _ := e.file.ReadAnalog(0)
	code, a, h := e.get(t, e.path("CH1 Raw", ""))
	if code != 200 || a.ChannelName != "CH1 Raw" || a.SamplingRate != 990 || a.DurationSeconds != 12 || len(a.Data) != len(full) {
		t.Fatalf("%d %s %v %v %d", code, a.ChannelName, a.SamplingRate, a.DurationSeconds, len(a.Data))
	}
	for i, v := range values(a.Data) {
		if v != full[i] || a.TimeAxis[i] != float64(i)/990 {
			t.Fatalf("sample %d = %v at %v, want %v at %v", i, v, a.TimeAxis[i], full[i], float64(i)/990)
		}
	}
	if !strings.Contains(h.Get("Cache-Control"), "immutable") || h.Get("ETag") == "" {
		t.Errorf("headers %v", h)
	}
	// Conditional request.
	if code, _, _ := e.get(t, e.path("CH1 Raw", ""), "If-None-Match", h.Get("ETag")); code != 304 {
		t.Errorf("If-None-Match: %d", code)
	}
	// Processed equals the analytics envelope.
	proc, _ := emg.ProcessedEnvelope(full, 990)
	_, a, _ = e.get(t, e.path("CH1 Processed", ""))
	for i, v := range values(a.Data) {
		if v != proc[i] {
			t.Fatalf("Processed %d = %v, want %v", i, v, proc[i])
		}
	}
	// include_rms on the raw channel.
	rms, _ := emg.RMSEnvelope(full, 990)
	_, a, _ = e.get(t, e.path("CH1 Raw", "include_rms=true&downsample_factor=7"))
	if len(a.RMS) != len(a.Data) || len(a.Data) != (len(full)+6)/7 {
		t.Fatalf("%d rms for %d points", len(a.RMS), len(a.Data))
	}
	for j, v := range values(a.RMS) {
		if v != rms[j*7] || *a.Data[j] != full[j*7] {
			t.Fatalf("point %d: rms %v data %v, want %v %v", j, v, *a.Data[j], rms[j*7], full[j*7])
		}
	}
}

func TestWindowsAndMaxPoints(t *testing.T) {
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seconds: 20}))
	full, _ := e.file.ReadAnalog(1)
	// A cold window (read from its frames only) equals the same slice of the channel.
	code, a, _ := e.get(t, e.path("CH2 Raw", "start_s=2.5&end_s=3"))
	lo, hi := int(math.Floor(2.5*990)), int(math.Ceil(3*990))
	if code != 200 || len(a.Data) != hi-lo || a.DurationSeconds != 20 {
		t.Fatalf("%d: %d points, want %d; duration %v", code, len(a.Data), hi-lo, a.DurationSeconds)
	}
	for j, v := range values(a.Data) {
		if v != full[lo+j] || a.TimeAxis[j] != float64(lo+j)/990 {
			t.Fatalf("window point %d", j)
		}
	}
	// max_points keeps each bucket's min and max: the peaks survive.
	_, a, _ = e.get(t, e.path("CH2 Raw", "max_points=200"))
	if len(a.Data) > 200 || len(a.Data) < 150 {
		t.Fatalf("%d points for max_points=200", len(a.Data))
	}
	mx, mn := math.Inf(-1), math.Inf(1)
	for _, v := range full {
		mx, mn = math.Max(mx, v), math.Min(mn, v)
	}
	got := values(a.Data)
	gmx, gmn := math.Inf(-1), math.Inf(1)
	for j, v := range got {
		gmx, gmn = math.Max(gmx, v), math.Min(gmn, v)
		if j > 0 && a.TimeAxis[j] <= a.TimeAxis[j-1] {
			t.Fatalf("time axis not increasing at %d", j)
		}
	}
	if gmx != mx || gmn != mn {
		t.Errorf("peaks lost: got [%v, %v], want [%v, %v]", gmn, gmx, mn, mx)
	}
	// Window + max_points on the Processed channel.
	code, a, _ = e.get(t, e.path("CH1 Processed", "start_s=5&end_s=10&max_points=50"))
	if code != 200 || len(a.Data) > 50 || a.TimeAxis[0] < 5 || a.TimeAxis[len(a.TimeAxis)-1] >= 10 {
		t.Fatalf("%d %d points %v..%v", code, len(a.Data), a.TimeAxis[0], a.TimeAxis[len(a.TimeAxis)-1])
	}
}

func TestSignalErrors(t *testing.T) {
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seconds: 12}))
	for q, want := range map[string]int{
		"downsample_factor=0": 400, "downsample_factor=x": 400, "max_points=1": 400, "start_s=-1": 400,
		"start_s=NaN": 400, "end_s=Inf": 400, "start_s=5&end_s=4": 400, "start_s=50": 400, "include_rms=maybe": 400,
	} {
		if code, a, _ := e.get(t, e.path("CH1 Raw", q)); code != want || a.Error == "" {
			t.Errorf("%s: %d %q", q, code, a.Error)
		}
	}
	if code, a, _ := e.get(t, e.path("CH9 Raw", "")); code != 404 || !strings.Contains(a.Error, "CH1 Raw") {
		t.Errorf("unknown channel: %d %q", code, a.Error)
	}
	if code, _, _ := e.get(t, "/signals/jit/00000000-0000-0000-0000-000000000000/CH1%20Raw"); code != 404 {
		t.Errorf("unknown session: %d", code)
	}
	if code, _, _ := e.get(t, "/signals/jit/not-a-session/channels"); code != 404 {
		t.Errorf("unknown session code: %d", code)
	}
}

// A channel literally named "channels" stays reachable with ?channel=.
func TestChannelNamedChannels(t *testing.T) {
	var buf bytes.Buffer
	w, _ := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: 10, AnalogLabels: []string{"channels", "x/y"}, AnalogRate: 100})
	for i := 0; i < 10; i++ {
		w.WriteFrame(nil, []float64{float64(i), -float64(i)})
	}
	w.Close()
	e := newEnv(t, buf.Bytes())
	code, a, _ := e.get(t, "/signals/jit/"+e.id+"/channels")
	if code != 200 || len(a.Channels) != 4 {
		t.Fatalf("%d %v", code, a.Channels)
	}
	code, a, _ = e.get(t, "/signals/jit/"+e.id+"/channels?channel=channels")
	if code != 200 || a.ChannelName != "channels" || len(a.Data) != 10 || *a.Data[9] != 9 {
		t.Fatalf("?channel=channels: %d %+v", code, a)
	}
	code, a, _ = e.get(t, "/signals/jit/"+e.id+"/x/y")
	if code != 200 || a.ChannelName != "x/y" || *a.Data[9] != -9 {
		t.Fatalf("label with a slash: %d %+v", code, a)
	}
}

func TestGzip(t *testing.T) {
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seconds: 12}))
	code, a, h := e.get(t, e.path("CH1 Raw", "max_points=2000"), "Accept-Encoding", "gzip")
	if code != 200 || h.Get("Content-Encoding") != "gzip" || len(a.Data) == 0 {
		t.Fatalf("%d %v", code, h)
	}
}

func TestCacheBudget(t *testing.T) {
	c := signals.NewCache(8 * 100)
	c.Put("a", make([]float64, 60))
	c.Put("b", make([]float64, 30))
	if _, ok := c.Get("a"); !ok {
		t.Fatal("a evicted too early")
	}
	c.Put("c", make([]float64, 30)) // over budget: b (least recently used) goes
	if _, ok := c.Get("b"); ok {
		t.Error("b kept beyond the budget")
	}
	if used, _, _ := c.Stats(); used > 800 {
		t.Errorf("%d bytes used", used)
	}
	c.Put("huge", make([]float64, 1000))
	if _, ok := c.Get("huge"); ok {
		t.Error("a value over the whole budget was kept")
	}
}
