package signals_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/analysis"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// gatedStorage holds every Open (OpenVersion) until the test lets it through, and counts
// them: how many, and how many at most at once.
type gatedStorage struct {
	storage.Backend
	gate chan struct{}

	mu             sync.Mutex
	opens, open    int
	maxOpen        int
	waitingChanged chan struct{}
}

func (g *gatedStorage) Open(ctx context.Context, bucket, key string) (storage.Object, error) {
	return g.OpenVersion(ctx, bucket, key, "")
}

func (g *gatedStorage) OpenVersion(ctx context.Context, bucket, key, version string) (storage.Object, error) {
	g.mu.Lock()
	g.opens++
	g.open++
	g.maxOpen = max(g.maxOpen, g.open)
	g.mu.Unlock()
	select {
	case g.waitingChanged <- struct{}{}:
	default:
	}
	<-g.gate
	g.mu.Lock()
	g.open--
	g.mu.Unlock()
	return g.Backend.OpenVersion(ctx, bucket, key, version)
}

func (g *gatedStorage) counts() (opens, open, maxOpen int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.opens, g.open, g.maxOpen
}

// waitOpen waits until n Opens are held at the gate.
func (g *gatedStorage) waitOpen(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if _, open, _ := g.counts(); open >= n {
			return
		}
		select {
		case <-g.waitingChanged:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d opens never reached the storage", n)
		}
	}
}

func gatedEnv(t *testing.T, decodes int) (*gatedStorage, *httptest.Server, string) {
	t.Helper()
	st := storetest.OpenSQLite(t, store.Options{})
	fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	info, err := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(testrec.Ghostly(testrec.Options{Seconds: 30})))
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStorage{Backend: fs, gate: make(chan struct{}), waitingChanged: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	(&signals.Handler{Store: st, Storage: g, Cache: signals.NewCache(64 << 20), Decodes: decodes}).Register(mux, nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return g, srv, sess.ID
}

func getAll(t *testing.T, urls []string) []int {
	t.Helper()
	codes := make([]int, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(u)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	return codes
}

// Cold requests are computed at most Decodes at a time; the others wait
// for a turn and are all answered.
func TestColdDecodesAreBounded(t *testing.T) {
	g, srv, id := gatedEnv(t, 2)
	var urls []string
	for i := range 6 {
		urls = append(urls, fmt.Sprintf("%s/signals/jit/%s/CH1%%20Raw?include_rms=true&max_points=%d", srv.URL, id, 100+i))
	}
	done := make(chan []int)
	go func() { done <- getAll(t, urls) }()
	// Let the requests through one at a time, each once two are held at
	// the gate (or all that remain).
	for left := 6; left > 0; left-- {
		g.waitOpen(t, min(2, left))
		time.Sleep(20 * time.Millisecond) // room for a third, were there no bound
		g.gate <- struct{}{}
	}
	codes := <-done
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if opens, _, maxOpen := g.counts(); opens != 6 || maxOpen != 2 {
		t.Errorf("%d opens, %d at most at once; want 6, 2 at once", opens, maxOpen)
	}
}

// Identical concurrent requests share one computation.
func TestIdenticalRequestsShareOneDecode(t *testing.T) {
	g, srv, id := gatedEnv(t, 8)
	u := srv.URL + "/signals/jit/" + id + "/CH1%20Processed?max_points=500"
	urls := []string{u, u, u, u, u, u}
	done := make(chan []int)
	go func() { done <- getAll(t, urls) }()
	g.waitOpen(t, 1)
	time.Sleep(100 * time.Millisecond) // room for the others to arrive
	close(g.gate)
	codes := <-done
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	if opens, _, _ := g.counts(); opens != 1 {
		t.Errorf("the file was opened %d times for 6 identical requests, want 1", opens)
	}
}

// A request that goes away while it computes an answer others wait for
// does not fail them: one of them computes it.
func TestLeaderGoneOthersAnswered(t *testing.T) {
	g, srv, id := gatedEnv(t, 2)
	u := srv.URL + "/signals/jit/" + id + "/CH1%20Raw?max_points=300"
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	leader := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		leader <- err
	}()
	g.waitOpen(t, 1)
	done := make(chan []int)
	go func() { done <- getAll(t, []string{u, u}) }()
	time.Sleep(50 * time.Millisecond) // the followers join the flight
	cancel()
	<-leader
	close(g.gate)
	for i, c := range <-done {
		if c != 200 {
			t.Errorf("follower %d: %d", i, c)
		}
	}
}

// A recording over the configured samples-per-channel limit is listed but
// none of its channels is decoded: 422 naming the limit.
func TestOverLimitRecording(t *testing.T) {
	analysis.SetLimits(analysis.Limits{MaxSamplesPerChannel: 1000})
	t.Cleanup(func() { analysis.SetLimits(analysis.Limits{}) })
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seconds: 12}))
	if code, a, _ := e.get(t, "/signals/jit/"+e.id+"/channels"); code != 200 || len(a.Channels) == 0 {
		t.Errorf("channels: %d %q", code, a.Error)
	}
	for _, ch := range []string{"CH1 Raw", "CH1 Processed"} {
		for _, q := range []string{"", "start_s=1&end_s=2", "include_rms=true&max_points=100"} {
			if code, a, _ := e.get(t, e.path(ch, q)); code != 422 || !strings.Contains(a.Error, "limit") {
				t.Errorf("%s ?%s: %d %q, want 422 naming the limit", ch, q, code, a.Error)
			}
		}
	}
}
