package apidoc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
)

type errorAnswer struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

type item struct {
	ID      string          `json:"id"`
	Note    *string         `json:"note"`
	Score   float64         `json:"score"`
	Tags    []string        `json:"tags" nullable:"true"`
	Extra   json.RawMessage `json:"extra,omitempty"`
	When    time.Time       `json:"when"`
	Status  string          `json:"status" enum:"new,done"`
	private int
}

// private is set so that it is used; the document must leave it out.
var _ = item{private: 1}

type itemAnswer struct {
	Success bool `json:"success"`
	item
	Children []item `json:"children"`
}

func newMux() *apidoc.Mux {
	m := apidoc.NewMux(apidoc.Info{Title: "t", Version: "1"})
	apidoc.HandleFunc(m, apidoc.Op{Method: "GET", Path: "/items/{id}", Responses: []apidoc.Response{
		{Status: 200, ContentType: "application/json", Type: itemAnswer{}},
		{Status: 0, ContentType: "application/json", Type: errorAnswer{}},
	}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.PathValue("id") {
		case "good":
			w.Write([]byte(`{"success":true,"id":"a","note":null,"score":null,"tags":null,"when":"2026-01-02T03:04:05Z","status":"new","children":[]}`))
		case "missing":
			w.Write([]byte(`{"success":true,"id":"a","note":null,"score":1,"tags":[],"when":"2026-01-02T03:04:05Z","status":"new"}`))
		case "enum":
			w.Write([]byte(`{"success":true,"id":"a","note":null,"score":1,"tags":[],"when":"2026-01-02T03:04:05Z","status":"old","children":[]}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"success":false,"error":"no"}`))
		}
	})
	apidoc.HandleFunc(m, apidoc.Op{Method: "GET", Path: "/page/{$}", Responses: []apidoc.Response{
		{Status: 200, ContentType: "text/html; charset=utf-8", Type: apidoc.String},
	}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hi"))
	})
	return m
}

func TestDocumentDerivedFromTypes(t *testing.T) {
	m := newMux()
	b, err := m.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI    string
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Schemas map[string]map[string]any }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Paths["/items/{id}"]["get"] == nil || doc.Paths["/page/"]["get"] == nil {
		t.Fatalf("paths: %v", doc.Paths)
	}
	ia := doc.Components.Schemas["itemAnswer"]
	props, _ := ia["properties"].(map[string]any)
	for _, f := range []string{"success", "id", "note", "score", "tags", "extra", "when", "status", "children"} {
		if props[f] == nil {
			t.Errorf("itemAnswer lacks %s: %v", f, props)
		}
	}
	if props["private"] != nil {
		t.Error("unexported field documented")
	}
	req := ia["required"].([]any)
	if len(req) != 8 {
		t.Errorf("required %v, want all but extra", req)
	}
	if !strings.Contains(string(b), `"in": "path"`) {
		t.Error("path parameter id not documented")
	}
}

func TestUndocumentedRouteFailsTheDocument(t *testing.T) {
	m := newMux()
	m.HandleFunc("GET /secret", func(w http.ResponseWriter, r *http.Request) {})
	_, err := m.Document()
	if err == nil || !strings.Contains(err.Error(), "GET /secret") {
		t.Fatalf("Document() error %v, want one naming GET /secret", err)
	}
	rec := httptest.NewRecorder()
	m.ServeDocument(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 500 {
		t.Errorf("document served %d with an undocumented route", rec.Code)
	}

	m = newMux()
	apidoc.HandleFunc(m, apidoc.Op{Method: "POST", Path: "/x", Responses: []apidoc.Response{{Status: 204}}}, func(w http.ResponseWriter, r *http.Request) {})
	if _, err := m.Document(); err == nil || !strings.Contains(err.Error(), "POST /x") {
		t.Fatalf("a route without a success schema was accepted: %v", err)
	}

	m = newMux()
	apidoc.NotAllowed(m, "/nowhere", http.NotFoundHandler())
	if _, err := m.Document(); err == nil {
		t.Fatal("a 405 fallback of an undocumented path was accepted")
	}
}

func TestCheckerValidatesAnswers(t *testing.T) {
	m := newMux()
	c := apidoctest.New(t, m)
	for path, want := range map[string]string{
		"/items/good":    "",
		"/items/nothing": "",
		"/items/missing": "children",
		"/items/enum":    "status",
		"/page/":         "content type",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		m.ServeHTTP(rec, req)
		err := c.Validate(req.Pattern, rec.Code, rec.Header(), rec.Body.Bytes())
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", path, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want one about %s", path, err, want)
		}
	}
	if got := c.Seen()["GET /items/{id}"]; len(got) != 2 {
		t.Errorf("seen %v", c.Seen())
	}
}

type request struct {
	Name  string   `json:"name" required:"true"`
	Limit *float64 `json:"limit"`
	Count int      `json:"count"`
}

// A request body's fields are optional unless tagged required.
func TestRequestBodyRequiredByTag(t *testing.T) {
	m := apidoc.NewMux(apidoc.Info{Title: "t", Version: "1"})
	apidoc.HandleFunc(m, apidoc.Op{Method: "POST", Path: "/r", Body: &apidoc.Body{ContentType: "application/json", Type: request{}},
		Responses: []apidoc.Response{{Status: 200, ContentType: "application/json", Type: errorAnswer{}}}}, func(http.ResponseWriter, *http.Request) {})
	b, err := m.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Required   []string       `json:"required"`
						Properties map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	json.Unmarshal(b, &doc)
	s := doc.Paths["/r"]["post"].RequestBody.Content["application/json"].Schema
	if len(s.Properties) != 3 || len(s.Required) != 1 || s.Required[0] != "name" {
		t.Errorf("request schema: required %v, properties %v", s.Required, s.Properties)
	}
}
