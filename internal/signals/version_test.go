package signals_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// overwriteEnv is one object key whose content a test replaces.
type overwriteEnv struct {
	st  store.Store
	fs  storage.Backend
	srv *httptest.Server
}

// eachStorage runs fn on folder storage and on S3 (versitygw).
func eachStorage(t *testing.T, fn func(t *testing.T, o *overwriteEnv)) {
	t.Run("Folder", func(t *testing.T) {
		f, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newOverwriteEnv(t, f))
	})
	t.Run("S3", func(t *testing.T) {
		gw := storagetest.StartVersityGW(t)
		s3, err := storage.OpenS3(context.Background(), storage.S3Config{Bucket: "c3d-examples", Endpoint: gw.Endpoint,
			Region: "us-east-1", AccessKey: gw.AccessKey, SecretKey: gw.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newOverwriteEnv(t, s3))
	})
}

func newOverwriteEnv(t *testing.T, fs storage.Backend) *overwriteEnv {
	t.Helper()
	st := storetest.OpenSQLite(t, store.Options{})
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(64 << 20)}).Register(mux, nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &overwriteEnv{st: st, fs: fs, srv: srv}
}

// put stores rec under key and, unless legacy, makes a session pinned to
// the version stored, as phase 1 does; a legacy session has no storage
// version (made before it was recorded). Phase 2's SHA-256 and size are
// recorded when done.
func (o *overwriteEnv) put(t *testing.T, key string, rec []byte, legacy, done bool) *env {
	t.Helper()
	ctx := context.Background()
	info, err := o.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	n := store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: info.ETag, StorageVersion: info.Version}
	if legacy {
		n.StorageVersion = ""
	}
	sess, _, err := o.st.CreateSession(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if done {
		size := int64(len(rec))
		sum := strings.Repeat(key[len(key)-5:len(key)-4], 64) // a stand-in: 64 hex-like characters
		if _, err := o.st.SetStatus(ctx, sess.ID, store.StatusUpdate{Status: store.StatusCompleted, FileSHA256: hexOf(sum), FileSizeBytes: &size}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := c3d.Open(bytes.NewReader(rec), int64(len(rec)))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: o.srv, id: sess.ID, file: f, raw: rec}
}

func hexOf(s string) string {
	b := []byte(s)
	for i := range b {
		b[i] = "0123456789abcdef"[int(b[i])%16]
	}
	return string(b)
}

var warmQueries = []string{"", "max_points=300", "include_rms=true&max_points=300", "start_s=1&end_s=2", "start_s=0&end_s=11"}

// warm asks for every channel with several queries, checking each answer
// against the recording e was made from.
func warm(t *testing.T, e *env, what string) {
	t.Helper()
	code, a, _ := e.get(t, "/signals/jit/"+e.id+"/channels")
	if code != 200 || len(a.Channels) == 0 {
		t.Fatalf("%s: channels: %d %q", what, code, a.Error)
	}
	for _, ch := range []string{"CH1 Raw", "CH1 Processed"} {
		for _, q := range warmQueries {
			for _, gz := range []string{"identity", "gzip"} {
				code, a, _ := e.get(t, e.path(ch, q), "Accept-Encoding", gz)
				if code != 200 {
					t.Fatalf("%s: %s ?%s: %d %q", what, ch, q, code, a.Error)
				}
				checkAnswer(t, e, what, ch, q, a)
			}
		}
	}
}

// checkAnswer: the duration and the raw samples are the recording's.
func checkAnswer(t *testing.T, e *env, what, ch, q string, a answer) {
	t.Helper()
	if a.DurationSeconds != e.file.Duration() {
		t.Errorf("%s: %s ?%s: duration %v, want %v", what, ch, q, a.DurationSeconds, e.file.Duration())
	}
	if ch != "CH1 Raw" {
		return
	}
	full, _ := e.file.ReadAnalog(0)
	for j, v := range values(a.Data) {
		i := int(math.Round(a.TimeAxis[j] * e.file.Analog.Rate))
		if i >= len(full) || v != full[i] {
			t.Fatalf("%s: %s ?%s: point %d (sample %d) is not the recording's", what, ch, q, j, i)
		}
	}
}

// gone: every signals request for the session answers 409 with a message,
// never 500 and never samples.
func gone(t *testing.T, e *env, what string) {
	t.Helper()
	code, a, _ := e.get(t, "/signals/jit/"+e.id+"/channels")
	if code != http.StatusConflict || !strings.Contains(a.Error, "replaced") {
		t.Errorf("%s: channels: %d %q, want 409 saying the file was replaced", what, code, a.Error)
	}
	for _, ch := range []string{"CH1 Raw", "CH1 Processed", "CH2 Raw"} {
		for _, q := range append(warmQueries, "max_points=301", "start_s=15&end_s=18") {
			for _, gz := range []string{"identity", "gzip"} {
				code, a, _ := e.get(t, e.path(ch, q), "Accept-Encoding", gz)
				if code != http.StatusConflict || !strings.Contains(a.Error, "replaced") {
					t.Errorf("%s: %s ?%s (%s): %d %q (%v s, %d points), want 409 saying the file was replaced",
						what, ch, q, gz, code, a.Error, a.DurationSeconds, len(a.Data))
				}
			}
		}
	}
}

// An object overwritten under the same key after its session's signals
// were served (caches warm): the old session's signals answer 409 (never
// A's samples with B's duration, never a 500 from B being longer), and the
// new version's session is served B, whole and correct.
func TestOverwrittenObjectSignals(t *testing.T) {
	eachStorage(t, func(t *testing.T, o *overwriteEnv) {
		for i, c := range []struct {
			name string
			b    testrec.Options
		}{
			{"longer", testrec.Options{Seconds: 20, Seed: 2}},
			{"shorter", testrec.Options{Seconds: 6, Seed: 3}},
			{"same length", testrec.Options{Seconds: 12, Seed: 4}},
		} {
			t.Run(c.name, func(t *testing.T) {
				key := fmt.Sprintf("P001/rec%d.c3d", i)
				a := o.put(t, key, testrec.Ghostly(testrec.Options{Seconds: 12, Seed: 1}), false, true)
				warm(t, a, "A before the overwrite")
				b := o.put(t, key, testrec.Ghostly(c.b), false, false)
				gone(t, a, "A after the overwrite")
				warm(t, b, "B")
				gone(t, a, "A after B was served")
			})
		}
	})
}

// Sessions made before storage versions were recorded read the current
// object: once phase 2 has recorded the size it read, a replacement of
// another size answers 409; before that, the current object is served
// whole (its samples with its duration, never a mix with a cached older
// version).
func TestOverwrittenObjectLegacySession(t *testing.T) {
	eachStorage(t, func(t *testing.T, o *overwriteEnv) {
		a := o.put(t, "P001/done.c3d", testrec.Ghostly(testrec.Options{Seconds: 12, Seed: 1}), true, true)
		warm(t, a, "legacy A")
		o.put(t, "P001/done.c3d", testrec.Ghostly(testrec.Options{Seconds: 20, Seed: 2}), true, false)
		gone(t, a, "legacy A after the overwrite")

		p := o.put(t, "P001/pending.c3d", testrec.Ghostly(testrec.Options{Seconds: 12, Seed: 1}), true, false)
		warm(t, p, "legacy pending A")
		b := testrec.Ghostly(testrec.Options{Seconds: 20, Seed: 2})
		if _, err := o.fs.Put(context.Background(), "c3d-examples", "P001/pending.c3d", bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		f, _ := c3d.Open(bytes.NewReader(b), int64(len(b)))
		p.file = f
		warm(t, p, "legacy pending session after the overwrite")
	})
}

// failingStorage opens objects whose reads fail (or panic) once the C3D
// header and parameters have been read, as an S3 object replaced during a
// read does.
type failingStorage struct {
	storage.Backend
	panics    bool
	dataStart int64
}

func (f *failingStorage) OpenVersion(ctx context.Context, bucket, key, version string) (storage.Object, error) {
	o, err := f.Backend.OpenVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, err
	}
	return &failingObject{Object: o, panics: f.panics, dataStart: f.dataStart}, nil
}

type failingObject struct {
	storage.Object
	panics    bool
	dataStart int64
}

func (o *failingObject) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= o.dataStart { // header and parameters
		return o.Object.ReadAt(p, off)
	}
	if o.panics {
		panic("read of a broken object")
	}
	return 0, fmt.Errorf("%w (%w)", storage.ErrChanged, storage.ErrVersionGone)
}

// An object replaced while its samples are read answers 409; a panic
// during a shared computation answers 500 to its requests and leaves the
// server running.
func TestReplacedDuringRead(t *testing.T) {
	for _, panics := range []bool{false, true} {
		st := storetest.OpenSQLite(t, store.Options{})
		fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		fs.CreateBucket(ctx, "c3d-examples")
		rec := testrec.Ghostly(testrec.Options{Seconds: 12})
		info, err := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(rec))
		if err != nil {
			t.Fatal(err)
		}
		sess, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag, StorageVersion: info.Version})
		if err != nil {
			t.Fatal(err)
		}
		f, err := c3d.Open(bytes.NewReader(rec), int64(len(rec)))
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		(&signals.Handler{Store: st, Storage: &failingStorage{Backend: fs, panics: panics, dataStart: f.DataStart}, Cache: signals.NewCache(64 << 20), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(mux, nil)
		srv := httptest.NewServer(mux)
		e := &env{srv: srv, id: sess.ID}
		want := http.StatusConflict
		if panics {
			want = http.StatusInternalServerError
		}
		for _, ch := range []string{"CH1 Raw", "CH1 Processed"} {
			for _, q := range []string{"", "include_rms=true&max_points=100", "start_s=1&end_s=2"} {
				if code, a, _ := e.get(t, e.path(ch, q)); code != want || a.Error == "" {
					t.Errorf("panics %v: %s ?%s: %d %q, want %d", panics, ch, q, code, a.Error, want)
				}
			}
		}
		srv.Close()
	}
}
