package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// serve on the embedded defaults (SQLite + folder) and on PostgreSQL: a
// webhook becomes a completed session; shutdown is clean.
func TestServeEndToEnd(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := t.TempDir()
			cfg := app.Config{HTTP: true, DataDir: dir}
			if db == "postgres" {
				cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
			}
			key := "P009/Ghostly_Emg_20230321_17-23-09-0409.c3d"
			path := filepath.Join(dir, "storage", "c3d-examples", filepath.FromSlash(key))
			os.MkdirAll(filepath.Dir(path), 0o755)
			rec := testrec.Ghostly(testrec.Options{Seed: 9})
			os.WriteFile(path, rec, 0o644)
			addr, stop := apptest.Start(t, cfg)
			base := "http://" + addr
			body := []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"` + key + `","metadata":{"eTag":"\"v1\"","size":0}}}`)
			code, out := apptest.PostJSON(t, base+"/webhooks/storage/c3d-upload", body)
			if code != 200 || out["session_code"] != "P009S001" {
				t.Fatalf("%d %v", code, out)
			}
			if st := apptest.WaitCompleted(t, base, "P009S001"); st["status"] != "completed" {
				t.Fatalf("%v", st)
			}
			// The same object again (an UPDATE event): the same session.
			upd := bytes.Replace(body, []byte(`"INSERT"`), []byte(`"UPDATE"`), 1)
			if code, again := apptest.PostJSON(t, base+"/webhooks/storage/c3d-upload", upd); code != 200 || again["session_id"] != out["session_id"] {
				t.Fatalf("duplicate: %d %v", code, again)
			}
			_, sess := apptest.GetJSON(t, base+"/sessions/P009S001")
			an, _ := sess["analysis"].(map[string]any)
			if an == nil {
				t.Fatalf("no analysis: %v", sess)
			}
			// The stored analytics equal emgd analyze on the same file.
			want, err := analysis.Analyze(bytes.NewReader(rec), int64(len(rec)), key, emg.Params{}, emg.Analyzer{})
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(map[string]any{"analytics": want.Analytics, "available_channels": want.AvailableChannels, "processing_version": want.ProcessingVersion})
			gotJSON, _ := json.Marshal(an["analytics_summary"])
			var x, y any
			json.Unmarshal(wantJSON, &x)
			json.Unmarshal(gotJSON, &y)
			if !reflect.DeepEqual(x, y) {
				t.Errorf("stored analytics differ from emgd analyze:\n got %.300s\nwant %.300s", gotJSON, wantJSON)
			}
			resp, _ := http.Get(base + "/metrics")
			m, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, name := range []string{"emgd_queue_depth", "emgd_phase_duration_seconds", "emgd_http_requests_total"} {
				if !strings.Contains(string(m), name) {
					t.Errorf("metrics lack %s", name)
				}
			}
			if err := stop(); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		})
	}
}

func multipartUpload(t *testing.T, url, name string, file []byte, fields map[string]string, token string) (int, map[string]any) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	w, _ := mw.CreateFormFile("file", name)
	w.Write(file)
	mw.Close()
	req, _ := http.NewRequest("POST", url, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%d: not JSON: %.200s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// The upload stores the file in the data folder's bucket and the workers
// analyse it; the limit comes from --upload-limit-mb; the read token guards it.
func TestServeUpload(t *testing.T) {
	dir := t.TempDir()
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir, UploadLimitMB: 1, ReadToken: "tok"})
	base := "http://" + addr
	small := testrec.Ghostly(testrec.Options{Seed: 5})
	big := testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 90})
	if len(big) <= 1<<20 || len(small) >= 1<<20 {
		t.Fatalf("recordings of %d and %d bytes", len(small), len(big))
	}
	if code, _ := multipartUpload(t, base+"/upload", "a.c3d", small, nil, ""); code != 401 {
		t.Errorf("without the token: %d", code)
	}
	if code, out := multipartUpload(t, base+"/upload", "big.c3d", big, map[string]string{"store": "true"}, "tok"); code != 413 {
		t.Errorf("over --upload-limit-mb: %d %v", code, out["error"])
	}
	code, out := multipartUpload(t, base+"/upload", "Ghostly_Emg_20240102_10-11-12-0001.c3d", small,
		map[string]string{"store": "true", "patient": "P042", "session_mvc_value": "0.0001"}, "tok")
	if code != 200 || out["session_code"] != "P042S001" {
		t.Fatalf("%d %v %v", code, out["error"], out["session_code"])
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", "c3d-examples", "P042", "Ghostly_Emg_20240102_10-11-12-0001.c3d")); err != nil {
		t.Errorf("stored file: %v", err)
	}
	id := out["session_id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/sessions/"+id, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if s["status"] == "completed" {
			a, _ := s["analysis"].(map[string]any)
			if a == nil {
				t.Fatal("completed without analysis")
			}
			// Analysed with the upload's parameters.
			if p, _ := a["params"].(map[string]any); p["mvc_global"] != 0.0001 {
				t.Errorf("stored analysis parameters %v", a["params"])
			}
			ch1 := a["analytics_summary"].(map[string]any)["analytics"].(map[string]any)["CH1"].(map[string]any)
			if v, _ := ch1["mvc75_threshold"].(float64); math.Abs(v-0.0001*0.75) > 1e-12 {
				t.Errorf("CH1 threshold %v", ch1["mvc75_threshold"])
			}
			break
		}
		if s["status"] == "failed" || time.Now().After(deadline) {
			t.Fatalf("session %v: %v", s["status"], s["error"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serve answers the old backend's scoring-configuration and health routes
// from its own database, on SQLite and PostgreSQL.
func TestServeOldAPIRoutes(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			cfg := app.Config{HTTP: true, DataDir: t.TempDir(), Workers: 1}
			if db == "postgres" {
				cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
			}
			addr, stop := apptest.Start(t, cfg)
			defer stop()
			var active struct {
				ID            string `json:"id"`
				Configuration string `json:"configuration_name"`
				Active        bool   `json:"active"`
			}
			resp, err := http.Get("http://" + addr + "/scoring/configurations/active")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&active); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %v", resp.StatusCode, err)
			}
			if active.Configuration != "GHOSTLY-TRIAL-DEFAULT" || active.ID == "" || !active.Active {
				t.Errorf("active configuration: %+v", active)
			}
			h, err := http.Get("http://" + addr + "/health")
			if err != nil {
				t.Fatal(err)
			}
			h.Body.Close()
			if h.StatusCode != 200 {
				t.Errorf("/health: %d", h.StatusCode)
			}
		})
	}
}

// serve --reconcile-every picks up an object whose webhook never came.
func TestServeReconcileEvery(t *testing.T) {
	dir := t.TempDir()
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir, ReconcileEvery: 100 * time.Millisecond})
	apptest.WriteObject(t, dir, "P007/no webhook.c3d", 7, time.Time{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, st := apptest.GetJSON(t, "http://"+addr+"/webhooks/storage/status/P007S001")
		if code == 200 && st["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed session: %d %v", code, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serve --retention removes what is older at start (then hourly).
func TestServeRetention(t *testing.T) {
	dir := t.TempDir()
	apptest.OldSessions(t, dir)
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir, Retention: 365 * 24 * time.Hour})
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := apptest.GetJSON(t, "http://"+addr+"/webhooks/storage/status/P001S001")
		if code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old session still there: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, st := apptest.GetJSON(t, "http://"+addr+"/webhooks/storage/status/P002S001"); code != 200 || st["status"] != "completed" {
		t.Fatalf("recent session: %d %v", code, st)
	}
}

// serve and worker fail a stranded session with the sweep's message.
func TestServeAndWorkerSweepStrandedSessions(t *testing.T) {
	for _, withHTTP := range []bool{true, false} {
		t.Run(fmt.Sprintf("http=%v", withHTTP), func(t *testing.T) {
			dir := t.TempDir()
			id := apptest.StrandedSession(t, dir, "P009/crashed.c3d")
			_, stop := apptest.Start(t, app.Config{HTTP: withHTTP, DataDir: dir, SweepEvery: 50 * time.Millisecond})
			defer stop()
			st, err := store.Open(context.Background(), "", dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			deadline := time.Now().Add(30 * time.Second)
			for {
				s, err := st.GetSession(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if s.Status == store.StatusFailed {
					if !strings.Contains(s.Error, "the worker process stopped") {
						t.Errorf("error %q", s.Error)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("session still %s", s.Status)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// Buckets reach the webhook: an event of another bucket is ignored, one of
// a listed bucket becomes a session.
func TestServeBuckets(t *testing.T) {
	dir := t.TempDir()
	key := "P003/Ghostly_Emg_20230321_17-23-09-0409.c3d"
	for _, b := range []string{"c3d-examples", "clinic-b"} {
		path := filepath.Join(dir, "storage", b, filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, testrec.Ghostly(testrec.Options{Seed: 3, Seconds: 12}), 0o644)
	}
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir, Buckets: []string{"clinic-b", "clinic-c"}})
	event := func(bucket string) []byte {
		return []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"` + bucket + `","name":"` + key + `","metadata":{}}}`)
	}
	if code, out := apptest.PostJSON(t, "http://"+addr+"/webhooks/storage/c3d-upload", event("c3d-examples")); code != 200 || out["ignored"] != true {
		t.Errorf("default bucket, not listed: %d %v", code, out)
	}
	code, out := apptest.PostJSON(t, "http://"+addr+"/webhooks/storage/c3d-upload", event("clinic-b"))
	if code != 200 || out["session_code"] != "P003S001" {
		t.Fatalf("listed bucket: %d %v", code, out)
	}
	if st := apptest.WaitCompleted(t, "http://"+addr, "P003S001"); st["status"] != "completed" {
		t.Errorf("%v", st)
	}
}

// Run checks its settings before it opens anything.
func TestRunRefusesBadConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := app.Defaults()
	cfg.DataDir, cfg.Addr, cfg.Workers = dir, "127.0.0.1:0", -1
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // were the settings not checked, Run would stop at once
	err := app.Run(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), "--workers") {
		t.Fatalf("Run with --workers -1: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data folder made before the settings were checked: %v", err)
	}
}

// The defaults are valid and leave the sweep on, the maintenance loops off.
func TestDefaults(t *testing.T) {
	d := app.Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if !d.HTTP || d.SweepEvery <= 0 || d.ReconcileEvery != 0 || d.Retention != 0 || d.RescueAfter <= d.JobTimeout {
		t.Errorf("%+v", d)
	}
}
