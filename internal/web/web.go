// Package web is the clinicians' dashboard: static files written by hand
// (HTML, CSS and JavaScript, no build step and nothing fetched from
// elsewhere), embedded in the binary. The page reads the JSON API (sessions,
// signals, upload) with the session cookie of its sign-in form (its CSRF
// token, read from /auth/me, sent on every change) or an access token (the
// read token, an API token); the files themselves hold no data and need
// none.
//
// Every file is served with a content-hash ETag (304 on If-None-Match) and,
// when the client accepts it, gzip; both are computed on the first request,
// not at start-up. The page (an app shell) is revalidated on every load;
// the files it names carry their hash in the URL (?v=) and are then cached
// for a year.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"emgd/internal/apidoc"
)

//go:embed static
var files embed.FS

// Static is the dashboard's files (index.html, app.js, style.css and the
// icons).
var Static, _ = fs.Sub(files, "static")

// contentTypes is the media type of each kind of embedded file (not the
// system's MIME table: the API document must not depend on the host).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".ico":  "image/vnd.microsoft.icon",
}

// Cache-Control of the answers: the page and unversioned URLs are
// revalidated (a 304 when unchanged); a URL that names the file's hash
// never changes.
const (
	revalidate = "no-cache"
	immutable  = "public, max-age=31536000, immutable"
)

// asset is one file as served: its bytes, gzipped bytes (nil when gzip
// does not make it smaller) and content hash.
type asset struct {
	ctype string
	body  []byte
	gz    []byte
	hash  string // hex, 16 digits: the ETag and the ?v= of its URL
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{ctype: contentTypes[path.Ext(name)], body: body, hash: hex.EncodeToString(sum[:8])}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	if buf.Len() < len(body) {
		a.gz = buf.Bytes()
	}
	return a
}

var (
	assetsOnce sync.Once
	assetMap   map[string]*asset
)

// assets are the embedded files, hashed and compressed on first use;
// index.html names the other files with their hash (?v=).
func assets() map[string]*asset {
	assetsOnce.Do(func() {
		m := map[string]*asset{}
		fs.WalkDir(Static, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || p == "index.html" {
				return err
			}
			b, err := fs.ReadFile(Static, p)
			if err != nil {
				return err
			}
			m[p] = newAsset(p, b)
			return nil
		})
		index, err := fs.ReadFile(Static, "index.html")
		if err != nil {
			panic("web: index.html not embedded: " + err.Error())
		}
		page := string(index)
		for name, a := range m {
			page = strings.ReplaceAll(page, `"/ui/`+name+`"`, `"/ui/`+name+`?v=`+a.hash+`"`)
		}
		m["index.html"] = newAsset("index.html", []byte(page))
		assetMap = m
	})
	return assetMap
}

// acceptsGzip reports whether Accept-Encoding allows gzip (gzip or *, with
// a quality above 0).
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

// matches reports whether If-None-Match names the asset (either of its
// encodings, weak or strong, or *).
func (a *asset) matches(inm string) bool {
	for _, tag := range strings.Split(inm, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == `"`+a.hash+`"` || tag == `"`+a.hash+`-gz"` {
			return true
		}
	}
	return false
}

// serve answers a GET or HEAD for a, with cache as its Cache-Control.
func (a *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.body, `"`+a.hash+`"`
	if a.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, `"`+a.hash+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && a.matches(inm) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// Register serves the dashboard at /, its files under /ui/ and its icon at
// /favicon.ico.
func Register(mux apidoc.Router) {
	if _, err := fs.Stat(Static, "index.html"); err != nil {
		panic("web: index.html not embedded: " + err.Error())
	}
	apidoc.HandleFunc(mux, indexRoute, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		assets()["index.html"].serve(w, r, revalidate)
	})
	apidoc.HandleFunc(mux, assetsRoute(), func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "" || name == "index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		a := assets()[name]
		if a == nil {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		cache := revalidate
		if r.URL.Query().Get("v") == a.hash {
			cache = immutable
		}
		a.serve(w, r, cache)
	})
	apidoc.HandleFunc(mux, faviconRoute, func(w http.ResponseWriter, r *http.Request) {
		assets()["favicon.ico"].serve(w, r, "public, max-age=86400")
	})
}

// cacheHeaders are the headers of every file's answer.
var cacheHeaders = map[string]string{
	"ETag":             "the content's hash (If-None-Match answers 304 when it matches)",
	"Cache-Control":    "no-cache (revalidate) for the page and unversioned URLs; a year, immutable, for URLs with the file's ?v= hash",
	"Content-Encoding": "gzip when the client accepts it and it is smaller",
}

var notModified = apidoc.Response{Status: http.StatusNotModified, Description: "Unchanged: If-None-Match names the current ETag"}

var indexRoute = apidoc.Op{Method: "GET", Path: "/{$}", Summary: "The dashboard", Tags: []string{"dashboard"},
	Responses: []apidoc.Response{
		{Status: http.StatusOK, Description: "The dashboard's page", ContentType: contentTypes[".html"], Type: apidoc.String, Headers: cacheHeaders},
		notModified}}

var faviconRoute = apidoc.Op{Method: "GET", Path: "/favicon.ico", Summary: "The dashboard's icon", Tags: []string{"dashboard"},
	Responses: []apidoc.Response{
		{Status: http.StatusOK, Description: "The icon (32x32)", ContentType: contentTypes[".ico"], Type: apidoc.String, Headers: cacheHeaders},
		notModified}}

// assetsRoute documents /ui/: its content types are those of the embedded
// files.
func assetsRoute() apidoc.Op {
	var types []string
	fs.WalkDir(Static, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != "index.html" {
			if t := contentTypes[path.Ext(p)]; t != "" && !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		return nil
	})
	slices.Sort(types)
	ok := apidoc.Response{Status: http.StatusOK, Description: "A dashboard file", Type: apidoc.String, Headers: cacheHeaders}
	if len(types) > 0 {
		ok.ContentType, ok.ContentTypes = types[0], types[1:]
	}
	return apidoc.Op{Method: "GET", Path: "/ui/{file...}", Summary: "The dashboard's files (script, style, icons)", Tags: []string{"dashboard"},
		Params: []apidoc.Param{{Name: "file", In: "path", Type: ""},
			{Name: "v", In: "query", Description: "the file's content hash, as the page names it: the answer is then cached for a year", Type: ""}},
		Responses: []apidoc.Response{ok, notModified,
			{Status: http.StatusMovedPermanently, Description: "/ui/ and /ui/index.html: the dashboard is at /"},
			{Status: http.StatusNotFound, Description: "No such file", ContentType: "text/plain; charset=utf-8", Type: apidoc.String}}}
}
