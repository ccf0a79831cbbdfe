// Package web is the clinicians' dashboard: static files written by hand
// (HTML, CSS and JavaScript, no build step and nothing fetched from
// elsewhere), embedded in the binary. The page reads the JSON API (sessions,
// signals, upload) with the read token when one is configured; the files
// themselves hold no data and need none.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Static is the dashboard's files (index.html, app.js, style.css).
var Static, _ = fs.Sub(files, "static")

// Register serves the dashboard at / and its files under /ui/.
func Register(mux *http.ServeMux) {
	index, err := fs.ReadFile(Static, "index.html")
	if err != nil {
		panic("web: index.html not embedded: " + err.Error())
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(index)
	})
	assets := http.StripPrefix("/ui/", http.FileServerFS(Static))
	mux.HandleFunc("GET /ui/{file...}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("file") == "" || r.PathValue("file") == "index.html" {
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		assets.ServeHTTP(w, r)
	})
}
