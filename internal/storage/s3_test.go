package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
)

func TestS3Conformance(t *testing.T) {
	gw := storagetest.StartVersityGW(t)
	s3, err := storage.OpenS3(context.Background(), storage.S3Config{
		Bucket: "c3d-examples", Endpoint: gw.Endpoint, Region: "us-east-1",
		AccessKey: gw.AccessKey, SecretKey: gw.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T) storage.Backend { return s3 })
}

// TestS3CredentialsFromEnvironment opens the backend from a URL, with the
// credentials taken from AWS_* variables only.
func TestS3CredentialsFromEnvironment(t *testing.T) {
	gw := storagetest.StartVersityGW(t)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := context.Background()
	b, err := storage.Open(ctx, "s3://c3d-examples?endpoint="+gw.Endpoint+"&region=us-east-1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateBucket(ctx, b.DefaultBucket()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, b.DefaultBucket(), "P001/x.c3d", strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "c3d-examples", "P001/x.c3d"); err != nil {
		t.Fatal(err)
	}
	// The gateway's posix folder holds the object as a plain file.
	if _, err := storage.OpenFolder(gw.Dir, ""); err != nil {
		t.Fatal(err)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	bad, err := storage.Open(ctx, "s3://c3d-examples?endpoint="+gw.Endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Stat(ctx, "c3d-examples", "P001/x.c3d"); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat with a wrong secret = %v, want an authentication error", err)
	}
}

// TestS3EndpointPathPrefix checks that an endpoint with a path (as Supabase's
// /storage/v1/s3) keeps its prefix in front of /BUCKET/KEY.
func TestS3EndpointPathPrefix(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		mu.Unlock()
		switch {
		case r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/missing.c3d"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodHead:
			w.Header().Set("ETag", `"abc-2"`)
			w.Header().Set("Content-Length", "10")
			w.Header().Set("Last-Modified", "Tue, 21 Mar 2023 17:50:17 GMT")
		case r.Method == http.MethodGet && r.Header.Get("Range") != "":
			if r.Header.Get("If-Match") != `"abc-2"` {
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			var from, to int
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &from, &to)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/10", from, to))
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("C3D!567890")[from : to+1])
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>`))
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "a")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "b")
	ctx := context.Background()
	b, err := storage.Open(ctx, "s3://c3d-examples?endpoint="+srv.URL+"/storage/v1/s3&region=eu-central-1", "")
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Open(ctx, "c3d-examples", "P001/Ghostly Emg.c3d")
	if err != nil {
		t.Fatal(err)
	}
	if o.Info().ETag != "abc-2" || o.Size() != 10 {
		t.Errorf("info %+v: the multipart suffix must be kept and quotes removed", o.Info())
	}
	buf := make([]byte, 4)
	if n, err := o.ReadAt(buf, 0); n != 4 || err != nil || string(buf) != "C3D!" {
		t.Errorf("ReadAt = %d %v %q", n, err, buf)
	}
	// Read-ahead: the first read fetched the whole (small) object.
	if n, err := o.ReadAt(buf[:3], 5); n != 3 || err != nil || string(buf[:3]) != "678" {
		t.Errorf("ReadAt(5) = %d %v %q", n, err, buf[:3])
	}
	if n, err := o.ReadAt(buf, 8); n != 2 || err != io.EOF || string(buf[:2]) != "90" {
		t.Errorf("ReadAt(8) = %d %v %q", n, err, buf[:2])
	}
	if _, err := b.Stat(ctx, "c3d-examples", "missing.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat missing = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	gets := 0
	for _, p := range paths {
		if strings.HasPrefix(p, "GET ") {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d ranged GETs for three reads within %d bytes, want 1", gets, storage.ReadAheadBytes)
	}
	for _, p := range paths {
		if !strings.Contains(p, " /storage/v1/s3/c3d-examples/") {
			t.Errorf("request %q lost the endpoint's path prefix", p)
		}
	}
	if len(paths) < 3 {
		t.Errorf("requests: %q", paths)
	}
}
