package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/auth"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// TestServeAccounts: serve is open while the database holds no account;
// an account created beside the running server (as emgd users add does)
// switches it to accounts: reads need credentials (a login's cookie, its
// CSRF token for changes), the probes, metrics, API document and dashboard
// page stay public, and an unauthenticated webhook still ingests but
// answers no session data.
func TestServeAccounts(t *testing.T) {
	dir := t.TempDir()
	key := "P009/Ghostly_Emg_20230321_17-23-09-0409.c3d"
	path := filepath.Join(dir, "storage", "c3d-examples", filepath.FromSlash(key))
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, testrec.Ghostly(testrec.Options{Seed: 9}), 0o644)
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir})
	base := "http://" + addr
	webhook := func(etag string) (int, map[string]any) {
		return apptest.PostJSON(t, base+"/webhooks/storage/c3d-upload", []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"`+key+`","metadata":{"eTag":"\"`+etag+`\"","size":0}}}`))
	}
	get := func(c *http.Client, url, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	plain := http.DefaultClient
	if code, out := webhook("v1"); code != 200 || out["session_code"] != "P009S001" {
		t.Fatalf("webhook: %d %v", code, out)
	}
	if code := get(plain, "/sessions", ""); code != 200 {
		t.Fatalf("open service: %d", code)
	}

	// Accounts are made beside the running server, on its database.
	st, err := store.Open(context.Background(), "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, _ := store.AccountsOf(st)
	hash, _ := auth.HashPassword("correct horse battery")
	if _, err := acc.CreateUser(context.Background(), store.NewUser{Email: "ana@example.org", Role: "admin", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}

	for _, u := range []string{"/sessions", "/sessions/P009S001", "/patients", "/auth/me", "/audit", "/signals/jit/P009S001/channels"} {
		if code := get(plain, u, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials after the first account: %d, want 401", u, code)
		}
	}
	for _, u := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json", "/"} {
		if code := get(plain, u, ""); code != 200 {
			t.Errorf("GET %s (public) with accounts: %d", u, code)
		}
	}
	if code := get(plain, "/sessions/P009S001", "made-up-token"); code != http.StatusUnauthorized {
		t.Errorf("a made-up bearer token with accounts: %d", code)
	}
	code, out := webhook("v2")
	if code != 200 || out["session_code"] != nil || out["session_id"] != nil || out["metadata"] != nil {
		t.Errorf("unauthenticated webhook with accounts: %d %v; want accepted without session data", code, out)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Post(base+"/auth/login", "application/json", strings.NewReader(`{"email":"ana@example.org","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	var me auth.MeResponse
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me.Email != "ana@example.org" || me.CSRFToken == "" {
		t.Fatalf("login: %d %+v", resp.StatusCode, me)
	}
	var secure bool
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie {
			secure = c.Secure
		}
	}
	if secure {
		t.Error("the session cookie is Secure on plain-HTTP 127.0.0.1: the browser would never send it back")
	}
	for _, u := range []string{"/sessions", "/sessions/P009S001", "/auth/me", "/audit"} {
		if code := get(browser, u, ""); code != 200 {
			t.Errorf("GET %s signed in: %d", u, code)
		}
	}
	// A change through the cookie needs the CSRF token.
	recalc := func(csrf string) int {
		req, _ := http.NewRequest("POST", base+"/sessions/P009S001/recalc", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set(auth.CSRFHeader, csrf)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := recalc(""); code != http.StatusForbidden {
		t.Errorf("recalc through the cookie without the CSRF token: %d, want 403", code)
	}
	if code := recalc(me.CSRFToken); code != http.StatusAccepted && code != http.StatusConflict {
		t.Errorf("recalc through the cookie with the CSRF token: %d", code)
	}
	page, err := acc.ListAudit(context.Background(), store.AuditFilter{User: "ana@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range page.Entries {
		// The guard's own entries name the account that signed in as
		// their user (a change made with emgd users names it as target).
		found = found || e.Action == "auth.login" && e.User == "ana@example.org" && e.Target == ""
	}
	if !found {
		t.Errorf("no auth.login entry of ana in the audit trail: %+v", page.Entries)
	}
}

// TestServeJWT: with --jwt-secret, a Supabase-style HS256 token acts as the
// account its email names; a token signed with another secret, expired,
// unsigned (alg none), for another audience or naming no account is 401,
// and so is a disabled account's.
func TestServeJWT(t *testing.T) {
	const secret = "super-secret-jwt-token-with-at-least-32-characters-long"
	dir := t.TempDir()
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir, JWTSecret: secret})
	base := "http://" + addr
	st, err := store.Open(context.Background(), "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acc, _ := store.AccountsOf(st)
	u, err := acc.CreateUser(context.Background(), store.NewUser{Email: "theo@example.org", Role: "therapist"})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(email string, exp time.Duration, aud string) jwt.MapClaims {
		return jwt.MapClaims{"sub": "6f1c", "email": email, "aud": aud, "role": "authenticated",
			"iat": time.Now().Unix(), "exp": time.Now().Add(exp).Unix()}
	}
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	me := func(tok string) (int, auth.MeResponse) {
		req, _ := http.NewRequest("GET", base+"/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m auth.MeResponse
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	good := sign(jwt.SigningMethodHS256, []byte(secret), claims("Theo@example.org", time.Hour, "authenticated"))
	if code, m := me(good); code != 200 || m.Email != "theo@example.org" || m.Via != auth.ViaJWT || m.Role != auth.Therapist {
		t.Errorf("a valid HS256 token: %d %+v", code, m)
	}
	for name, tok := range map[string]string{
		"another secret":   sign(jwt.SigningMethodHS256, []byte(secret+"x"), claims("theo@example.org", time.Hour, "authenticated")),
		"expired":          sign(jwt.SigningMethodHS256, []byte(secret), claims("theo@example.org", -time.Hour, "authenticated")),
		"alg none":         sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("theo@example.org", time.Hour, "authenticated")),
		"another audience": sign(jwt.SigningMethodHS256, []byte(secret), claims("theo@example.org", time.Hour, "anon")),
		"no account":       sign(jwt.SigningMethodHS256, []byte(secret), claims("ghost@example.org", time.Hour, "authenticated")),
		"tampered payload": good[:strings.Index(good, ".")+1] + strings.Repeat("A", 10) + good[strings.LastIndex(good, "."):],
	} {
		if code, _ := me(tok); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if _, err := acc.GetUserByEmail(context.Background(), "ghost@example.org"); err == nil {
		t.Error("a token naming no account created one")
	}
	if err := acc.SetUserDisabled(context.Background(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := me(good); code != http.StatusUnauthorized {
		t.Errorf("a disabled account's token: %d, want 401", code)
	}
}
