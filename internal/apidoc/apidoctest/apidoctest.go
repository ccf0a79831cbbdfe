// Package apidoctest validates real answers against an apidoc.Mux's OpenAPI
// document (JSON Schema 2020-12, as OpenAPI 3.1 defines it), for tests: a
// handler wrapped by Checker.Wrap fails its test when it answers a status,
// content type or body its route does not document.
package apidoctest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"emgd/internal/apidoc"
)

// Checker validates answers against a document.
type Checker struct {
	t   testing.TB
	mux *apidoc.Mux
	doc map[string]any

	inflight sync.WaitGroup // wrapped requests not yet validated

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	seen     map[string]map[int]bool // pattern -> statuses validated
}

// New builds mux's document (failing t when it cannot be built).
func New(t testing.TB, mux *apidoc.Mux) *Checker {
	t.Helper()
	b, err := mux.Document()
	if err != nil {
		t.Fatalf("API document: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("API document: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("doc.json", doc); err != nil {
		t.Fatalf("API document: %v", err)
	}
	m, _ := doc.(map[string]any)
	return &Checker{t: t, mux: mux, doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}, seen: map[string]map[int]bool{}}
}

// Wrap returns h with every answer validated as it is written (the test
// fails on an undocumented answer).
func (c *Checker) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inflight.Add(1)
		defer c.inflight.Done()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if r.Method == http.MethodHead || r.Pattern == "" {
			return
		}
		if err := c.Validate(r.Pattern, rec.code, rec.Header(), rec.body.Bytes()); err != nil {
			c.t.Errorf("%s %s: answer does not match the API document: %v", r.Method, r.URL.Path, err)
		}
	})
}

// Seen lists the patterns and statuses validated, once the requests under
// way are (a client may have its answer before the handler returns).
func (c *Checker) Seen() map[string][]int {
	c.inflight.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]int{}
	for p, codes := range c.seen {
		for code := range codes {
			out[p] = append(out[p], code)
		}
		sort.Ints(out[p])
	}
	return out
}

// Validate checks one answer of the route registered as pattern.
func (c *Checker) Validate(pattern string, status int, header http.Header, body []byte) error {
	op, ok := c.mux.Op(pattern)
	if !ok {
		return nil // a method-less fallback (405)
	}
	path := apidoc.OpenAPIPath(op.Path)
	responses, _ := c.lookup("paths", path, strings.ToLower(op.Method), "responses").(map[string]any)
	key := strconv.Itoa(status)
	resp, ok := responses[key].(map[string]any)
	if !ok {
		key = "default"
		if resp, ok = responses[key].(map[string]any); !ok {
			return fmt.Errorf("status %d is not documented", status)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		if status >= 300 && status < 400 {
			return c.saw(pattern, status)
		}
		if len(body) > 0 {
			return fmt.Errorf("status %d is documented without a body, and has %d bytes", status, len(body))
		}
		return c.saw(pattern, status)
	}
	ct := header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("status %d: content type %q: %v", status, ct, err)
	}
	ctKey := ""
	for k := range content {
		if km, _, _ := mime.ParseMediaType(k); km == mt {
			ctKey = k
		}
	}
	if ctKey == "" {
		return fmt.Errorf("status %d: content type %q is not documented", status, ct)
	}
	if header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("gzip: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("gzip: %v", err)
		}
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("status %d: body is not JSON: %v", status, err)
		}
		ptr := "doc.json#/" + strings.Join([]string{"paths", esc(path), strings.ToLower(op.Method), "responses", key, "content", esc(ctKey), "schema"}, "/")
		s, err := c.compile(ptr)
		if err != nil {
			return fmt.Errorf("compiling %s: %v", ptr, err)
		}
		if err := s.Validate(v); err != nil {
			return fmt.Errorf("status %d: %v\nbody: %.2000s", status, err, body)
		}
	}
	return c.saw(pattern, status)
}

func (c *Checker) saw(pattern string, status int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[pattern] == nil {
		c.seen[pattern] = map[int]bool{}
	}
	c.seen[pattern][status] = true
	return nil
}

func (c *Checker) compile(ptr string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[ptr]; ok {
		return s, nil
	}
	s, err := c.compiler.Compile(ptr)
	if err == nil {
		c.schemas[ptr] = s
	}
	return s, err
}

func (c *Checker) lookup(keys ...string) any {
	var v any = c.doc
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// esc escapes a JSON pointer token.
func esc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// recorder writes through and keeps a copy of the body.
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
	body  bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
