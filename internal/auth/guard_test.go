package auth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/auth"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// testClock is a settable clock for a Guard.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a guard on a real database, serving the account routes and a
// probe route that answers the principal and audits a read of P001.
type env struct {
	t     *testing.T
	st    store.Store
	acc   store.Accounts
	g     *auth.Guard
	h     http.Handler
	clock *testClock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// probeAnswer is what the probe route answers.
type probeAnswer struct {
	Email    string   `json:"email"`
	Role     string   `json:"role"`
	Patients []string `json:"patients" nullable:"true"`
	Via      string   `json:"via"`
}

func newEnvOn(t *testing.T, st store.Store, configure func(g *auth.Guard)) *env {
	t.Helper()
	acc, ok := store.AccountsOf(st)
	if !ok {
		t.Fatal("no accounts in the store")
	}
	e := &env{t: t, st: st, acc: acc, clock: &testClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	e.g = &auth.Guard{Accounts: acc, Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if configure != nil {
		configure(e.g)
	}
	mux := apidoc.NewMux(apidoc.Info{Title: "test", Version: "1"})
	e.g.Register(mux)
	probe := func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if err := auth.Audit(r, "probe.read", "P001", "P001S001"); err != nil {
			b, _ := json.Marshal(apidoc.ErrorResponse{Error: err.Error()})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(b)
			return
		}
		b, _ := json.Marshal(probeAnswer{Email: p.Email, Role: string(p.Role), Patients: p.Patients, Via: p.Via})
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
	answers := []apidoc.Response{{Status: 200, Description: "ok", ContentType: "application/json", Type: probeAnswer{}}}
	for _, code := range []int{401, 403, 503} {
		answers = append(answers, apidoc.Response{Status: code, Description: "refused", ContentType: "application/json", Type: apidoc.ErrorResponse{}})
	}
	apidoc.HandleFunc(mux, apidoc.Op{Method: "GET", Path: "/probe", Responses: answers}, e.g.Wrap(probe))
	apidoc.HandleFunc(mux, apidoc.Op{Method: "POST", Path: "/probe", Responses: answers}, e.g.Wrap(probe))
	// Every answer is checked against the OpenAPI document.
	e.h = apidoctest.New(t, mux).Wrap(mux)
	return e
}

func newEnv(t *testing.T, configure func(g *auth.Guard)) *env {
	return newEnvOn(t, storetest.OpenSQLite(t, store.Options{}), configure)
}

// user creates an account with password (hashed) and patients.
func (e *env) user(email, role, password string, patients ...string) *store.User {
	e.t.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.acc.CreateUser(context.Background(), store.NewUser{Email: email, Role: role, PasswordHash: h})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range patients {
		if _, err := e.acc.AssignPatient(context.Background(), u.ID, p); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

type req struct {
	method, path, host, body string
	header                   map[string]string
	cookie                   *http.Cookie
	tls                      bool
}

func (e *env) do(q req) *httptest.ResponseRecorder {
	e.t.Helper()
	if q.method == "" {
		q.method = "GET"
	}
	r := httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
	r.Host = "clinic.example"
	if q.host != "" {
		r.Host = q.host
	}
	if q.tls {
		r.TLS = &tls.ConnectionState{}
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.cookie != nil {
		r.AddCookie(q.cookie)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// login posts email and password and returns the answer.
func (e *env) login(email, password string) *httptest.ResponseRecorder {
	e.t.Helper()
	b, _ := json.Marshal(auth.LoginRequest{Email: email, Password: password})
	return e.do(req{method: "POST", path: "/auth/login", body: string(b), header: map[string]string{"Content-Type": "application/json"}})
}

// session logs in (which must succeed) and returns the cookie and the
// answer.
func (e *env) session(email, password string) (*http.Cookie, auth.MeResponse) {
	e.t.Helper()
	w := e.login(email, password)
	if w.Code != http.StatusOK {
		e.t.Fatalf("login of %s: %d %s", email, w.Code, w.Body)
	}
	var me auth.MeResponse
	if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil {
		e.t.Fatal(err)
	}
	c := sessionCookieOf(e.t, w)
	if c == nil || c.Value == "" {
		e.t.Fatalf("login set no session cookie: %v", w.Header()["Set-Cookie"])
	}
	return c, me
}

func sessionCookieOf(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == auth.SessionCookie {
			return c
		}
	}
	return nil
}

func (e *env) probe(q req) (int, probeAnswer) {
	e.t.Helper()
	q.path = "/probe"
	w := e.do(q)
	var p probeAnswer
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			e.t.Fatalf("probe answer %s: %v", w.Body, err)
		}
	}
	return w.Code, p
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e apidoc.ErrorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Success || e.Error == "" {
		t.Errorf("error answer %q is not {success:false, error}", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer's content type %q", ct)
	}
	return e.Error
}

// TestOpenWithoutAccounts: with no account and no read token every request
// passes as an admin (ViaOpen), credentials or not, and /auth/me says so.
func TestOpenWithoutAccounts(t *testing.T) {
	e := newEnv(t, nil)
	for _, q := range []req{{}, {header: bearer("anything")}, {cookie: &http.Cookie{Name: auth.SessionCookie, Value: "stale"}}, {method: "POST"}} {
		code, p := e.probe(q)
		if code != http.StatusOK || p.Via != auth.ViaOpen || p.Role != "admin" {
			t.Errorf("open service, %+v: %d %+v", q, code, p)
		}
	}
	w := e.do(req{path: "/auth/me"})
	var me auth.MeResponse
	json.Unmarshal(w.Body.Bytes(), &me)
	if w.Code != http.StatusOK || me.Via != auth.ViaOpen || me.Role != auth.Admin || !me.AllPatients || me.Patients == nil {
		t.Errorf("/auth/me of the open service: %d %s", w.Code, w.Body)
	}
}

// TestFirstAccountSwitchesToAccounts: the guard of a running server asks
// for credentials as soon as the first account exists, without a restart.
func TestFirstAccountSwitchesToAccounts(t *testing.T) {
	e := newEnv(t, nil)
	if code, _ := e.probe(req{}); code != http.StatusOK {
		t.Fatalf("open: %d", code)
	}
	e.user("ana@example.org", "admin", "correct horse battery")
	w := e.do(req{path: "/probe"})
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("after the first account, no credentials: %d %v", w.Code, w.Header())
	}
	errorOf(t, w)
	if code, _ := e.probe(req{header: bearer("anything")}); code != http.StatusUnauthorized {
		t.Errorf("after the first account, a made-up bearer token: %d", code)
	}
	if w := e.do(req{path: "/auth/me"}); w.Code != http.StatusUnauthorized {
		t.Errorf("/auth/me without credentials: %d", w.Code)
	}
	c, _ := e.session("ana@example.org", "correct horse battery")
	if code, p := e.probe(req{cookie: c}); code != http.StatusOK || p.Email != "ana@example.org" || p.Via != auth.ViaCookie {
		t.Errorf("signed in: %d %+v", code, p)
	}
}

// TestStaticReadTokenIsAdmin: --read-token is an admin-level static token,
// with and without accounts; without it nothing passes once it is set.
func TestStaticReadTokenIsAdmin(t *testing.T) {
	e := newEnv(t, func(g *auth.Guard) { g.ReadToken = "s3cret-read-token" })
	check := func(when string) {
		t.Helper()
		if code, p := e.probe(req{header: bearer("s3cret-read-token")}); code != http.StatusOK || p.Via != auth.ViaStatic || p.Role != "admin" {
			t.Errorf("%s, the read token: %d %+v", when, code, p)
		}
		for _, q := range []req{{}, {header: bearer("s3cret-read-tokeN")}, {header: bearer("")}, {header: map[string]string{"Authorization": "s3cret-read-token"}}} {
			if code, _ := e.probe(q); code != http.StatusUnauthorized {
				t.Errorf("%s, %+v: %d, want 401", when, q, code)
			}
		}
	}
	check("without accounts")
	e.user("ana@example.org", "admin", "correct horse battery")
	check("with accounts")
	if code, _ := e.probe(req{header: map[string]string{"Authorization": "bearer s3cret-read-token"}}); code != http.StatusOK {
		t.Errorf("the scheme's case: %d", code)
	}
}

// TestLoginCookie: a login answers the user and sets the session cookie
// HttpOnly, SameSite=Lax, Path=/, Secure except over plain HTTP to
// localhost; the session lasts 12 hours.
func TestLoginCookie(t *testing.T) {
	e := newEnv(t, nil)
	e.user("Theo@Example.org", "therapist", "correct horse battery", "P002", "P001")
	for _, tc := range []struct {
		host   string
		tls    bool
		secure bool
	}{
		{"clinic.example", false, true},
		{"clinic.example:8080", false, true},
		{"localhost:8080", false, false},
		{"localhost", false, false},
		{"127.0.0.1:8080", false, false},
		{"[::1]:8080", false, false},
		{"localhost:8443", true, true},
		{"127.0.0.2:8080", false, true},
		{"localhost.clinic.example", false, true},
	} {
		b, _ := json.Marshal(auth.LoginRequest{Email: "theo@example.org", Password: "correct horse battery"})
		w := e.do(req{method: "POST", path: "/auth/login", host: tc.host, tls: tc.tls, body: string(b), header: map[string]string{"Content-Type": "application/json"}})
		if w.Code != http.StatusOK {
			t.Fatalf("login on %s: %d %s", tc.host, w.Code, w.Body)
		}
		c := sessionCookieOf(t, w)
		if c == nil {
			t.Fatalf("no cookie on %s", tc.host)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.secure || c.MaxAge != 12*3600 || len(c.Value) < 40 {
			t.Errorf("cookie on %s (tls %v) = %+v; want HttpOnly, SameSite=Lax, Path=/, Secure %v, Max-Age 43200", tc.host, tc.tls, c, tc.secure)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("login answer cacheable: %q", w.Header().Get("Cache-Control"))
		}
	}
	c, me := e.session("THEO@example.org ", "correct horse battery")
	if me.Email != "theo@example.org" || me.Role != auth.Therapist || !reflect.DeepEqual(me.Patients, []string{"P001", "P002"}) ||
		me.CSRFToken == "" || me.Via != auth.ViaCookie || me.AllPatients || me.ExpiresAt == nil || !me.ExpiresAt.Equal(e.clock.Now().Add(12*time.Hour)) {
		t.Errorf("login answer = %+v", me)
	}
	w := e.do(req{path: "/auth/me", cookie: c})
	var got auth.MeResponse
	json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != http.StatusOK || got.Email != me.Email || got.CSRFToken != me.CSRFToken || !reflect.DeepEqual(got.Patients, me.Patients) {
		t.Errorf("/auth/me = %d %s; want %+v", w.Code, w.Body, me)
	}
}

// TestWrongCredentials: a wrong password and an unknown email get the same
// 401; malformed requests are 4xx.
func TestWrongCredentials(t *testing.T) {
	e := newEnv(t, nil)
	e.user("ana@example.org", "admin", "correct horse battery")
	wrong := e.login("ana@example.org", "wrong horse battery")
	unknown := e.login("nobody@example.org", "correct horse battery")
	if wrong.Code != http.StatusUnauthorized || unknown.Code != http.StatusUnauthorized || wrong.Body.String() != unknown.Body.String() {
		t.Errorf("wrong password: %d %s; unknown email: %d %s; want the same 401", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
	}
	if sessionCookieOf(t, wrong) != nil {
		t.Error("a failed login set a cookie")
	}
	for _, tc := range []struct {
		body, ct string
		code     int
	}{
		{`{"email":"ana@example.org","password":"x"`, "application/json", 400},
		{`[]`, "application/json", 400},
		{`{"email":"ana@example.org"}`, "application/json", 400},
		{`{"email":"","password":"x"}`, "application/json", 400},
		{`{"email":"ana@example.org","password":"x","admin":true}`, "application/json", 400},
		{`email=ana@example.org&password=x`, "application/x-www-form-urlencoded", 415},
		{`{"email":"ana@example.org","password":"x"}`, "text/plain", 415},
		{`{"email":"ana@example.org","password":"` + strings.Repeat("x", 70<<10) + `"}`, "application/json", 413},
		{`{"email":"` + strings.Repeat("x", 300) + `@example.org","password":"x"}`, "application/json", 400},
	} {
		w := e.do(req{method: "POST", path: "/auth/login", body: tc.body, header: map[string]string{"Content-Type": tc.ct}})
		if w.Code != tc.code {
			t.Errorf("login with %.60s (%s): %d %s, want %d", tc.body, tc.ct, w.Code, w.Body, tc.code)
		}
		errorOf(t, w)
	}
	// A password far longer than any real one is just wrong.
	if w := e.login("ana@example.org", strings.Repeat("y", 4096)); w.Code != http.StatusUnauthorized {
		t.Errorf("a 4 KiB password: %d", w.Code)
	}
}

// TestThrottle: after 5 failures in a row every attempt for the email,
// the right password too, answers 429 with Retry-After until the cool-down
// ends; then the right password works and the count starts again. Unknown
// emails are throttled alike (no way to tell them apart).
func TestThrottle(t *testing.T) {
	e := newEnv(t, nil)
	e.user("ana@example.org", "admin", "correct horse battery")
	for i := range 5 {
		if w := e.login("ana@example.org", fmt.Sprintf("wrong %d", i)); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	for _, pw := range []string{"correct horse battery", "wrong again"} {
		w := e.login("ANA@example.org", pw)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("after 5 failures, %q: %d %s; want 429", pw, w.Code, w.Body)
		}
		if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 15*60 {
			t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
		}
		errorOf(t, w)
	}
	// Another email is not affected.
	e.user("theo@example.org", "therapist", "another good password")
	if w := e.login("theo@example.org", "another good password"); w.Code != http.StatusOK {
		t.Errorf("another account during the lock: %d", w.Code)
	}
	e.clock.Add(14 * time.Minute)
	if w := e.login("ana@example.org", "correct horse battery"); w.Code != http.StatusTooManyRequests {
		t.Errorf("before the cool-down ends: %d", w.Code)
	}
	e.clock.Add(time.Minute + time.Second)
	if w := e.login("ana@example.org", "correct horse battery"); w.Code != http.StatusOK {
		t.Fatalf("after the cool-down, the right password: %d %s", w.Code, w.Body)
	}
	// A success clears the count: 4 failures do not lock.
	for range 4 {
		e.login("ana@example.org", "wrong")
	}
	if w := e.login("ana@example.org", "correct horse battery"); w.Code != http.StatusOK {
		t.Errorf("after 4 failures: %d", w.Code)
	}
	for range 5 {
		e.login("ghost@example.org", "whatever")
	}
	if w := e.login("ghost@example.org", "whatever"); w.Code != http.StatusTooManyRequests {
		t.Errorf("an unknown email after 5 failures: %d, want 429 like an account", w.Code)
	}
}

// TestThrottleSharedByReplicas: two guards (two replicas, each with its
// own connections) on one database count the same email's failures
// together, on SQLite and PostgreSQL.
func TestThrottleSharedByReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) (store.Store, store.Store)
	}{
		{"SQLite", func(t *testing.T) (store.Store, store.Store) {
			a := storetest.OpenSQLite(t, store.Options{})
			b, err := store.OpenSQLite(context.Background(), a.Path(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return a, b
		}},
		{"Postgres", func(t *testing.T) (store.Store, store.Store) {
			u := storetest.NewPostgresDatabase(t)
			var ss [2]store.Store
			for i := range ss {
				s, err := store.OpenPostgres(context.Background(), u, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				ss[i] = s
			}
			return ss[0], ss[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, sb := tc.open(t)
			a, b := newEnvOn(t, sa, nil), newEnvOn(t, sb, nil)
			a.user("ana@example.org", "admin", "correct horse battery")
			var wg sync.WaitGroup
			for i := range 5 {
				e := []*env{a, b}[i%2]
				wg.Go(func() { e.login("ana@example.org", "wrong") })
			}
			wg.Wait()
			for _, e := range []*env{a, b} {
				if w := e.login("ana@example.org", "correct horse battery"); w.Code != http.StatusTooManyRequests {
					t.Errorf("after 5 failures spread over two replicas: %d, want 429", w.Code)
				}
			}
			// A session made on one replica works on the other.
			a.clock.Add(16 * time.Minute)
			b.clock.Add(16 * time.Minute)
			c, _ := a.session("ana@example.org", "correct horse battery")
			if code, p := b.probe(req{cookie: c}); code != http.StatusOK || p.Email != "ana@example.org" {
				t.Errorf("a session of one replica on the other: %d %+v", code, p)
			}
		})
	}
}

// TestCSRF: a cookie-authenticated request that changes state needs the
// session's X-CSRF-Token (missing or wrong: 403); reads do not; bearer
// tokens do not.
func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("ana@example.org", "admin", "correct horse battery")
	c, me := e.session("ana@example.org", "correct horse battery")
	other, _ := e.session("ana@example.org", "correct horse battery")
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"GET without token", "GET", nil, 200},
		{"POST without token", "POST", nil, 403},
		{"POST with a wrong token", "POST", map[string]string{auth.CSRFHeader: "wrong"}, 403},
		{"POST with an empty token", "POST", map[string]string{auth.CSRFHeader: ""}, 403},
		{"POST with the right token", "POST", map[string]string{auth.CSRFHeader: me.CSRFToken}, 200},
	} {
		w := e.do(req{method: tc.method, path: "/probe", cookie: c, header: tc.header})
		if w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.want)
		}
		if tc.want == 403 {
			errorOf(t, w)
		}
	}
	// Another session's token does not do.
	var otherMe auth.MeResponse
	json.Unmarshal(e.do(req{path: "/auth/me", cookie: other}).Body.Bytes(), &otherMe)
	if otherMe.CSRFToken == me.CSRFToken {
		t.Fatal("two sessions share a CSRF token")
	}
	if w := e.do(req{method: "POST", path: "/probe", cookie: c, header: map[string]string{auth.CSRFHeader: otherMe.CSRFToken}}); w.Code != 403 {
		t.Errorf("POST with another session's token: %d", w.Code)
	}
	tok, hash := auth.NewAPIToken()
	if _, err := e.acc.CreateAPIToken(context.Background(), store.NewAPIToken{UserID: u.ID, Name: "script", TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.probe(req{method: "POST", header: bearer(tok)}); code != 200 {
		t.Errorf("POST with an API token and no CSRF token: %d", code)
	}
}

// TestLogout: logging out needs the CSRF token, deletes the session (its
// cookie no longer works, even kept by someone) and clears the cookie.
func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	e.user("ana@example.org", "admin", "correct horse battery")
	c, me := e.session("ana@example.org", "correct horse battery")
	if w := e.do(req{method: "POST", path: "/auth/logout", cookie: c}); w.Code != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d", w.Code)
	}
	if code, _ := e.probe(req{cookie: c}); code != 200 {
		t.Fatalf("session after a refused logout: %d", code)
	}
	w := e.do(req{method: "POST", path: "/auth/logout", cookie: c, header: map[string]string{auth.CSRFHeader: me.CSRFToken}})
	if w.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if cleared := sessionCookieOf(t, w); cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("logout's cookie = %+v, want it cleared", cleared)
	}
	if code, _ := e.probe(req{cookie: c}); code != http.StatusUnauthorized {
		t.Errorf("the cookie after logout: %d, want 401", code)
	}
	// Logging out again (or without a session) only clears the cookie.
	if w := e.do(req{method: "POST", path: "/auth/logout", cookie: c}); w.Code != http.StatusOK {
		t.Errorf("logout of an ended session: %d", w.Code)
	}
	if w := e.do(req{method: "POST", path: "/auth/logout"}); w.Code != http.StatusOK {
		t.Errorf("logout without a cookie: %d", w.Code)
	}
}

// TestExpiredSession: a session ends 12 hours after its login, used or
// not; its cookie then gets 401 and is cleared.
func TestExpiredSession(t *testing.T) {
	e := newEnv(t, nil)
	e.user("ana@example.org", "admin", "correct horse battery")
	c, _ := e.session("ana@example.org", "correct horse battery")
	for range 11 {
		e.clock.Add(time.Hour)
		if code, _ := e.probe(req{cookie: c}); code != 200 {
			t.Fatalf("session at %v: %d", e.clock.Now(), code)
		}
	}
	e.clock.Add(time.Hour)
	w := e.do(req{path: "/probe", cookie: c})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("session after 12 hours: %d", w.Code)
	}
	if cleared := sessionCookieOf(t, w); cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("an expired session's cookie is not cleared: %v", w.Header()["Set-Cookie"])
	}
	// A cookie the database never knew is refused alike.
	if code, _ := e.probe(req{cookie: &http.Cookie{Name: auth.SessionCookie, Value: "made-up"}}); code != http.StatusUnauthorized {
		t.Errorf("a made-up cookie: %d", code)
	}
}

// TestDisabledUser: disabling a user stops their sessions, API tokens and
// JWTs at once and refuses their logins (with the usual 401).
func TestDisabledUser(t *testing.T) {
	ids := fakeJWT{"a.theo.jwt": {Email: "theo@example.org"}}
	e := newEnv(t, func(g *auth.Guard) { g.JWT = ids })
	u := e.user("theo@example.org", "therapist", "correct horse battery", "P001")
	c, _ := e.session("theo@example.org", "correct horse battery")
	tok, hash := auth.NewAPIToken()
	if _, err := e.acc.CreateAPIToken(context.Background(), store.NewAPIToken{UserID: u.ID, Name: "script", TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	creds := []req{{cookie: c}, {header: bearer(tok)}, {header: bearer("a.theo.jwt")}}
	for _, q := range creds {
		if code, _ := e.probe(q); code != 200 {
			t.Fatalf("%+v before disabling: %d", q, code)
		}
	}
	if err := e.acc.SetUserDisabled(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, q := range creds {
		if code, _ := e.probe(q); code != http.StatusUnauthorized {
			t.Errorf("%+v after disabling: %d, want 401", q, code)
		}
	}
	w := e.login("theo@example.org", "correct horse battery")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "wrong email or password") {
		t.Errorf("a disabled user's login: %d %s", w.Code, w.Body)
	}
}

// fakeJWT maps raw tokens to identities; "down" is an unreachable issuer.
type fakeJWT map[string]auth.Identity

func (f fakeJWT) Verify(_ context.Context, raw string) (auth.Identity, error) {
	if raw == "x.down.x" {
		return auth.Identity{}, fmt.Errorf("discovery: %w", auth.ErrUnavailable)
	}
	id, ok := f[raw]
	if !ok {
		return auth.Identity{}, errors.New("jwt: signature is invalid")
	}
	return id, nil
}

// TestJWTUsers: a verified JWT acts as the user its email names (any
// case), never creates one; a refused token is 401, an unreachable
// identity provider 503.
func TestJWTUsers(t *testing.T) {
	ids := fakeJWT{"a.ana.jwt": {Email: "ANA@example.org"}, "a.ghost.jwt": {Email: "ghost@example.org"}, "a.nomail.jwt": {Subject: "x"}}
	e := newEnv(t, func(g *auth.Guard) { g.JWT = ids })
	e.user("ana@example.org", "admin", "correct horse battery")
	if code, p := e.probe(req{header: bearer("a.ana.jwt")}); code != 200 || p.Email != "ana@example.org" || p.Via != auth.ViaJWT {
		t.Errorf("ana's JWT: %d %+v", code, p)
	}
	for _, tok := range []string{"a.ghost.jwt", "a.nomail.jwt", "a.forged.jwt", "not-a-jwt"} {
		if code, _ := e.probe(req{header: bearer(tok)}); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tok, code)
		}
	}
	if _, err := e.acc.GetUserByEmail(context.Background(), "ghost@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a JWT of an unknown email made a user: %v", err)
	}
	if w := e.do(req{path: "/probe", header: bearer("x.down.x")}); w.Code != http.StatusServiceUnavailable {
		t.Errorf("identity provider down: %d", w.Code)
	}
}

// TestAPITokens: an API token acts as its user until revoked; the
// database holds only hashes (no plain token, cookie or password in any
// column of any table).
func TestAPITokens(t *testing.T) {
	e := newEnv(t, nil)
	const password = "correct horse battery"
	u := e.user("theo@example.org", "therapist", password, "P003")
	tok, hash := auth.NewAPIToken()
	if !strings.HasPrefix(tok, auth.APITokenPrefix) || hash != auth.TokenHash(tok) || strings.Contains(hash, tok) {
		t.Fatalf("token %q, hash %q", tok, hash)
	}
	if _, err := e.acc.CreateAPIToken(context.Background(), store.NewAPIToken{UserID: u.ID, Name: "nightly", TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	if code, p := e.probe(req{header: bearer(tok)}); code != 200 || p.Email != "theo@example.org" || p.Via != auth.ViaToken ||
		!reflect.DeepEqual(p.Patients, []string{"P003"}) {
		t.Errorf("API token: %d %+v", code, p)
	}
	if code, _ := e.probe(req{header: bearer(tok + "x")}); code != http.StatusUnauthorized {
		t.Errorf("an altered token: %d", code)
	}
	c, _ := e.session("theo@example.org", password)
	assertNoSecret(t, e.st, password, tok, c.Value)
	if err := e.acc.RevokeAPIToken(context.Background(), u.ID, "nightly"); err != nil {
		t.Fatal(err)
	}
	if code, _ := e.probe(req{header: bearer(tok)}); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", code)
	}
}

// assertNoSecret scans every column of every table of the database for
// any of secrets.
func assertNoSecret(t *testing.T, st store.Store, secrets ...string) {
	t.Helper()
	db := storetest.DB(st)
	rs, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rs.Next() {
		var n string
		rs.Scan(&n)
		tables = append(tables, n)
	}
	rs.Close()
	scanned := 0
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				s := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					s = string(b)
				}
				scanned++
				for _, secret := range secrets {
					if secret != "" && strings.Contains(s, secret) {
						t.Errorf("%s.%s holds a secret in plain", table, cols[i])
					}
				}
			}
		}
		rows.Close()
	}
	if scanned < 10 {
		t.Fatalf("scanned only %d values", scanned)
	}
}

// TestTherapistPatients: a therapist's principal carries their patients,
// sorted, read on every request (an assignment made while signed in counts
// at once); an admin's carries none (all).
func TestTherapistPatients(t *testing.T) {
	e := newEnv(t, nil)
	th := e.user("theo@example.org", "therapist", "correct horse battery", "P010", "P002")
	e.user("ana@example.org", "admin", "another good password")
	c, _ := e.session("theo@example.org", "correct horse battery")
	if code, p := e.probe(req{cookie: c}); code != 200 || p.Role != "therapist" || !reflect.DeepEqual(p.Patients, []string{"P002", "P010"}) {
		t.Errorf("therapist: %d %+v", code, p)
	}
	if _, err := e.acc.AssignPatient(context.Background(), th.ID, "P001"); err != nil {
		t.Fatal(err)
	}
	if _, p := e.probe(req{cookie: c}); !reflect.DeepEqual(p.Patients, []string{"P001", "P002", "P010"}) {
		t.Errorf("after an assignment: %+v", p)
	}
	ca, _ := e.session("ana@example.org", "another good password")
	if code, p := e.probe(req{cookie: ca}); code != 200 || p.Role != "admin" || len(p.Patients) != 0 {
		t.Errorf("admin: %d %+v", code, p)
	}
}

// TestAuditTrail: guarded handlers' Audit calls and logins land in the
// trail, which GET /audit lists newest first with filters, for admins
// only (403 for a therapist).
func TestAuditTrail(t *testing.T) {
	e := newEnv(t, func(g *auth.Guard) { g.ReadToken = "s3cret-read-token" })
	e.user("ana@example.org", "admin", "correct horse battery")
	e.user("theo@example.org", "therapist", "another good password", "P001")
	ca, _ := e.session("ana@example.org", "correct horse battery")
	e.clock.Add(time.Hour)
	ct, _ := e.session("theo@example.org", "another good password")
	e.login("theo@example.org", "wrong")
	e.login("nobody@example.org", "wrong")
	e.probe(req{cookie: ct})
	e.probe(req{header: bearer("s3cret-read-token")})

	list := func(c *http.Cookie, query string) (int, auth.AuditResponse) {
		t.Helper()
		w := e.do(req{path: "/audit" + query, cookie: c})
		var a auth.AuditResponse
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
		}
		return w.Code, a
	}
	code, all := list(ca, "")
	if code != 200 {
		t.Fatalf("GET /audit: %d", code)
	}
	var got []string
	for _, en := range all.Entries {
		got = append(got, en.User+" "+en.Action+" "+en.PatientCode+" "+en.SessionID)
		if en.IP != "192.0.2.1" || en.At.IsZero() {
			t.Errorf("entry %+v: want the client's address and a time", en)
		}
	}
	want := []string{"static probe.read P001 P001S001", "theo@example.org probe.read P001 P001S001", " auth.login_failed  ",
		"theo@example.org auth.login_failed  ", "theo@example.org auth.login  ", "ana@example.org auth.login  "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit trail:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?patient=P001", 2},
		{"?user=THEO@example.org", 3},
		{"?user=static", 1},
		{"?patient=P001&user=theo@example.org", 1},
		{"?from=2026-03-01&to=2026-03-01", 6},
		{"?to=2026-02-28", 0},
		{"?from=2026-03-01T09:30:00Z", 5},
		{"?to=2026-03-01T09:00:00Z", 1},
		{"?limit=2", 2},
	} {
		if code, a := list(ca, tc.query); code != 200 || len(a.Entries) != tc.want {
			t.Errorf("GET /audit%s: %d, %d entries; want %d", tc.query, code, len(a.Entries), tc.want)
		}
	}
	_, p1 := list(ca, "?limit=4")
	if p1.NextCursor == nil {
		t.Fatal("no next cursor")
	}
	if _, p2 := list(ca, "?limit=4&cursor="+*p1.NextCursor); len(p2.Entries) != 2 || p2.NextCursor != nil {
		t.Errorf("second page: %+v", p2)
	}
	for _, q := range []string{"?from=yesterday", "?to=2026-13-01", "?limit=0", "?limit=1001", "?cursor=junk", "?from=2026-03-02&to=2026-03-01"} {
		if code, _ := list(ca, q); code != http.StatusBadRequest {
			t.Errorf("GET /audit%s: %d, want 400", q, code)
		}
	}
	if code, _ := list(ct, ""); code != http.StatusForbidden {
		t.Errorf("GET /audit as a therapist: %d, want 403", code)
	}
	if code, _ := list(nil, ""); code != http.StatusUnauthorized {
		t.Errorf("GET /audit without credentials: %d, want 401", code)
	}
	if w := e.do(req{path: "/audit", header: bearer("s3cret-read-token")}); w.Code != 200 {
		t.Errorf("GET /audit with the read token: %d", w.Code)
	}
}

// TestLogsCarryNoSecrets: the logs of failed and successful logins, of
// tokens refused and of sessions carry no password, token or cookie.
func TestLogsCarryNoSecrets(t *testing.T) {
	ids := fakeJWT{}
	e := newEnv(t, func(g *auth.Guard) { g.JWT = ids })
	const password = "correct horse battery"
	u := e.user("ana@example.org", "admin", password)
	for i := range 6 {
		e.login("ana@example.org", password+" typo"+strconv.Itoa(i))
	}
	e.login("correct horse battery staple", "x")
	e.clock.Add(time.Hour)
	c, me := e.session("ana@example.org", password)
	tok, hash := auth.NewAPIToken()
	e.acc.CreateAPIToken(context.Background(), store.NewAPIToken{UserID: u.ID, Name: "n", TokenHash: hash})
	e.probe(req{header: bearer(tok)})
	e.probe(req{header: bearer(tok + "x")})
	e.probe(req{header: bearer("header.payload.signature")})
	e.probe(req{cookie: &http.Cookie{Name: auth.SessionCookie, Value: c.Value + "x"}})
	e.do(req{method: "POST", path: "/probe", cookie: c, header: map[string]string{auth.CSRFHeader: "wrong-csrf"}})
	logs := e.logs.String()
	if !strings.Contains(logs, "login refused") || !strings.Contains(logs, "locked") {
		t.Fatalf("the logs do not show the refused logins:\n%s", logs)
	}
	for _, secret := range []string{password, "typo", "staple", tok, c.Value, me.CSRFToken, "wrong-csrf", "header.payload.signature"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs carry %q:\n%s", secret, logs)
		}
	}
}

// TestDatabaseDown: with the database closed the guard answers 503, never
// 500 or an open door.
func TestDatabaseDown(t *testing.T) {
	e := newEnv(t, nil)
	e.st.Close()
	for _, q := range []req{{}, {header: bearer("emgd_x")}, {cookie: &http.Cookie{Name: auth.SessionCookie, Value: "x"}}} {
		w := e.do(q.with("/probe"))
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%+v with the database down: %d %s", q, w.Code, w.Body)
		}
	}
	if w := e.login("ana@example.org", "whatever"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("login with the database down: %d", w.Code)
	}
}

func (q req) with(path string) req { q.path = path; return q }
