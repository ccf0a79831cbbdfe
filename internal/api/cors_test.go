package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"emgd/internal/api"
	"emgd/internal/testrec"
)

func (e *env) raw(method, path string, headers ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// --cors-origins: preflights answered as the old backend's Starlette
// CORSMiddleware answered them (its test_cors_preflight: OPTIONS /health
// from http://localhost:3000), on every route of the server (signals,
// upload, old API included); answers carry the CORS headers for the
// allowed origins only.
func TestCORS(t *testing.T) {
	const allowed = "http://localhost:3000"
	e, _, _ := fullServer(t, api.Config{CORSOrigins: []string{allowed, " https://clinic.example/ ", ""}})
	info := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info.ETag, info.Size))

	for _, path := range []string{"/health", "/healthz", "/webhooks/storage/c3d-upload", "/signals/jit/P001S001/CH1%20Raw",
		"/upload", "/scoring/configurations/active", "/scoring/configurations/x/activate", "/no/such/route"} {
		resp, body := e.raw("OPTIONS", path, "Origin", allowed, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type, authorization")
		h := resp.Header
		if resp.StatusCode != 200 || body != "OK" || h.Get("Access-Control-Allow-Origin") != allowed ||
			h.Get("Access-Control-Allow-Methods") != "GET, POST, PUT, DELETE, OPTIONS" ||
			h.Get("Access-Control-Allow-Headers") != "content-type, authorization" ||
			h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") != "600" ||
			!strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Errorf("preflight %s: %d %q %v", path, resp.StatusCode, body, h)
		}
	}
	// The second origin, written with a trailing slash and spaces.
	if resp, _ := e.raw("OPTIONS", "/health", "Origin", "https://clinic.example", "Access-Control-Request-Method", "GET"); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://clinic.example" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("second origin: %d %v", resp.StatusCode, resp.Header)
	}
	// Refusals: 400 naming what is disallowed, never the origin allowed.
	for _, c := range []struct{ origin, method, want string }{
		{"http://evil.example", "GET", "Disallowed CORS origin"},
		{allowed, "PATCH", "Disallowed CORS method"},
		{"http://evil.example", "PATCH", "Disallowed CORS origin, method"},
	} {
		resp, body := e.raw("OPTIONS", "/health", "Origin", c.origin, "Access-Control-Request-Method", c.method)
		if resp.StatusCode != 400 || body != c.want || (c.origin != allowed && resp.Header.Get("Access-Control-Allow-Origin") != "") {
			t.Errorf("%s %s: %d %q %v", c.origin, c.method, resp.StatusCode, body, resp.Header)
		}
	}

	// Normal answers: the headers for the allowed origin, whatever route
	// answers (and whatever it answers), none for another origin or none.
	for _, path := range []string{"/health", "/sessions", "/webhooks/storage/status/P001S001", "/signals/jit/P001S001/CH1%20Raw?max_points=10",
		"/scoring/configurations/active", "/sessions/nonesuch"} {
		resp, _ := e.raw("GET", path, "Origin", allowed, "Accept-Encoding", "gzip")
		h := resp.Header
		vary := strings.Join(h.Values("Vary"), ",")
		if h.Get("Access-Control-Allow-Origin") != allowed || h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(vary, "Origin") ||
			h.Get("Access-Control-Expose-Headers") != "ETag" {
			t.Errorf("GET %s from %s: %d %v", path, allowed, resp.StatusCode, h)
		}
		if strings.HasPrefix(path, "/signals/") && !strings.Contains(vary, "Accept-Encoding") {
			t.Errorf("signals lost Vary: Accept-Encoding: %v", h.Values("Vary"))
		}
		for _, other := range [][]string{{"Origin", "http://evil.example"}, nil} {
			resp, _ := e.raw("GET", path, other...)
			if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("GET %s %v: CORS headers %v", path, other, resp.Header)
			}
		}
	}
	// An OPTIONS request that is not a preflight reaches the routes.
	if resp, _ := e.raw("OPTIONS", "/healthz", "Origin", allowed); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("OPTIONS without Access-Control-Request-Method: %d", resp.StatusCode)
	}
}

// Without --cors-origins (the default) no CORS header is ever written and
// a preflight is a request like any other (no route takes OPTIONS).
func TestCORSOffByDefault(t *testing.T) {
	e, _, _ := fullServer(t, api.Config{})
	resp, _ := e.raw("OPTIONS", "/health", "Origin", "http://localhost:3000", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := e.raw("GET", "/health", "Origin", "http://localhost:3000"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET: %v", resp.Header)
	}
}
