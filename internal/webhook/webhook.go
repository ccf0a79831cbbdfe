// Package webhook turns storage notifications into object events and checks
// their senders. It knows three shapes, all posted to the same endpoint:
//
//   - the Supabase database webhook on storage.objects (INSERT, UPDATE);
//   - S3-style event notifications (AWS, MinIO, versitygw), whose keys are
//     URL-encoded by some senders and raw from others;
//   - the Supabase Storage server webhook ({"type":"Webhook","event":...}).
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Errors; test with errors.Is.
var (
	// ErrMalformed: the body is not JSON, or not an object.
	ErrMalformed = errors.New("webhook: malformed JSON")
	// ErrUnknownShape: JSON of none of the known notification shapes, or
	// one lacking a bucket or key.
	ErrUnknownShape = errors.New("webhook: unknown notification shape")
	// ErrUnauthorized: authentication is configured and the request does
	// not satisfy it.
	ErrUnauthorized = errors.New("webhook: unauthorized")
)

// Source names the sender's shape.
type Source string

const (
	SupabaseDatabase Source = "supabase-database"
	S3               Source = "s3"
	SupabaseStorage  Source = "supabase-storage"
)

// Event is one object notification, normalised.
type Event struct {
	Source Source
	Type   string // the sender's event type, e.g. INSERT, s3:ObjectCreated:Put
	// Created is true for object creation and update events; others (such
	// as deletions) are to be ignored.
	Created bool
	Bucket  string
	// Key is the object key, URL-decoded for S3 senders; RawKey is the key
	// exactly as sent. They differ only for S3 notifications: when Key does
	// not exist in the bucket but RawKey does, RawKey is the object.
	Key    string
	RawKey string
	// ETag without quotes (a multipart "-N" suffix kept); "" when not sent.
	ETag string
	// Size in bytes, or -1 when not sent (a multipart upload may report 0:
	// callers stat the object when Size <= 0).
	Size int64
}

// Parse decodes a notification body into its events (S3 notifications may
// carry several records).
func Parse(body []byte) ([]Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: the body is not a JSON object", ErrMalformed)
	}
	var probe struct {
		Type    string          `json:"type"`
		Table   string          `json:"table"`
		Schema  string          `json:"schema"`
		Record  json.RawMessage `json:"record"`
		Records json.RawMessage `json:"Records"`
		Event   json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case probe.Records != nil:
		return parseS3(probe.Records)
	case probe.Table != "" || probe.Record != nil:
		return parseSupabaseDB(probe.Type, probe.Table, probe.Schema, probe.Record)
	case probe.Event != nil && strings.EqualFold(probe.Type, "Webhook"):
		return parseSupabaseStorage(probe.Event)
	}
	return nil, fmt.Errorf("%w: expected a Supabase storage.objects webhook, S3 Records or a Supabase Storage webhook", ErrUnknownShape)
}

// objectMetadata is the metadata object Supabase keeps per object.
type objectMetadata struct {
	ETag json.RawMessage `json:"eTag"`
	Size json.RawMessage `json:"size"`
}

func parseSupabaseDB(typ, table, schema string, record json.RawMessage) ([]Event, error) {
	if table != "objects" || (schema != "" && schema != "storage") {
		return nil, fmt.Errorf("%w: a database webhook for table %s.%s, not storage.objects", ErrUnknownShape, schema, table)
	}
	var rec struct {
		BucketID string          `json:"bucket_id"`
		Name     string          `json:"name"`
		Metadata *objectMetadata `json:"metadata"`
	}
	if len(record) == 0 || string(record) == "null" {
		if strings.EqualFold(typ, "DELETE") {
			return []Event{{Source: SupabaseDatabase, Type: typ, Size: -1}}, nil
		}
		return nil, fmt.Errorf("%w: the database webhook has no record", ErrUnknownShape)
	}
	if err := json.Unmarshal(record, &rec); err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrUnknownShape, err)
	}
	ev := Event{Source: SupabaseDatabase, Type: typ, Bucket: rec.BucketID, Key: rec.Name, RawKey: rec.Name, Size: -1}
	ev.Created = strings.EqualFold(typ, "INSERT") || strings.EqualFold(typ, "UPDATE")
	if rec.Metadata != nil {
		ev.ETag, ev.Size = metaETag(rec.Metadata.ETag), metaSize(rec.Metadata.Size)
	}
	if ev.Created && (ev.Bucket == "" || ev.Key == "") {
		return nil, fmt.Errorf("%w: the record has no bucket_id or name", ErrUnknownShape)
	}
	return []Event{ev}, nil
}

func parseSupabaseStorage(raw json.RawMessage) ([]Event, error) {
	var e struct {
		Type    string `json:"type"`
		Payload struct {
			BucketID string          `json:"bucketId"`
			Name     string          `json:"name"`
			Metadata *objectMetadata `json:"metadata"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: event: %v", ErrUnknownShape, err)
	}
	ev := Event{Source: SupabaseStorage, Type: e.Type, Bucket: e.Payload.BucketID, Key: e.Payload.Name, RawKey: e.Payload.Name, Size: -1}
	ev.Created = strings.HasPrefix(e.Type, "ObjectCreated")
	if e.Payload.Metadata != nil {
		ev.ETag, ev.Size = metaETag(e.Payload.Metadata.ETag), metaSize(e.Payload.Metadata.Size)
	}
	if ev.Created && (ev.Bucket == "" || ev.Key == "") {
		return nil, fmt.Errorf("%w: the event payload has no bucketId or name", ErrUnknownShape)
	}
	return []Event{ev}, nil
}

func parseS3(raw json.RawMessage) ([]Event, error) {
	var recs []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key  string          `json:"key"`
				Size json.RawMessage `json:"size"`
				ETag json.RawMessage `json:"eTag"`
			} `json:"object"`
		} `json:"s3"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		return nil, fmt.Errorf("%w: Records: %v", ErrUnknownShape, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: Records is empty", ErrUnknownShape)
	}
	out := make([]Event, 0, len(recs))
	for i, r := range recs {
		name := strings.TrimPrefix(r.EventName, "s3:")
		ev := Event{Source: S3, Type: r.EventName, Created: strings.HasPrefix(name, "ObjectCreated"),
			Bucket: r.S3.Bucket.Name, RawKey: r.S3.Object.Key, Size: metaSize(r.S3.Object.Size), ETag: metaETag(r.S3.Object.ETag)}
		if ev.Bucket == "" || ev.RawKey == "" {
			return nil, fmt.Errorf("%w: record %d has no bucket name or object key", ErrUnknownShape, i)
		}
		ev.Key = ev.RawKey
		if k, err := url.QueryUnescape(ev.RawKey); err == nil { // AWS writes + for space
			ev.Key = k
		}
		out = append(out, ev)
	}
	return out, nil
}

// metaETag reads an etag sent as a string (quoted or not).
func metaETag(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return NormalizeETag(s)
}

// NormalizeETag removes the quotes (and a weak "W/" prefix) around an etag.
func NormalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// metaSize reads a size sent as a number or a numeric string; -1 otherwise.
func metaSize(raw json.RawMessage) int64 {
	var n json.Number
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return -1
		}
		n = json.Number(s)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}

// Auth is the webhook authentication; the zero value accepts every request.
type Auth struct {
	// Secret enables x-supabase-signature: hex HMAC-SHA256 of the raw body,
	// optionally prefixed "sha256=".
	Secret string
	// Token enables "Authorization: Bearer <token>" and "?token=<token>".
	Token string
}

// Enabled reports whether any authentication is configured.
func (a Auth) Enabled() bool { return a.Secret != "" || a.Token != "" }

// Verify checks r (whose body is body) against the configured methods: any
// one that is configured and satisfied accepts the request. Comparisons run
// in constant time.
func (a Auth) Verify(r *http.Request, body []byte) error {
	if !a.Enabled() {
		return nil
	}
	if a.Secret != "" {
		if sig := r.Header.Get("X-Supabase-Signature"); sig != "" {
			sig = strings.TrimPrefix(strings.TrimSpace(sig), "sha256=")
			got, err := hex.DecodeString(sig)
			mac := hmac.New(sha256.New, []byte(a.Secret))
			mac.Write(body)
			if err == nil && hmac.Equal(got, mac.Sum(nil)) {
				return nil
			}
			return fmt.Errorf("%w: x-supabase-signature does not match the body", ErrUnauthorized)
		}
	}
	if a.Token != "" {
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := strings.CutPrefix(h, "Bearer ")
			if ok && equal(strings.TrimSpace(tok), a.Token) {
				return nil
			}
			return fmt.Errorf("%w: bearer token does not match", ErrUnauthorized)
		}
		if q := r.URL.Query().Get("token"); q != "" {
			if equal(q, a.Token) {
				return nil
			}
			return fmt.Errorf("%w: token does not match", ErrUnauthorized)
		}
	}
	return fmt.Errorf("%w: no signature or token", ErrUnauthorized)
}

// equal compares in constant time (for equal lengths; the length itself is
// not secret).
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Sign returns the x-supabase-signature value for body (for senders and tests).
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
