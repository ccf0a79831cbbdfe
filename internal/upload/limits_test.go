package upload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/testrec"
)

// fieldsBody streams a multipart body of n small fields followed by the
// file part, without holding it in memory, and counts the bytes read.
type fieldsBody struct {
	n, i  int
	buf   bytes.Buffer
	file  []byte
	done  bool
	read  int64
	bound string
}

func (b *fieldsBody) Read(p []byte) (int, error) {
	for b.buf.Len() < len(p) && !b.done {
		switch {
		case b.i < b.n:
			fmt.Fprintf(&b.buf, "--%s\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", b.bound, b.i)
			b.i++
		default:
			fmt.Fprintf(&b.buf, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.c3d\"\r\nContent-Type: application/octet-stream\r\n\r\n", b.bound)
			b.buf.Write(b.file)
			fmt.Fprintf(&b.buf, "\r\n--%s--\r\n", b.bound)
			b.done = true
		}
	}
	if b.buf.Len() == 0 {
		return 0, io.EOF
	}
	n, _ := b.buf.Read(p)
	b.read += int64(n)
	return n, nil
}

func serve(h *Handler, r *http.Request) (int, map[string]any) {
	mux := http.NewServeMux()
	h.Register(mux, nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// A form of a million fields is refused with 400 after its first hundred
// parts, without reading the rest; a hundred parts are still fine.
func TestTooManyParts(t *testing.T) {
	file := testrec.Ghostly(testrec.Options{Seed: 1})
	body := &fieldsBody{n: 1_000_000, file: file, bound: "xYz"}
	r := httptest.NewRequest("POST", "/upload", body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=xYz")
	r.ContentLength = -1
	code, out := serve(&Handler{}, r)
	if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "too many form parts: at most 100") {
		t.Errorf("a million fields: %d %v", code, out["error"])
	}
	if body.read > 1<<20 {
		t.Errorf("read %d bytes of a million fields before refusing", body.read)
	}

	body = &fieldsBody{n: maxParts - 1, file: file, bound: "xYz"}
	r = httptest.NewRequest("POST", "/upload", body)
	r.Header.Set("Content-Type", "multipart/form-data; boundary=xYz")
	if code, out := serve(&Handler{}, r); code != 200 {
		t.Errorf("%d parts: %d %v", maxParts, code, out["error"])
	}
}

// Fields each under the 64 KiB limit but over 1 MiB together are refused
// with 413.
func TestFieldsTooLarge(t *testing.T) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i < 20; i++ {
		mw.WriteField(fmt.Sprintf("note%d", i), strings.Repeat("x", 60<<10))
	}
	w, _ := mw.CreateFormFile("file", "a.c3d")
	w.Write(testrec.Ghostly(testrec.Options{Seed: 1}))
	mw.Close()
	r := httptest.NewRequest("POST", "/upload", &b)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	code, out := serve(&Handler{}, r)
	if code != 413 || !strings.Contains(fmt.Sprint(out["error"]), "form fields too large: at most 1 MiB") {
		t.Errorf("1.2 MB of fields: %d %v", code, out["error"])
	}
}

// A file within InMemory is held in memory while the budget allows, and
// goes to a temporary file once the other uploads have spent it; the budget
// comes back when the upload ends.
func TestMemoryBudget(t *testing.T) {
	file := testrec.Ghostly(testrec.Options{Seed: 1})
	spool := func(h *Handler, hint int64) *received {
		t.Helper()
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		w, _ := mw.CreateFormFile("file", "a.c3d")
		w.Write(file)
		mw.Close()
		part, err := multipart.NewReader(&b, mw.Boundary()).NextPart()
		if err != nil {
			t.Fatal(err)
		}
		rec, err := h.spool(part, 1<<30, hint)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, rec.size)
		if _, err := rec.ra.ReadAt(got, 0); err != nil || !bytes.Equal(got, file) {
			t.Fatalf("spooled %d bytes %v, sent %d", rec.size, err, len(file))
		}
		return rec
	}
	h := &Handler{InMemory: 1 << 20, MemoryBudget: 2 << 20}
	for _, hint := range []int64{-1, int64(len(file)) + 500} {
		a := spool(h, hint)
		if _, ok := a.ra.(*bytes.Reader); !ok {
			t.Errorf("hint %d: first upload spooled to %T, want memory", hint, a.ra)
		}
		b := spool(h, hint)
		if _, ok := b.ra.(*os.File); !ok && hint < 0 {
			t.Errorf("budget spent: second upload in %T, want a temporary file", b.ra)
		}
		a.cleanup()
		b.cleanup()
		if h.inMem != 0 {
			t.Errorf("hint %d: %d bytes of the budget still taken", hint, h.inMem)
		}
	}
	// Larger than InMemory: on disk, and the budget is free again.
	h = &Handler{InMemory: 64 << 10}
	c := spool(h, -1)
	if _, ok := c.ra.(*os.File); !ok || h.inMem != 0 {
		t.Errorf("file over InMemory in %T, %d bytes of budget taken", c.ra, h.inMem)
	}
	c.cleanup()
}

// An upload that waited for its turn longer than the server's write
// timeout is still answered: the wait does not count against it.
func TestQueuedUploadAnswered(t *testing.T) {
	h := &Handler{Concurrent: 1}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()
	h.sem <- struct{}{} // an analysis is running
	time.AfterFunc(1500*time.Millisecond, func() { <-h.sem })

	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "a.c3d")
	w.Write(testrec.Ghostly(testrec.Options{Seed: 1}))
	mw.Close()
	resp, err := http.Post(srv.URL+"/upload", mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatalf("queued past the write timeout: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out["success"] != true {
		t.Errorf("queued past the write timeout: %d %v", resp.StatusCode, err)
	}
}

// blockingWriter is a client that does not read its answer until released.
type blockingWriter struct {
	h        http.Header
	code     int
	started  chan struct{}
	release  chan struct{}
	once     sync.Once
	received bytes.Buffer
}

func (b *blockingWriter) Header() http.Header { return b.h }
func (b *blockingWriter) WriteHeader(c int)   { b.code = c }
func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return b.received.Write(p)
}

// An answer with signals keeps its analysis turn until it is written, so
// that at most Concurrent such answers are in memory; other uploads wait.
func TestSignalsAnswerHoldsTurn(t *testing.T) {
	h := &Handler{Concurrent: 1}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	post := func(fields ...string) *http.Request {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		w, _ := mw.CreateFormFile("file", "a.c3d")
		w.Write(testrec.Ghostly(testrec.Options{Seed: 1}))
		mw.Close()
		r := httptest.NewRequest("POST", "/upload", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		return r
	}
	bw := &blockingWriter{h: http.Header{}, started: make(chan struct{}), release: make(chan struct{})}
	aDone := make(chan struct{})
	go func() { mux.ServeHTTP(bw, post("include_signals", "true")); close(aDone) }()
	select {
	case <-bw.started:
	case <-time.After(60 * time.Second):
		t.Fatal("the signals answer was never written")
	}
	bDone := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, post())
		bDone <- rec.Code
	}()
	select {
	case code := <-bDone:
		t.Fatalf("second upload answered %d while the signals answer was being written", code)
	case <-time.After(300 * time.Millisecond):
	}
	close(bw.release)
	<-aDone
	if code := <-bDone; code != 200 || bw.code != 200 {
		t.Errorf("after the signals answer: %d (signals answer %d)", code, bw.code)
	}
	var out map[string]any
	if err := json.Unmarshal(bw.received.Bytes(), &out); err != nil || len(out["emg_signals"].(map[string]any)) == 0 {
		t.Errorf("signals answer: %v", err)
	}
	if len(h.sem) != 0 {
		t.Errorf("%d turns left taken", len(h.sem))
	}
}
