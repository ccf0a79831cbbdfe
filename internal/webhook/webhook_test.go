package webhook

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

const supabaseInsert = `{"type":"INSERT","table":"objects","schema":"storage","record":{"id":"7f0c","bucket_id":"c3d-examples","name":"P005/Ghostly_Emg_20230321_17-50-17-0881.c3d","owner":null,"metadata":{"eTag":"\"9b2cf535f27731c974343645a3985328\"","size":2867920,"mimetype":"application/octet-stream"}},"old_record":null}`

const minioPut = `{"EventName":"s3:ObjectCreated:Put","Key":"c3d-examples/P001/my+file%281%29.c3d","Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"P001%2Fmy+file%281%29.c3d","size":0,"eTag":"abc-3"}}}]}`

const versitygwPut = `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"c3d-examples"},"object":{"key":"P001/my file (1).c3d","size":1045616,"eTag":"\"d41d8\""}}}]}`

const storageWebhook = `{"type":"Webhook","event":{"type":"ObjectCreated:Post","$version":"1","applyTime":1,"payload":{"bucketId":"c3d-examples","name":"P002/x.C3D","metadata":{"eTag":"\"e1\"","size":"1234"}}},"sentAt":"2025-01-01T00:00:00Z"}`

func TestParseShapes(t *testing.T) {
	cases := []struct {
		name, body string
		want       Event
	}{
		{"supabase insert", supabaseInsert, Event{Source: SupabaseDatabase, Type: "INSERT", Created: true, Bucket: "c3d-examples",
			Key: "P005/Ghostly_Emg_20230321_17-50-17-0881.c3d", RawKey: "P005/Ghostly_Emg_20230321_17-50-17-0881.c3d", ETag: "9b2cf535f27731c974343645a3985328", Size: 2867920}},
		{"supabase update", strings.Replace(supabaseInsert, `"INSERT"`, `"UPDATE"`, 1), Event{Source: SupabaseDatabase, Type: "UPDATE", Created: true, Bucket: "c3d-examples",
			Key: "P005/Ghostly_Emg_20230321_17-50-17-0881.c3d", RawKey: "P005/Ghostly_Emg_20230321_17-50-17-0881.c3d", ETag: "9b2cf535f27731c974343645a3985328", Size: 2867920}},
		{"supabase insert without metadata", `{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"b","name":"k.c3d","metadata":null}}`,
			Event{Source: SupabaseDatabase, Type: "INSERT", Created: true, Bucket: "b", Key: "k.c3d", RawKey: "k.c3d", Size: -1}},
		{"supabase delete", `{"type":"DELETE","table":"objects","schema":"storage","record":null,"old_record":{"bucket_id":"b","name":"k.c3d"}}`,
			Event{Source: SupabaseDatabase, Type: "DELETE", Size: -1}},
		{"minio url-encoded, multipart size 0", minioPut, Event{Source: S3, Type: "s3:ObjectCreated:Put", Created: true, Bucket: "c3d-examples",
			Key: "P001/my file(1).c3d", RawKey: "P001%2Fmy+file%281%29.c3d", ETag: "abc-3", Size: 0}},
		{"versitygw raw key", versitygwPut, Event{Source: S3, Type: "s3:ObjectCreated:Put", Created: true, Bucket: "c3d-examples",
			Key: "P001/my file (1).c3d", RawKey: "P001/my file (1).c3d", ETag: "d41d8", Size: 1045616}},
		{"aws removal", `{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"a.c3d"}}}]}`,
			Event{Source: S3, Type: "ObjectRemoved:Delete", Bucket: "b", Key: "a.c3d", RawKey: "a.c3d", Size: -1}},
		{"supabase storage webhook", storageWebhook, Event{Source: SupabaseStorage, Type: "ObjectCreated:Post", Created: true, Bucket: "c3d-examples",
			Key: "P002/x.C3D", RawKey: "P002/x.C3D", ETag: "e1", Size: 1234}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := Parse([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0] != c.want {
				t.Fatalf("got %+v\nwant %+v", evs, c.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]error{
		``:                  ErrMalformed,
		`[1,2]`:             ErrMalformed,
		`{"type":`:          ErrMalformed,
		`{"hello":"world"}`: ErrUnknownShape,
		`{"type":"INSERT","table":"profiles","schema":"public","record":{"id":1}}`:          ErrUnknownShape,
		`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"b"}}`: ErrUnknownShape,
		`{"Records":[]}`:  ErrUnknownShape,
		`{"Records":"x"}`: ErrUnknownShape,
		`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{}}]}`:           ErrUnknownShape,
		`{"type":"Webhook","event":{"type":"ObjectCreated:Put","payload":{}}}`: ErrUnknownShape,
	}
	for body, want := range cases {
		if _, err := Parse([]byte(body)); !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", body, err, want)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(supabaseInsert)
	auth := Auth{Secret: "s3cret", Token: "tok"}
	req := func(target string, headers ...string) error {
		r := httptest.NewRequest("POST", target, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return auth.Verify(r, body)
	}
	sig := Sign("s3cret", body)
	for name, err := range map[string]error{
		"signature":         req("/h", "x-supabase-signature", sig),
		"signature sha256=": req("/h", "x-supabase-signature", "sha256="+sig),
		"bearer":            req("/h", "Authorization", "Bearer tok"),
		"query token":       req("/h?token=tok"),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, err := range map[string]error{
		"nothing":                   req("/h"),
		"wrong signature":           req("/h", "x-supabase-signature", Sign("other", body)),
		"non-hex signature":         req("/h", "x-supabase-signature", "zz"),
		"signature of another body": req("/h", "x-supabase-signature", Sign("s3cret", []byte("{}"))),
		"wrong bearer":              req("/h", "Authorization", "Bearer nope"),
		"basic auth":                req("/h", "Authorization", "Basic dG9rOg=="),
		"wrong query token":         req("/h?token=nope"),
	} {
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: got %v, want ErrUnauthorized", name, err)
		}
	}
	if err := (Auth{}).Verify(httptest.NewRequest("POST", "/h", nil), body); err != nil {
		t.Errorf("no auth configured: %v", err)
	}
	if err := (Auth{Token: "tok"}).Verify(httptest.NewRequest("POST", "/h", nil), body); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("token configured, none sent: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{supabaseInsert, minioPut, versitygwPut, storageWebhook, `{"Records":[{}]}`, `{"type":"Webhook","event":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownShape) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, e := range evs {
			if e.Created && (e.Bucket == "" || e.Key == "" || e.RawKey == "") {
				t.Fatalf("created event without bucket or key: %+v", e)
			}
			if e.Size < -1 {
				t.Fatalf("size %d", e.Size)
			}
		}
	})
}
