package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/auth"
	"emgd/internal/web"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServesTheDashboard(t *testing.T) {
	// Every answer is validated against the routes' API document.
	mux := apidoc.NewMux(apidoc.Info{Title: "dashboard", Version: "1"})
	web.Register(mux)
	srv := httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	defer srv.Close()

	resp, body := get(t, srv, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{`src="/ui/app.js?v=`, `src="/ui/charts.js?v=`, `href="/ui/style.css?v=`, `href="/ui/favicon.svg?v=`, `href="/favicon.ico"`, `id="view-list"`, `id="view-session"`, `id="view-upload"`, `id="view-patients"`, `id="view-patient"`, `id="settings-form"`, `id="set-conflict"`, `id="set-load-theirs"`, `id="s-notes"`,
		`id="token"`, `id="u-file"`, `id="u-patient"`, `value="P000"`, `<progress id="u-progress"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	for path, ctype := range map[string]string{"/ui/app.js": "javascript", "/ui/style.css": "text/css"} {
		resp, body := get(t, srv, path)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), ctype) || len(body) < 1000 {
			t.Errorf("%s: %d %s, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	for _, path := range []string{"/ui/", "/ui/index.html"} {
		if resp, _ := get(t, srv, path); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp, _ := get(t, srv, "/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv, "/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
}

// Everything the page loads is its own: no address of another host, no
// module or bundle loader.
func TestSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|import\s*\(|\bimport\s+[{*\w]|require\(`)
	n := 0
	err := fs.WalkDir(web.Static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if strings.HasSuffix(p, ".ico") {
			return nil // binary
		}
		b, err := fs.ReadFile(web.Static, p)
		if err != nil {
			return err
		}
		// SVG's XML namespace (in an SVG file, and in the script that draws
		// charts with createElementNS) is an identifier, nothing fetched.
		text := strings.ReplaceAll(string(b), `http://www.w3.org/2000/svg`, "")
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("%d files embedded, want index.html, app.js, charts.js, style.css, favicon.svg and favicon.ico", n)
	}
}

// Every form control of the page has a label.
func TestControlsLabelled(t *testing.T) {
	b, err := fs.ReadFile(web.Static, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	ids := regexp.MustCompile(`<(?:input|select)[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(ids) < 5 {
		t.Fatalf("%d controls found", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(html, `for="`+m[1]+`"`) {
			t.Errorf("control #%s has no <label for>", m[1])
		}
	}
	if !strings.Contains(html, `name="viewport"`) {
		t.Error("no viewport meta for tablets")
	}
}

// The dashboard's upload asks for no signals: the old backend's /upload
// answers them by default, tens of MB the dashboard does not show.
func TestUploadWithoutSignals(t *testing.T) {
	b, err := fs.ReadFile(web.Static, "app.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "fd.append('include_signals', 'false')") {
		t.Error("app.js does not send include_signals=false with its upload")
	}
}

// The sign-in page: an email and a password field the browser can fill
// (autocomplete), the access token behind a link, the audit trail hidden
// until an admin signs in; the script names the headers the server uses
// (the login route on a 401, the CSRF token on changes).
func TestSignInPage(t *testing.T) {
	page, err := fs.ReadFile(web.Static, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{`<form id="login-form"`, `id="login-email" name="email" type="email" autocomplete="username"`,
		`id="login-password" name="password" type="password" autocomplete="current-password"`, `id="login-error" class="error-text" role="alert"`,
		`<summary>Use an access token instead</summary>`, `id="login-token"`, `id="nav-audit" hidden`, `id="who" class="who" hidden`,
		`id="sign-out"`, `id="view-audit" hidden`, `id="token-form"`} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	script, err := fs.ReadFile(web.Static, "app.js")
	if err != nil {
		t.Fatal(err)
	}
	js := string(script)
	for _, want := range []string{`'` + auth.SignInHeader + `'`, `['` + auth.CSRFHeader + `']`, `setRequestHeader('` + auth.CSRFHeader + `'`,
		`request('/auth/me')`, `fetch('/auth/login'`, `request('/auth/logout', { method: 'POST'`, `api('/audit?'`, `r.headers.get('Retry-After')`} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
}
