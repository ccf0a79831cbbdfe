// Package apidoc registers emgd's HTTP routes and derives their OpenAPI 3.1
// document from the Go types the handlers answer, so that the document
// cannot drift from the code.
//
// Every route is registered through one table (Handle with an Op: method,
// path, parameters, request and response Go types). A Mux records every
// pattern registered on it, documented or not; Document refuses to build
// while any route lacks its Op, and a test of the whole server checks that
// (and validates real answers against the document). The handlers stay
// plain net/http: their error shapes (emgd's {"success":false,"error":...},
// the old API's FastAPI-style answers) and streaming encoders (signals, an
// upload with signals) are unchanged, and the document still names the Go
// type each answer has (a streaming encoder's type is tested against the
// encoder's bytes in its package).
//
// Why not a framework such as huma: it would own decoding, validation and
// error answers (its own shapes), and every handler would be rewritten into
// its signature; the old API's byte-compatible answers would fight it. Why
// not kin-openapi's generator: the document is only a few hundred lines of
// reflection here, written for emgd's JSON conventions (non-finite numbers
// answer null, json.RawMessage is any JSON, types that encode themselves
// describe themselves with JSONSchema), and the server binary links no
// OpenAPI library: nothing runs at init, and the document is built on the
// first request for /openapi.json (emgd --help's start-up budget).
package apidoc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Op documents one route.
type Op struct {
	Method string // GET, POST, ...
	// Path in http.ServeMux syntax: "/sessions/{id}", "/ui/{file...}", "/{$}".
	Path        string
	Summary     string
	Description string
	Tags        []string
	Params      []Param
	Body        *Body
	Responses   []Response
	// Security names the schemes of Info.Security that grant access (any of
	// them); none: open to all.
	Security []string
}

// Pattern is the ServeMux pattern the route is registered under.
func (o *Op) Pattern() string { return o.Method + " " + o.Path }

// Param is a path, query or header parameter.
type Param struct {
	Name        string
	In          string // "path", "query" or "header"
	Description string
	Required    bool // path parameters always are
	// Type is a value of the parameter's Go type (e.g. "", 0, true).
	Type any
	// Enum, when set, lists the values the parameter accepts.
	Enum []string
}

// Body is a request body.
type Body struct {
	ContentType string
	Type        any // a value of the body's Go type
	Description string
	Required    bool
}

// Response is one answer of a route. Status 0 is the "default" answer: any
// status not listed (an error shape).
type Response struct {
	Status      int
	Description string
	// ContentType and Type (a value of the answer's Go type; "" for text
	// such as HTML or CSV) describe the body; both empty: no body (304,
	// redirects). ContentTypes lists more media types of the same schema.
	ContentType  string
	ContentTypes []string
	Type         any
	Headers      map[string]string // name -> description
}

// Info is the document's header.
type Info struct {
	Title, Version, Description string
	// Security maps a scheme name to its OpenAPI security scheme object.
	Security map[string]any
}

// Router is where packages register routes: a *Mux, which records their
// documentation, or a plain *http.ServeMux (package tests).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Handle registers h for op on r.
func Handle(r Router, op Op, h http.Handler) {
	if m, ok := r.(*Mux); ok {
		m.add(op, h)
		return
	}
	r.Handle(op.Pattern(), h)
}

// HandleFunc is Handle for a handler function.
func HandleFunc(r Router, op Op, h http.HandlerFunc) { Handle(r, op, h) }

// NotAllowed registers h under the method-less pattern path, for the
// answers (405) to methods the documented routes of path do not take. Its
// path must be documented by some route.
func NotAllowed(r Router, path string, h http.Handler) {
	if m, ok := r.(*Mux); ok {
		m.mu.Lock()
		m.fallbacks = append(m.fallbacks, path)
		m.mu.Unlock()
		m.mux.Handle(path, h)
		return
	}
	r.Handle(path, h)
}

// Mux is an http.ServeMux that records every route registered on it and
// serves their document.
type Mux struct {
	mux  *http.ServeMux
	info Info

	mu        sync.Mutex
	ops       []Op
	byPattern map[string]int
	fallbacks []string
	raw       []string // registered without an Op

	built bool
	doc   []byte
	err   error
}

// NewMux returns an empty Mux.
func NewMux(info Info) *Mux {
	return &Mux{mux: http.NewServeMux(), info: info, byPattern: map[string]int{}}
}

func (m *Mux) add(op Op, h http.Handler) {
	m.mu.Lock()
	m.byPattern[op.Pattern()] = len(m.ops)
	m.ops = append(m.ops, op)
	m.built = false
	m.mu.Unlock()
	m.mux.Handle(op.Pattern(), h)
}

// Handle registers h without documentation: the route is served, but
// Document fails until it is registered through the package's Handle.
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.mu.Lock()
	m.raw = append(m.raw, pattern)
	m.built = false
	m.mu.Unlock()
	m.mux.Handle(pattern, h)
}

// HandleFunc is Handle for a handler function.
func (m *Mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// ServeHTTP routes the request (r.Pattern is set to the route's pattern).
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// Patterns lists every pattern registered, documented or not, in order.
func (m *Mux) Patterns() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, op := range m.ops {
		out = append(out, op.Pattern())
	}
	out = append(out, m.fallbacks...)
	return append(out, m.raw...)
}

// Op returns the documentation of the route registered as pattern.
func (m *Mux) Op(pattern string) (Op, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.byPattern[pattern]
	if !ok {
		return Op{}, false
	}
	return m.ops[i], true
}

// Document returns the OpenAPI document (JSON), built on first use and
// again after routes are added. It fails when a route was registered
// without documentation, a success answer has no content type or schema, or
// a fallback's path has no documented route.
func (m *Mux) Document() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.built {
		m.doc, m.err = m.build()
		m.built = true
	}
	return m.doc, m.err
}

// ServeDocument answers the document (GET /openapi.json).
func (m *Mux) ServeDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := m.Document()
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		b, _ := json.Marshal(map[string]any{"success": false, "error": "API document: " + err.Error()})
		w.Write(append(b, '\n'))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}

// OpenAPIPath is the document's path for a ServeMux path: "{name...}" is
// "{name}" and "/{$}" is "/".
func OpenAPIPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return strings.ReplaceAll(p, "...}", "}")
}

func (m *Mux) build() ([]byte, error) {
	var problems []string
	if len(m.raw) > 0 {
		problems = append(problems, "routes registered without documentation: "+strings.Join(m.raw, ", "))
	}
	g := newGen()
	paths := map[string]map[string]any{}
	for _, op := range m.ops {
		path := OpenAPIPath(op.Path)
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		o, errs := g.operation(op)
		problems = append(problems, errs...)
		paths[path][strings.ToLower(op.Method)] = o
	}
	for _, fb := range m.fallbacks {
		if paths[OpenAPIPath(fb)] == nil {
			problems = append(problems, fmt.Sprintf("%s answers only 405: no route of that path is documented", fb))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	info := map[string]any{"title": m.info.Title, "version": m.info.Version}
	if m.info.Description != "" {
		info["description"] = m.info.Description
	}
	components := map[string]any{"schemas": g.components}
	if len(m.info.Security) > 0 {
		components["securitySchemes"] = m.info.Security
	}
	doc := map[string]any{"openapi": "3.1.0", "info": info, "paths": paths, "components": components}
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (g *gen) operation(op Op) (map[string]any, []string) {
	var problems []string
	where := op.Pattern()
	o := map[string]any{}
	if op.Summary != "" {
		o["summary"] = op.Summary
	}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if len(op.Tags) > 0 {
		o["tags"] = op.Tags
	}
	o["operationId"] = operationID(op)
	var params []any
	for _, name := range pathParams(op.Path) {
		if !slices.ContainsFunc(op.Params, func(p Param) bool { return p.In == "path" && p.Name == name }) {
			op.Params = append([]Param{{Name: name, In: "path", Type: ""}}, op.Params...)
		}
	}
	for _, p := range op.Params {
		t := p.Type
		if t == nil {
			t = ""
		}
		schema := g.schemaOf(t)
		if len(p.Enum) > 0 {
			vals := make([]any, len(p.Enum))
			for i, v := range p.Enum {
				vals[i] = v
			}
			schema = withKey(schema, "enum", vals)
		}
		po := map[string]any{"name": p.Name, "in": p.In, "required": p.Required || p.In == "path", "schema": schema}
		if p.Description != "" {
			po["description"] = p.Description
		}
		params = append(params, po)
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.Body != nil {
		b := map[string]any{"required": op.Body.Required,
			"content": map[string]any{op.Body.ContentType: map[string]any{"schema": g.inline(op.Body.Type)}}}
		if op.Body.Description != "" {
			b["description"] = op.Body.Description
		}
		o["requestBody"] = b
	}
	responses := map[string]any{}
	success := false
	for _, r := range op.Responses {
		key := "default"
		if r.Status != 0 {
			key = fmt.Sprint(r.Status)
		}
		ro := map[string]any{"description": r.Description}
		if ro["description"] == "" {
			ro["description"] = http.StatusText(r.Status)
		}
		if r.ContentType != "" {
			if r.Type == nil {
				problems = append(problems, fmt.Sprintf("%s: answer %s has a content type but no type", where, key))
				continue
			}
			s := g.schemaOf(r.Type)
			content := map[string]any{r.ContentType: map[string]any{"schema": s}}
			for _, ct := range r.ContentTypes {
				content[ct] = map[string]any{"schema": s}
			}
			ro["content"] = content
		}
		if len(r.Headers) > 0 {
			hs := map[string]any{}
			for name, d := range r.Headers {
				hs[name] = map[string]any{"description": d, "schema": map[string]any{"type": "string"}}
			}
			ro["headers"] = hs
		}
		if r.Status >= 200 && r.Status < 300 {
			if r.ContentType == "" {
				problems = append(problems, fmt.Sprintf("%s: success answer %d has no content type and schema", where, r.Status))
			} else {
				success = true
			}
		}
		responses[key] = ro
	}
	if !success {
		problems = append(problems, where+": no success answer with a content type and schema")
	}
	o["responses"] = responses
	if len(op.Security) > 0 {
		var sec []any
		for _, s := range op.Security {
			sec = append(sec, map[string]any{s: []string{}})
		}
		o["security"] = sec
	}
	return o, problems
}

func pathParams(p string) []string {
	var out []string
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return out
		}
		name := strings.TrimSuffix(p[i+1:i+j], "...")
		if name != "$" {
			out = append(out, name)
		}
		p = p[i+j+1:]
	}
}

func operationID(op Op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	up := true
	for _, c := range op.Path {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			if up && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteRune(c)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

// ErrorResponse is emgd's error answer.
type ErrorResponse struct {
	Success bool   `json:"success" doc:"always false"`
	Error   string `json:"error"`
}

// AnyOf is the Type of an answer that has one of several types' shapes.
type AnyOf []any

// ReadToken names the read API's bearer-token scheme in Op.Security.
const ReadToken = "readToken"
