package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/web"
)

// staticServer is the dashboard's routes, every answer validated against
// their API document.
func staticServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := apidoc.NewMux(apidoc.Info{Title: "dashboard", Version: "1"})
	web.Register(mux)
	srv := httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	t.Cleanup(srv.Close)
	return srv
}

// fetch sends a GET (or HEAD) with the given headers, without the client's
// own gzip handling, and returns the answer and its raw body.
func fetch(t *testing.T, srv *httptest.Server, method, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every file has a content-hash ETag; If-None-Match with it answers 304
// without a body; gzip when accepted (the same bytes once unzipped), plain
// otherwise; the page is revalidated on every load.
func TestStaticETagAndGzip(t *testing.T) {
	srv := staticServer(t)
	for _, p := range []string{"/", "/ui/app.js", "/ui/charts.js", "/ui/style.css", "/ui/favicon.svg", "/favicon.ico"} {
		plain, body := fetch(t, srv, "GET", p)
		etag := plain.Header.Get("ETag")
		if plain.StatusCode != 200 || !regexp.MustCompile(`^"[0-9a-f]{16}"$`).MatchString(etag) || len(body) == 0 {
			t.Errorf("%s: %d, ETag %q, %d bytes", p, plain.StatusCode, etag, len(body))
			continue
		}
		if ce := plain.Header.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s without Accept-Encoding: Content-Encoding %q", p, ce)
		}
		if cc := plain.Header.Get("Cache-Control"); cc == "" {
			t.Errorf("%s: no Cache-Control", p)
		}
		// Unchanged: 304, no body; with a list of tags, weak or not, too.
		for _, inm := range []string{etag, `"x", W/` + etag, "*"} {
			nm, b := fetch(t, srv, "GET", p, "If-None-Match", inm)
			if nm.StatusCode != http.StatusNotModified || len(b) != 0 || nm.Header.Get("ETag") == "" {
				t.Errorf("%s If-None-Match %s: %d, %d bytes, ETag %q", p, inm, nm.StatusCode, len(b), nm.Header.Get("ETag"))
			}
		}
		if other, b := fetch(t, srv, "GET", p, "If-None-Match", `"0000000000000000"`); other.StatusCode != 200 || !bytes.Equal(b, body) {
			t.Errorf("%s with another ETag: %d", p, other.StatusCode)
		}
		// HEAD: the headers, no body.
		if head, b := fetch(t, srv, "HEAD", p); head.StatusCode != 200 || len(b) != 0 || head.Header.Get("ETag") != etag {
			t.Errorf("%s HEAD: %d, %d bytes", p, head.StatusCode, len(b))
		}
		if p == "/favicon.ico" {
			continue // PNG inside: gzip gains nothing
		}
		gz, zb := fetch(t, srv, "GET", p, "Accept-Encoding", "br;q=1.0, gzip;q=0.8")
		if gz.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s with gzip accepted: Content-Encoding %q, Vary %q", p, gz.Header.Get("Content-Encoding"), gz.Header.Get("Vary"))
			continue
		}
		if len(zb) >= len(body) || !bytes.Equal(gunzip(t, zb), body) {
			t.Errorf("%s: gzip %d bytes for %d", p, len(zb), len(body))
		}
		if gz.Header.Get("ETag") == etag || gz.Header.Get("ETag") == "" {
			t.Errorf("%s: the gzip encoding has the plain one's ETag %q", p, etag)
		}
		if nm, _ := fetch(t, srv, "GET", p, "Accept-Encoding", "gzip", "If-None-Match", gz.Header.Get("ETag")); nm.StatusCode != http.StatusNotModified {
			t.Errorf("%s gzip If-None-Match: %d", p, nm.StatusCode)
		}
		if no, _ := fetch(t, srv, "GET", p, "Accept-Encoding", "gzip;q=0, identity"); no.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s with gzip;q=0: Content-Encoding %q", p, no.Header.Get("Content-Encoding"))
		}
	}
}

// The ETag is the hash of the file's content: it changes when the file
// does, not with the server's start.
func TestStaticETagIsContentHash(t *testing.T) {
	srv := staticServer(t)
	for _, name := range []string{"app.js", "charts.js", "style.css", "favicon.svg", "favicon.ico"} {
		b, err := fs.ReadFile(web.Static, name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want := `"` + hex.EncodeToString(sum[:8]) + `"`
		if resp, _ := fetch(t, srv, "GET", "/ui/"+name); resp.Header.Get("ETag") != want {
			t.Errorf("%s: ETag %q, want %s", name, resp.Header.Get("ETag"), want)
		}
	}
}

// The page (app shell) is revalidated on every load and names its files
// with their hash; a file asked for with its hash is cached for a year,
// without it revalidated.
func TestStaticCacheControl(t *testing.T) {
	srv := staticServer(t)
	page, body := fetch(t, srv, "GET", "/")
	if cc := page.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q", cc)
	}
	refs := regexp.MustCompile(`"/ui/([a-z.]+)\?v=([0-9a-f]{16})"`).FindAllStringSubmatch(string(body), -1)
	if len(refs) != 4 {
		t.Fatalf("versioned references in the page: %v", refs)
	}
	for _, m := range refs {
		resp, _ := fetch(t, srv, "GET", "/ui/"+m[1]+"?v="+m[2])
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+m[2]+`"` || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s?v=%s: %d, ETag %q, Cache-Control %q", m[1], m[2], resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
		if resp, _ := fetch(t, srv, "GET", "/ui/"+m[1]); resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s without ?v: Cache-Control %q", m[1], resp.Header.Get("Cache-Control"))
		}
		if resp, _ := fetch(t, srv, "GET", "/ui/"+m[1]+"?v=0123456789abcdef"); resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s with a stale ?v: Cache-Control %q", m[1], resp.Header.Get("Cache-Control"))
		}
	}
	if resp, _ := fetch(t, srv, "GET", "/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("/ui/nope.js: %d", resp.StatusCode)
	}
}

// /favicon.ico is an icon (not a 404); the SVG icon is well-formed.
func TestFavicon(t *testing.T) {
	srv := staticServer(t)
	resp, body := fetch(t, srv, "GET", "/favicon.ico")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/vnd.microsoft.icon" ||
		len(body) < 22 || !bytes.Equal(body[:4], []byte{0, 0, 1, 0}) || !bytes.Contains(body, []byte("\x89PNG")) {
		t.Errorf("/favicon.ico: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	resp, body = fetch(t, srv, "GET", "/ui/favicon.svg")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("/ui/favicon.svg: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var svg struct {
		XMLName xml.Name
		ViewBox string `xml:"viewBox,attr"`
	}
	if err := xml.Unmarshal(body, &svg); err != nil || svg.XMLName.Local != "svg" || svg.ViewBox == "" {
		t.Errorf("favicon.svg: %v %+v", err, svg)
	}
}
