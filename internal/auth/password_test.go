package auth_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"emgd/internal/auth"
)

// TestPasswordHashFormat: a hash is an argon2id PHC string with the
// default parameters and a fresh salt; it verifies the password and no
// other.
func TestPasswordHashFormat(t *testing.T) {
	h, err := auth.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Errorf("hash %q is not an argon2id PHC string with m=19456,t=2,p=1, a 16-byte salt and a 32-byte key", h)
	}
	if strings.Contains(h, "correct") {
		t.Error("the hash holds the password")
	}
	h2, _ := auth.HashPassword("correct horse battery")
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}, {"correct horse battery ", false}, {strings.Repeat("x", 5000), false}} {
		if ok, err := auth.VerifyPassword(h, tc.pw); err != nil || ok != tc.want {
			t.Errorf("VerifyPassword(%.20q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	for _, weak := range []string{"", "short", strings.Repeat("x", auth.MaxPasswordBytes+1)} {
		if _, err := auth.HashPassword(weak); !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("HashPassword of %d bytes: %v, want ErrWeakPassword", len(weak), err)
		}
	}
}

// TestPasswordKnownAnswer: a PHC string made by the reference argon2id
// implementation (RFC 9106's; password "password", salt "somesalt",
// m=64, t=2, p=1) verifies.
func TestPasswordKnownAnswer(t *testing.T) {
	const ref = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"
	if ok, err := auth.VerifyPassword(ref, "password"); err != nil || !ok {
		t.Errorf("reference hash: %v, %v", ok, err)
	}
	if ok, _ := auth.VerifyPassword(ref, "Password"); ok {
		t.Error("reference hash verifies another password")
	}
}

// TestPasswordBadHashes: strings that are not argon2id PHC strings emgd
// accepts (another algorithm, another version, missing or absurd
// parameters, bad base64) are errors, never a match, and never run a
// gigabyte hash.
func TestPasswordBadHashes(t *testing.T) {
	for _, bad := range []string{
		"",
		"password",
		"$argon2i$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=16$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=1,x=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=1000000,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=255$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=1$!!!$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3",
		"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$",
		"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3$",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
	} {
		if ok, err := auth.VerifyPassword(bad, "password"); err == nil || ok {
			t.Errorf("VerifyPassword(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}

// TestDummyHashMadeByTheFirstLogin: starting a server computes no argon2id
// (it would compete with the first webhooks); the first login does, for an
// unknown email as for a known one, so that neither answers faster.
func TestDummyHashMadeByTheFirstLogin(t *testing.T) {
	for _, email := range []string{"nobody@example.org", "therapist@example.org"} {
		t.Run(email, func(t *testing.T) {
			auth.ResetDummyHash()
			e := newEnv(t, nil)
			e.user("therapist@example.org", "therapist", "correct horse battery")
			time.Sleep(100 * time.Millisecond) // a hash started in the background would have begun
			if auth.DummyHashMade() {
				t.Fatal("the dummy hash was made before any login")
			}
			if w := e.login(email, "wrong password!"); w.Code != http.StatusUnauthorized {
				t.Fatalf("login answered %d, want 401", w.Code)
			}
			if !auth.DummyHashMade() {
				t.Error("the first login did not make the dummy hash")
			}
		})
	}
}
