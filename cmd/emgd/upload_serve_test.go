package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"emgd/internal/testrec"
)

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
	addr, _ := startServe(t, serverConfig{DataDir: dir, UploadLimitMB: 1, ReadToken: "tok"}, true)
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

func TestUploadLimitFlag(t *testing.T) {
	fs := newFlagSet("serve", "", io.Discard)
	var c serverConfig
	c.bind(fs, true)
	if c.UploadLimitMB != 256 {
		t.Errorf("default %d MiB", c.UploadLimitMB)
	}
	if err := parseEnv(fs, []string{"--upload-limit-mb", "12"}); err != nil || c.UploadLimitMB != 12 {
		t.Errorf("flag: %v %d", err, c.UploadLimitMB)
	}
	t.Setenv("EMGD_UPLOAD_LIMIT_MB", "33")
	fs = newFlagSet("serve", "", io.Discard)
	c = serverConfig{}
	c.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil || c.UploadLimitMB != 33 {
		t.Errorf("EMGD_UPLOAD_LIMIT_MB: %d", c.UploadLimitMB)
	}
}
