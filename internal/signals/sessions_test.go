package signals_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

type sessionAnswer struct {
	SessionID   string `json:"session_id"`
	ChannelName string `json:"channel_name"`
	Error       string `json:"error"`
}

func getSession(t *testing.T, u, encoding string) (int, sessionAnswer, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if body, err = gzip.NewReader(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	var a sessionAnswer
	b, _ := io.ReadAll(body)
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v: %.200s", u, err, b)
	}
	return resp.StatusCode, a, resp.Header
}

// Two sessions of the same file (same bytes under two keys, so the same
// SHA-256) each get their own session_id, also once the first has warmed
// the caches, and their own ETag.
func TestSameFileTwoSessions(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	rec := testrec.Ghostly(testrec.Options{Seconds: 12})
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	var ids []string
	for _, key := range []string{"P001/a.c3d", "P002/b.c3d"} {
		info, err := fs.Put(ctx, "c3d-examples", key, bytes.NewReader(rec))
		if err != nil {
			t.Fatal(err)
		}
		sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: info.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetStatus(ctx, sess.ID, store.StatusUpdate{Status: store.StatusCompleted, FileSHA256: sha}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
	}
	mux := http.NewServeMux()
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(64 << 20)}).Register(mux, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, q := range []string{"", "max_points=100", "include_rms=true&max_points=100", "start_s=1&end_s=2"} {
		for _, ch := range []string{"CH1 Raw", "CH1 Processed"} {
			var tags []string
			for _, id := range ids {
				for _, gz := range []string{"identity", "gzip"} {
					code, a, h := getSession(t, srv.URL+"/signals/jit/"+id+"/"+url.PathEscape(ch)+"?"+q, gz)
					if code != 200 || a.ChannelName != ch {
						t.Fatalf("%s %s ?%s: %d %q", id, ch, q, code, a.Error)
					}
					if a.SessionID != id {
						t.Errorf("session %s, %s ?%s (%s): answered session_id %s", id, ch, q, gz, a.SessionID)
					}
					tags = append(tags, h.Get("ETag"))
				}
			}
			if tags[0] == tags[2] {
				t.Errorf("%s ?%s: both sessions answered ETag %s", ch, q, tags[0])
			}
		}
	}
}
