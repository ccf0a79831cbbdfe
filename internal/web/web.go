// Package web is the clinicians' dashboard: static files written by hand
// (HTML, CSS and JavaScript, no build step and nothing fetched from
// elsewhere), embedded in the binary. The page reads the JSON API (sessions,
// signals, upload) with the read token when one is configured; the files
// themselves hold no data and need none.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"

	"emgd/internal/apidoc"
)

//go:embed static
var files embed.FS

// Static is the dashboard's files (index.html, app.js, style.css).
var Static, _ = fs.Sub(files, "static")

// Register serves the dashboard at / and its files under /ui/.
func Register(mux apidoc.Router) {
	index, err := fs.ReadFile(Static, "index.html")
	if err != nil {
		panic("web: index.html not embedded: " + err.Error())
	}
	apidoc.HandleFunc(mux, indexRoute, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(index)
	})
	assets := http.StripPrefix("/ui/", http.FileServerFS(Static))
	apidoc.HandleFunc(mux, assetsRoute(), func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("file") == "" || r.PathValue("file") == "index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		assets.ServeHTTP(w, r)
	})
}

var indexRoute = apidoc.Op{Method: "GET", Path: "/{$}", Summary: "The dashboard", Tags: []string{"dashboard"},
	Responses: []apidoc.Response{{Status: http.StatusOK, Description: "The dashboard's page", ContentType: "text/html; charset=utf-8", Type: apidoc.String}}}

// assetsRoute documents /ui/: its content types are those of the embedded
// files.
func assetsRoute() apidoc.Op {
	var types []string
	fs.WalkDir(Static, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if t := mime.TypeByExtension(path.Ext(p)); t != "" && !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		return nil
	})
	slices.Sort(types)
	ok := apidoc.Response{Status: http.StatusOK, Description: "A dashboard file", Type: apidoc.String}
	if len(types) > 0 {
		ok.ContentType, ok.ContentTypes = types[0], types[1:]
	}
	return apidoc.Op{Method: "GET", Path: "/ui/{file...}", Summary: "The dashboard's files (script, style)", Tags: []string{"dashboard"},
		Params: []apidoc.Param{{Name: "file", In: "path", Type: ""}},
		Responses: []apidoc.Response{ok,
			{Status: http.StatusMovedPermanently, Description: "/ui/ and /ui/index.html: the dashboard is at /"},
			{Status: http.StatusNotFound, Description: "No such file", ContentType: "text/plain; charset=utf-8", Type: apidoc.String}}}
}
