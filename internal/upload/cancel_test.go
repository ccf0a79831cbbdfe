package upload_test

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"emgd/internal/api"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/upload"
)

// cancelAtEnd is a request body that cancels the request's context once
// its last byte has been read: the client goes away while the upload is
// analysed.
type cancelAtEnd struct {
	r      io.Reader
	left   int
	cancel context.CancelFunc
}

func (c *cancelAtEnd) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.left -= n; c.left <= 0 || err == io.EOF {
		c.cancel()
	}
	return n, err
}

// An upload whose client went away once its body was read is not analysed
// to the end: the analysis stops with the request's context and the
// answer is 499, never a 200 nobody reads.
func TestClientGoneStopsTheAnalysis(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	svc := &service.Service{Store: st, Storage: fs, Queue: &queue{}}
	a := api.New(svc, api.Config{}, prometheus.NewRegistry(), nil)
	(&upload.Handler{Svc: svc}).Register(a.Mux(), a.ReadGuard)
	// The handler waits for its analysis turn on the context too; either
	// way a gone client is answered 499 (several tries, as the select
	// between a free turn and a done context picks at random).
	for i := 0; i < 10; i++ {
		b, ct := body(t, nil, name, rec())
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest("POST", "/upload", &cancelAtEnd{r: b, left: b.Len(), cancel: cancel}).WithContext(ctx)
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		a.Mux().ServeHTTP(w, req)
		cancel()
		if w.Code != 499 {
			t.Fatalf("try %d: client gone during the analysis: %d %.200s, want 499", i, w.Code, w.Body.String())
		}
	}
}
