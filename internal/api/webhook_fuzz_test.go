package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/internal/api"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// FuzzWebhook posts fuzzed bodies, and events naming fuzzed keys (raw in a
// Supabase event, URL-encoded in an S3 one), to the webhook handler over a
// real store and folder storage that has readable recordings outside the
// bucket. The answer is never a 5xx, and a session is only ever made for an
// object inside the bucket.
func FuzzWebhook(f *testing.F) {
	dir := f.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "emgd.db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	root := filepath.Join(dir, "storage")
	fs, err := storage.OpenFolder(root, "c3d-examples")
	if err != nil {
		f.Fatal(err)
	}
	fs.CreateBucket(context.Background(), "c3d-examples")
	rec := testrec.Ghostly(testrec.Options{Seconds: 2})
	for _, k := range []string{"P001/a.c3d", "P001/my file+1.c3d"} {
		if _, err := fs.Put(context.Background(), "c3d-examples", k, bytes.NewReader(rec)); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(dir, "outside.c3d"), filepath.Join(root, "outside.c3d")} {
		os.WriteFile(p, rec, 0o644)
	}
	reg := prometheus.NewRegistry()
	svc := &service.Service{Store: st, Storage: fs, Queue: &recordingQueue{}, Metrics: service.NewMetrics(reg)}
	h := api.New(svc, api.Config{}, reg, nil)

	for _, s := range []string{"P001/a.c3d", "../outside.c3d", "../../outside.c3d", "P001/../../outside.c3d", "/outside.c3d",
		"P001/my file+1.c3d", "%2e%2e/outside.c3d", "P001\\..\\..\\outside.c3d"} {
		f.Add([]byte(nil), s)
	}
	f.Add([]byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"..%2Foutside.c3d"}}}]}`), "")
	f.Add([]byte(`{"type":"Webhook","event":{"type":"ObjectCreated:Put","payload":{"bucketId":"c3d-examples","name":"../outside.c3d"}}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		bodies := [][]byte{body}
		if key != "" {
			sb, _ := json.Marshal(map[string]any{"type": "INSERT", "table": "objects", "schema": "storage",
				"record": map[string]any{"bucket_id": "c3d-examples", "name": key}})
			s3, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventName": "s3:ObjectCreated:Put",
				"s3": map[string]any{"bucket": map[string]any{"name": "c3d-examples"}, "object": map[string]any{"key": url.QueryEscape(key)}}}}})
			bodies = [][]byte{sb, s3}
		}
		for _, b := range bodies {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/webhooks/storage/c3d-upload", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%q: %d %s", b, w.Code, w.Body.String())
			}
			var out struct {
				Metadata map[string]any `json:"metadata"`
			}
			json.Unmarshal(w.Body.Bytes(), &out)
			if k, ok := out.Metadata["object_key"].(string); ok {
				clean := path.Clean(k)
				if k != clean || strings.HasPrefix(k, "/") || strings.HasPrefix(clean, "..") || strings.Contains(k, "\\") {
					t.Fatalf("session made for key %q", k)
				}
				if _, err := os.Stat(filepath.Join(root, "c3d-examples", filepath.FromSlash(k))); err != nil {
					t.Fatalf("session made for key %q, which is not in the bucket: %v", k, err)
				}
			}
		}
	})
}
