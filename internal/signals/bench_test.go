package signals_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"emgd/internal/signals"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

// benchSignal serves CH1 Raw of the 175 s GHOSTLY recording with
// max_points=2000 and gzip, as the dashboard asks for it.
func benchSignal(b *testing.B, cold bool) {
	raw, err := os.ReadFile(testenv.Testdata(b, "ghostly", "Ghostly_Emg_20230321_17-50-17-0881.c3d"))
	if err != nil {
		b.Fatal(err)
	}
	st := storetest.OpenSQLite(b, store.Options{})
	fs, _ := storage.OpenFolder(b.TempDir(), "c3d-examples")
	ctx := context.Background()
	fs.CreateBucket(ctx, "c3d-examples")
	info, _ := fs.Put(ctx, "c3d-examples", "P001/rec.c3d", bytes.NewReader(raw))
	sess, _, _ := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/rec.c3d", ETag: info.ETag})
	h := &signals.Handler{Store: st, Storage: fs, Cache: signals.NewCache(256 << 20)}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	req := httptest.NewRequest("GET", "/signals/jit/"+sess.ID+"/CH1%20Raw?max_points=2000", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if cold {
			h.Cache = signals.NewCache(256 << 20)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "gzip-bytes")
}

func BenchmarkSignalCH1RawCold(b *testing.B)   { benchSignal(b, true) }
func BenchmarkSignalCH1RawCached(b *testing.B) { benchSignal(b, false) }
