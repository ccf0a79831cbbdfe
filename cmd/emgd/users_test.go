package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/auth"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// withStdin runs fn with input as emgd's standard input.
func withStdin(t *testing.T, input string, fn func()) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	fn()
}

var generatedPassword = regexp.MustCompile(`(?m)^password: (\S{20})$`)

// TestUsersTokensAuditCommands: emgd users, tokens and audit on a data
// folder: accounts with a generated or piped password (hashed), patients,
// listing, disabling, tokens shown once and stored hashed, the audit trail
// one line per entry; bad input exits 2 with a message, a failed change 1.
func TestUsersTokensAuditCommands(t *testing.T) {
	dir := t.TempDir()
	db := "--data-dir=" + dir
	if code, out, _ := runCLI("users", "list", db); code != 0 || !strings.Contains(out, "no accounts") {
		t.Errorf("users list of a fresh database: %d %q", code, out)
	}
	code, out, stderr := runCLI("users", "add", db, "--email", "Ana@Example.org", "--role", "admin")
	m := generatedPassword.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "added ana@example.org (admin)") {
		t.Fatalf("users add: %d %q %q", code, out, stderr)
	}
	anaPassword := m[1]
	withStdin(t, "a piped password\n", func() {
		code, out, stderr = runCLI("users", "add", db, "--email", "theo@example.org", "--role", "therapist", "--password-stdin")
	})
	if code != 0 || strings.Contains(out, "password:") {
		t.Fatalf("users add --password-stdin: %d %q %q", code, out, stderr)
	}
	if code, _, _ := runCLI("users", "add", db, "--email", "jwt@example.org", "--role", "therapist", "--no-password"); code != 0 {
		t.Errorf("users add --no-password: %d", code)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"users", "add", db, "--email", "ANA@example.org", "--role", "therapist"}, 1, "already exists"},
		{[]string{"users", "add", db, "--email", "x@example.org", "--role", "root"}, 2, "--role"},
		{[]string{"users", "add", db, "--role", "admin"}, 2, "--email is required"},
		{[]string{"users", "add", db, "--email", "not-an-email", "--role", "admin"}, 2, "not an email"},
		{[]string{"users", "add", db, "--email", "y@example.org", "--role", "admin", "--password-stdin", "--no-password"}, 2, "exclude"},
		{[]string{"users", "assign", db, "--email", "theo@example.org", "--patient", "bob"}, 2, "patient code"},
		{[]string{"users", "assign", db, "--email", "nobody@example.org", "--patient", "P001"}, 1, "no account"},
		{[]string{"users", "disable", db, "--email", "nobody@example.org"}, 1, "no account"},
		{[]string{"users", "frobnicate"}, 2, "unknown subcommand"},
		{[]string{"users"}, 2, ""},
		{[]string{"tokens", "create", db, "--email", "theo@example.org"}, 2, "--name is required"},
		{[]string{"tokens", "revoke", db, "--email", "theo@example.org", "--name", "none"}, 1, "no token"},
		{[]string{"audit", db, "--from", "yesterday"}, 2, "--from"},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d %q; want %d with %q", tc.args[:2], code, stderr, tc.code, tc.msg)
		}
	}
	withStdin(t, "", func() {
		if code, _, stderr := runCLI("users", "add", db, "--email", "z@example.org", "--role", "admin", "--password-stdin"); code != 2 || !strings.Contains(stderr, "no password") {
			t.Errorf("--password-stdin with nothing on stdin: %d %q", code, stderr)
		}
	})
	withStdin(t, "short\n", func() {
		if code, _, stderr := runCLI("users", "add", db, "--email", "z@example.org", "--role", "admin", "--password-stdin"); code != 2 || !strings.Contains(stderr, "password") {
			t.Errorf("a too short password: %d %q", code, stderr)
		}
	})
	for _, p := range []string{"P002", "P001", "P001"} {
		if code, _, stderr := runCLI("users", "assign", db, "--email", "theo@example.org", "--patient", p); code != 0 {
			t.Fatalf("users assign %s: %d %s", p, code, stderr)
		}
	}
	if code, out, _ := runCLI("users", "list", db); code != 0 || !strings.Contains(out, "ana@example.org admin all patients") ||
		!strings.Contains(out, "theo@example.org therapist patients: P001,P002") {
		t.Errorf("users list: %d\n%s", code, out)
	}
	if code, _, _ := runCLI("users", "disable", db, "--email", "jwt@example.org"); code != 0 {
		t.Error("users disable failed")
	}
	code, out, _ = runCLI("users", "list", db, "--json")
	var users []userJSON
	if err := json.Unmarshal([]byte(out), &users); code != 0 || err != nil || len(users) != 3 || !users[1].Disabled || users[1].Password ||
		users[2].Email != "theo@example.org" || !users[2].Password || strings.Join(users[2].Patients, ",") != "P001,P002" {
		t.Errorf("users list --json: %d %v\n%s", code, err, out)
	}
	code, tok, stderr := runCLI("tokens", "create", db, "--email", "theo@example.org", "--name", "nightly")
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.HasPrefix(tok, auth.APITokenPrefix) || !strings.Contains(stderr, "shown once") {
		t.Fatalf("tokens create: %d %q %q", code, tok, stderr)
	}
	if code, _, stderr := runCLI("tokens", "create", db, "--email", "theo@example.org", "--name", "nightly"); code != 1 || !strings.Contains(stderr, "already") {
		t.Errorf("a second token of the same name: %d %q", code, stderr)
	}
	if code, out, _ := runCLI("tokens", "list", db); code != 0 || !strings.Contains(out, `theo@example.org "nightly"`) || strings.Contains(out, tok) {
		t.Errorf("tokens list: %d %q", code, out)
	}

	// What the database holds: hashes that verify, never the secrets.
	st, err := store.Open(context.Background(), "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := store.AccountsOf(st)
	for email, pw := range map[string]string{"ana@example.org": anaPassword, "theo@example.org": "a piped password"} {
		u, err := acc.GetUserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := auth.VerifyPassword(u.PasswordHash, pw); !ok || err != nil {
			t.Errorf("%s's stored hash does not verify the password the command took: %v", email, err)
		}
	}
	if got, err := acc.GetAPIToken(context.Background(), auth.TokenHash(tok)); err != nil || got.User.Email != "theo@example.org" {
		t.Errorf("the token's hash is not stored: %v", err)
	}
	findings := 0
	for _, secret := range []string{anaPassword, "a piped password", tok} {
		rows, err := storetest.DB(st).Query(`SELECT email || password_hash FROM users UNION ALL SELECT token_hash || name FROM api_tokens
			UNION ALL SELECT user_name || target || action FROM audit_log`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			if strings.Contains(v, secret) {
				findings++
			}
		}
		rows.Close()
	}
	st.Close()
	if findings > 0 {
		t.Errorf("%d stored values hold a password or token in plain", findings)
	}

	if code, out, _ := runCLI("tokens", "revoke", db, "--email", "theo@example.org", "--name", "nightly"); code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("tokens revoke: %d %q", code, out)
	}
	code, out, _ = runCLI("audit", db)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// A change made with the command line: user cli, the account last.
	if code != 0 || len(lines) != 8 || !strings.HasSuffix(lines[0], " cli tokens.revoke - - - theo@example.org") ||
		!strings.HasSuffix(lines[len(lines)-1], " cli users.add - - - ana@example.org") {
		t.Errorf("audit: %d\n%s", code, out)
	}
	if code, out, _ := runCLI("audit", db, "--patient", "P001"); code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, "users.assign P001") {
		t.Errorf("audit --patient P001: %d\n%s", code, out)
	}
	// --user finds the changes made to the account too.
	if code, out, _ := runCLI("audit", db, "--user", "THEO@example.org", "--limit", "2", "--json"); code != 0 || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, `"user":"cli","target":"theo@example.org","action":"tokens.revoke"`) {
		t.Errorf("audit --user --limit --json: %d\n%s", code, out)
	}
	if code, out, _ := runCLI("audit", db, "--to", "2000-01-01"); code != 0 || out != "" {
		t.Errorf("audit --to 2000-01-01: %d %q", code, out)
	}
}

// TestAccountCommandsWhileServing: the commands work on the database of a
// running serve, which follows at once: the first account closes the open
// service, a login takes the printed password, disabling ends the session,
// a token works until revoked.
func TestAccountCommandsWhileServing(t *testing.T) {
	dir := t.TempDir()
	addr, _ := apptest.Start(t, app.Config{HTTP: true, DataDir: dir})
	base := "http://" + addr
	get := func(path string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/sessions", nil); code != 200 {
		t.Fatalf("open service: %d", code)
	}
	db := "--data-dir=" + dir
	code, out, stderr := runCLI("users", "add", db, "--email", "theo@example.org", "--role", "therapist")
	m := generatedPassword.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("users add while serving: %d %q %q", code, out, stderr)
	}
	if code := get("/sessions", nil); code != http.StatusUnauthorized {
		t.Errorf("after users add, no credentials: %d, want 401", code)
	}
	resp, err := http.Post(base+"/auth/login", "application/json", strings.NewReader(`{"email":"theo@example.org","password":"`+m[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == auth.SessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	if resp.StatusCode != 200 || cookie == "" {
		t.Fatalf("login with the printed password: %d", resp.StatusCode)
	}
	if code := get("/sessions", map[string]string{"Cookie": cookie}); code != 200 {
		t.Errorf("signed in: %d", code)
	}
	_, tok, _ := runCLI("tokens", "create", db, "--email", "theo@example.org", "--name", "script")
	bearer := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(tok)}
	if code := get("/sessions", bearer); code != 200 {
		t.Errorf("API token: %d", code)
	}
	runCLI("tokens", "revoke", db, "--email", "theo@example.org", "--name", "script")
	if code := get("/sessions", bearer); code != http.StatusUnauthorized {
		t.Errorf("revoked API token: %d", code)
	}
	if code, _, _ := runCLI("users", "disable", db, "--email", "theo@example.org"); code != 0 {
		t.Fatal("users disable failed")
	}
	if code := get("/sessions", map[string]string{"Cookie": cookie}); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's session: %d, want 401", code)
	}
}
