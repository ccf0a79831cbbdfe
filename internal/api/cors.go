package api

import (
	"net/http"
	"strings"
)

// CORS (--cors-origins) answers as the old backend's Starlette
// CORSMiddleware did with its settings (credentials allowed, methods GET,
// POST, PUT, DELETE, OPTIONS, every header, max age 600 s), for the
// configured origins only:
//
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method)
//     is answered before routing, whatever the path: 200 "OK" echoing the
//     allowed origin and the requested headers, or 400 "Disallowed CORS
//     origin" (or "method", or both) without Access-Control-Allow-Origin;
//   - any other request from an allowed origin has its answer carry
//     Access-Control-Allow-Origin (the origin), Access-Control-Allow-Credentials
//     and Vary: Origin; from another origin, none of them.
//
// Without origins (the default) nothing is added and OPTIONS reaches the
// routes like any method. "*" allows every origin (echoed, as credentials
// are allowed).
type cors struct {
	any     bool
	origins map[string]bool
}

// corsMethods are the old backend's CORS_METHODS, in its order.
var corsMethods = []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"}

const corsMaxAge = "600"

// newCORS is the policy for these origins (blank ones and a trailing "/"
// dropped), nil when there are none.
func newCORS(origins []string) *cors {
	c := &cors{origins: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		switch o {
		case "":
		case "*":
			c.any = true
		default:
			c.origins[o] = true
		}
	}
	if !c.any && len(c.origins) == 0 {
		return nil
	}
	return c
}

func (c *cors) allowed(origin string) bool { return c.any || c.origins[origin] }

// preflight reports whether r is a CORS preflight.
func preflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// answerPreflight answers a preflight.
func (c *cors) answerPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Set("Access-Control-Allow-Credentials", "true")
	var failures []string
	if c.allowed(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
	} else {
		failures = append(failures, "origin")
	}
	method := r.Header.Get("Access-Control-Request-Method")
	ok := false
	for _, m := range corsMethods {
		ok = ok || m == method
	}
	if !ok {
		failures = append(failures, "method")
	}
	if hd := r.Header.Values("Access-Control-Request-Headers"); len(hd) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(hd, ", ")) // every header is allowed
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if len(failures) > 0 {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("Disallowed CORS " + strings.Join(failures, ", ")))
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("OK"))
}

// annotate adds the headers of an answer to an allowed origin's request.
func (c *cors) annotate(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !c.allowed(origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	// The settings version a PUT gives back in If-Match, readable by
	// the script.
	h.Set("Access-Control-Expose-Headers", "ETag")
	h.Add("Vary", "Origin")
}
