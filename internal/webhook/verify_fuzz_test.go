package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Verify accepts a request exactly when it carries the body's HMAC under the
// secret, or the token as bearer or ?token=; anything else is
// ErrUnauthorized, never a panic.
func FuzzVerify(f *testing.F) {
	body := []byte(supabaseInsert)
	f.Add(body, Sign("s3cret", body), "", "")
	f.Add(body, "sha256="+Sign("s3cret", body), "", "")
	f.Add(body, "", "Bearer tok", "")
	f.Add(body, "", "", "tok")
	f.Add(body, "zz", "Bearer", "tok\x00")
	f.Add([]byte{}, "sha256=", "bearer tok", "%")
	auth := Auth{Secret: "s3cret", Token: "tok"}
	f.Fuzz(func(t *testing.T, body []byte, sig, authz, token string) {
		r := httptest.NewRequest("POST", "/h", nil)
		r.URL.RawQuery = url.Values{"token": {token}}.Encode()
		if sig != "" {
			r.Header["X-Supabase-Signature"] = []string{sig}
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		err := auth.Verify(r, body)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		gotSig := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(r.Header.Get("X-Supabase-Signature")), "sha256="))
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case r.Header.Get("X-Supabase-Signature") != "":
			if gotSig != want {
				t.Fatalf("accepted signature %q for a body whose HMAC is %s", sig, want)
			}
		case r.Header.Get("Authorization") != "":
			if strings.TrimSpace(bearer) != "tok" {
				t.Fatalf("accepted Authorization %q", authz)
			}
		default:
			if r.URL.Query().Get("token") != "tok" {
				t.Fatalf("accepted ?token=%q", token)
			}
		}
	})
}
