package signals_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// TestAnswersMatchTheDocument serves the signals routes through a
// documenting mux and checks every answer (success, 304 and errors, plain
// and gzip) against the document derived from ChannelsResponse and
// SignalResponse: the streaming encoders cannot drift from those types.
func TestAnswersMatchTheDocument(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	info, err := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(testrec.Ghostly(testrec.Options{Seconds: 4})))
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	mux := apidoc.NewMux(apidoc.Info{Title: "signals", Version: "1"})
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(64 << 20)}).Register(mux, nil)
	check := apidoctest.New(t, mux)
	srv := httptest.NewServer(check.Wrap(mux))
	defer srv.Close()

	get := func(path string, headers ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	base := "/signals/jit/" + sess.ID
	for _, c := range []struct {
		path    string
		headers []string
		want    int
	}{
		{base + "/channels", nil, 200},
		{base + "/channels?channel=CH1%20Raw", nil, 200},
		{base + "/CH1%20Raw", nil, 200},
		{base + "/CH1%20Raw?include_rms=true&max_points=100", []string{"Accept-Encoding", "gzip"}, 200},
		{base + "/CH1%20Processed?start_s=1&end_s=2", nil, 200},
		{base + "/CH1%20Raw?max_points=1", nil, 400},
		{base + "/NOPE", nil, 404},
		{"/signals/jit/no-such-session/channels", nil, 404},
	} {
		if resp := get(c.path, c.headers...); resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
	etag := get(base + "/CH1%20Raw").Header.Get("ETag")
	if resp := get(base+"/CH1%20Raw", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	seen := check.Seen()
	for _, p := range mux.Patterns() {
		if len(seen[p]) == 0 {
			t.Errorf("%s: no answer validated", p)
		}
	}
}
