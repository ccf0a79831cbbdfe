package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
)

// s3Env is a versitygw server with the default bucket, credentials in the
// environment, and an SDK client for uploading as the game would.
type s3Env struct {
	gw     *storagetest.Gateway
	client *s3.Client
	bucket string
}

// storageURL is emgd's --storage for the gateway.
func (e *s3Env) storageURL() string {
	return "s3://" + e.bucket + "?endpoint=" + url.QueryEscape(e.gw.Endpoint) + "&region=us-east-1"
}

// startS3 starts versitygw (extra: its global options) and creates the bucket.
func startS3(t *testing.T, extra ...string) *s3Env {
	t.Helper()
	gw := storagetest.StartVersityGW(t, extra...)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	st, err := storage.OpenS3(context.Background(), storage.S3Config{Bucket: storage.DefaultBucket, Endpoint: gw.Endpoint,
		AccessKey: gw.AccessKey, SecretKey: gw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(context.Background(), storage.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	return &s3Env{gw: gw, client: st.Client(), bucket: storage.DefaultBucket}
}

func (e *s3Env) put(t *testing.T, key string, body []byte) string {
	t.Helper()
	out, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// putMultipart uploads body in parts of partSize bytes (the last shorter).
func (e *s3Env) putMultipart(t *testing.T, key string, body []byte, partSize int) string {
	t.Helper()
	ctx := context.Background()
	up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("multipart %s: %v", key, err)
	}
	var parts []s3types.CompletedPart
	for i, n := 0, int32(1); i < len(body); i, n = i+partSize, n+1 {
		end := min(i+partSize, len(body))
		p, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(e.bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(body[i:end])})
		if err != nil {
			t.Fatalf("part %d of %s: %v", n, key, err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(n)})
	}
	out, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(e.bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatalf("complete %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// relay receives versitygw's event notifications (which it first tests at
// start, before emgd runs) and forwards each, with its query, to every
// target set since; it answers 200 until a target is set, else the first
// target's status. Bodies are kept for inspection.
type relay struct {
	srv     *httptest.Server
	mu      sync.Mutex
	targets []string
	bodies  [][]byte
	// twice, when it returns true for a body, delivers it twice to each target.
	twice func(n int) bool
}

func newRelay(t *testing.T) *relay {
	r := &relay{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		n, targets, twice := len(r.bodies), slices.Clone(r.targets), r.twice
		r.mu.Unlock()
		status := http.StatusOK
		for i, base := range targets {
			times := 1
			if twice != nil && twice(n) {
				times = 2
			}
			for range times {
				resp, err := http.Post(base+req.URL.RequestURI(), "application/json", bytes.NewReader(body))
				if err != nil {
					status = http.StatusBadGateway
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if i == 0 {
					status = resp.StatusCode
				}
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *relay) setTargets(bases ...string) {
	r.mu.Lock()
	r.targets = bases
	r.mu.Unlock()
}

func (r *relay) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

// listSessions returns every session the API lists (all pages).
func listSessions(t *testing.T, base string) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for {
		u := base + "/sessions?limit=500"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Sessions   []map[string]any `json:"sessions"`
			NextCursor *string          `json:"next_cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Sessions...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all
		}
		cursor = *page.NextCursor
	}
}

// waitSessions waits until every key has a completed session and none is
// pending or processing, then returns the sessions by key.
func waitSessions(t *testing.T, base string, keys []string, timeout time.Duration) map[string][]map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		byKey := map[string][]map[string]any{}
		busy := 0
		for _, s := range listSessions(t, base) {
			k, _ := s["object_key"].(string)
			byKey[k] = append(byKey[k], s)
			if s["status"] == "pending" || s["status"] == "processing" {
				busy++
			}
		}
		done := busy == 0
		for _, k := range keys {
			if len(byKey[k]) == 0 {
				done = false
			}
		}
		if done {
			return byKey
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d busy, sessions by key: %s", timeout, busy, fmt.Sprint(byKey))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
