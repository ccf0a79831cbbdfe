package auth_test

import (
	"net/http"
	"testing"

	"emgd/internal/auth"
)

// TestSignInHeader: a 401 names the login route in X-Emgd-Sign-In once the
// database holds accounts (the dashboard then shows its sign-in form), and
// not while only the read token is accepted (the dashboard then asks for
// that token).
func TestSignInHeader(t *testing.T) {
	e := newEnv(t, func(g *auth.Guard) { g.ReadToken = "s3cret-read-token" })
	for _, path := range []string{"/probe", "/auth/me"} {
		w := e.do(req{path: path})
		if w.Code != http.StatusUnauthorized || w.Header().Get(auth.SignInHeader) != "" {
			t.Errorf("read token only, %s: %d %s=%q", path, w.Code, auth.SignInHeader, w.Header().Get(auth.SignInHeader))
		}
	}
	e.user("ana@example.org", "admin", "correct horse battery")
	for _, q := range []req{{path: "/probe"}, {path: "/auth/me"}, {path: "/probe", header: bearer("wrong")},
		{path: "/probe", cookie: &http.Cookie{Name: auth.SessionCookie, Value: "ended"}}} {
		w := e.do(q)
		if w.Code != http.StatusUnauthorized || w.Header().Get(auth.SignInHeader) != "/auth/login" {
			t.Errorf("accounts, %+v: %d %s=%q", q, w.Code, auth.SignInHeader, w.Header().Get(auth.SignInHeader))
		}
	}
	// A wrong password is no missing sign-in: the form stays as it is.
	if w := e.login("ana@example.org", "wrong password!"); w.Code != http.StatusUnauthorized || w.Header().Get(auth.SignInHeader) != "" {
		t.Errorf("wrong password: %d %q", w.Code, w.Header().Get(auth.SignInHeader))
	}
	if code, _ := e.probe(req{header: bearer("s3cret-read-token")}); code != http.StatusOK {
		t.Errorf("the read token with accounts: %d", code)
	}
}
