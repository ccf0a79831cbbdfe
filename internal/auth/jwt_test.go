package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

// clock is a settable time for the verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// claims returns valid claims at t0 for iss.
func claims(iss string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": iss, "sub": "0f6c7a2e-sub", "aud": "authenticated", "email": "ana@clinic.example",
		"exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix(), "role": "authenticated",
	}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hs(t *testing.T, c jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c)
}

// newVerifier returns the verifier of cfg on a clock at t0.
func newVerifier(t *testing.T, cfg JWTConfig) (*Verifier, *clock) {
	t.Helper()
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	v.now = clk.Now
	return v, clk
}

// refused asserts that raw is refused, not as ErrUnavailable, and that the
// error repeats neither the token nor the secret.
func refused(t *testing.T, v *Verifier, raw, why string) {
	t.Helper()
	id, err := v.Verify(context.Background(), raw)
	if err == nil {
		t.Errorf("%s: accepted as %+v", why, id)
		return
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("%s: %v (want a refusal, not unavailable)", why, err)
	}
	if msg := err.Error(); (len(raw) > 20 && strings.Contains(msg, raw)) || strings.Contains(msg, testSecret) {
		t.Errorf("%s: the error repeats a secret: %q", why, msg)
	}
}

func accepted(t *testing.T, v *Verifier, raw string) Identity {
	t.Helper()
	id, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return id
}

func TestJWTHS256Valid(t *testing.T) {
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret})
	id := accepted(t, v, hs(t, claims("https://ref.supabase.co/auth/v1")))
	if id.Email != "ana@clinic.example" || id.Subject != "0f6c7a2e-sub" {
		t.Errorf("%+v", id)
	}
	// aud may be a list; one of them must be the audience.
	c := claims("x")
	c["aud"] = []string{"other", "authenticated"}
	accepted(t, v, hs(t, c))
	// --jwt-issuer set: that iss passes.
	v, _ = newVerifier(t, JWTConfig{Secret: testSecret, Issuer: "https://ref.supabase.co/auth/v1"})
	accepted(t, v, hs(t, claims("https://ref.supabase.co/auth/v1")))
}

func TestJWTHS256Forged(t *testing.T) {
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret})
	other := "another-secret-that-is-also-long-enough-32"
	refused(t, v, sign(t, jwt.SigningMethodHS256, []byte(other), "", claims("x")), "wrong secret")
	// A valid token whose payload was changed after signing.
	good := hs(t, claims("x"))
	parts := strings.Split(good, ".")
	c := claims("x")
	c["email"] = "admin@clinic.example"
	body, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(body)
	refused(t, v, strings.Join(parts, "."), "payload changed")
	// Signed with HS384/HS512 and the right secret: only HS256 is taken.
	refused(t, v, sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", claims("x")), "HS512")
}

// unsigned returns a token with header h and claims c and signature sig.
func unsigned(h map[string]any, c jwt.MapClaims, sig string) string {
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "." + sig
}

func TestJWTAlgNone(t *testing.T) {
	idp := newIdP(t)
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	for _, iss := range []string{"https://ref.supabase.co/auth/v1", idp.URL} {
		for _, alg := range []string{"none", "None", "NONE"} {
			refused(t, v, unsigned(map[string]any{"alg": alg, "typ": "JWT"}, claims(iss), ""), alg+" empty signature, iss "+iss)
			refused(t, v, unsigned(map[string]any{"alg": alg, "typ": "JWT"}, claims(iss), "c2ln"), alg+" with a signature, iss "+iss)
		}
		none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(iss))
		refused(t, v, none, "golang-jwt's none, iss "+iss)
	}
}

// The RS/HS confusion: a token saying alg HS256, "signed" with the OIDC
// issuer's public key (which anyone can fetch) as the HMAC secret.
func TestJWTAlgConfusion(t *testing.T) {
	idp := newIdP(t)
	pub := &idp.rsa.PublicKey
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
	jwkJSON, _ := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: "rsa1", Algorithm: "RS256", Use: "sig"})
	// The JWKS also publishes a symmetric key under a kid a token may name.
	idp.extra = []map[string]any{{"kty": "oct", "kid": "oct1", "k": base64.RawURLEncoding.EncodeToString([]byte(testSecret))}}
	for _, cfg := range []JWTConfig{
		{OIDCIssuers: []string{idp.URL}},
		{Secret: testSecret, OIDCIssuers: []string{idp.URL}},
	} {
		v, _ := newVerifier(t, cfg)
		accepted(t, v, idp.rs256(t, "rsa1", claims(idp.URL))) // discovered, keys cached
		for name, key := range map[string][]byte{"pem": pemKey, "pkcs1": pkcs1, "der": der, "jwk": jwkJSON, "n": pub.N.Bytes()} {
			for _, kid := range []string{"rsa1", ""} {
				refused(t, v, sign(t, jwt.SigningMethodHS256, key, kid, claims(idp.URL)), "HS256 with the public key as "+name)
			}
		}
		refused(t, v, sign(t, jwt.SigningMethodHS256, []byte(testSecret), "oct1", claims(idp.URL)), "HS256 with the JWKS's oct key")
		// The HS256 secret never signs for the OIDC issuer either.
		refused(t, v, hs(t, claims(idp.URL)), "HS256 secret, OIDC iss")
	}
	// And the other way: an RS256 token that names no OIDC issuer goes to
	// the HS256 check, which refuses any other algorithm.
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	refused(t, v, idp.rs256(t, "rsa1", claims("https://ref.supabase.co/auth/v1")), "RS256 to the secret")
}

func TestJWTExpiredAndNotBefore(t *testing.T) {
	idp := newIdP(t)
	v, clk := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	for name, mint := range map[string]func(jwt.MapClaims) string{
		"hs256": func(c jwt.MapClaims) string { return hs(t, c) },
		"oidc":  func(c jwt.MapClaims) string { return idp.rs256(t, "rsa1", c) },
	} {
		iss := "https://ref.supabase.co/auth/v1"
		if name == "oidc" {
			iss = idp.URL
		}
		with := func(k string, val any) jwt.MapClaims {
			c := claims(iss)
			if val == nil {
				delete(c, k)
			} else {
				c[k] = val
			}
			return c
		}
		refused(t, v, mint(with("exp", t0.Add(-2*time.Minute).Unix())), name+": expired 2 min ago")
		refused(t, v, mint(with("exp", t0.Add(-JWTLeeway-time.Second).Unix())), name+": expired just past the leeway")
		accepted(t, v, mint(with("exp", t0.Add(-10*time.Second).Unix()))) // within the leeway
		refused(t, v, mint(with("exp", nil)), name+": no exp")
		refused(t, v, mint(with("exp", "tomorrow")), name+": exp not a number")
		refused(t, v, mint(with("nbf", t0.Add(2*time.Minute).Unix())), name+": nbf in 2 min")
		refused(t, v, mint(with("nbf", "now")), name+": nbf not a number")
		accepted(t, v, mint(with("nbf", t0.Add(10*time.Second).Unix()))) // within the leeway
		// A token valid now is refused once the clock passes its exp.
		tok := mint(claims(iss))
		accepted(t, v, tok)
		clk.Add(time.Hour + JWTLeeway + time.Second)
		refused(t, v, tok, name+": the same token after its exp")
		clk.Add(t0.Sub(clk.Now()))
	}
}

func TestJWTIssuer(t *testing.T) {
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret, Issuer: "https://ref.supabase.co/auth/v1"})
	refused(t, v, hs(t, claims("https://other.supabase.co/auth/v1")), "wrong iss")
	c := claims("")
	delete(c, "iss")
	refused(t, v, hs(t, c), "no iss")
	c["iss"] = 42
	refused(t, v, hs(t, c), "iss a number")
}

func TestJWTAudience(t *testing.T) {
	idp := newIdP(t)
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	for _, aud := range []any{"anon", "", []string{"a", "b"}, nil, 7} {
		c := claims("x")
		c["aud"] = aud
		if aud == nil {
			delete(c, "aud")
		}
		refused(t, v, hs(t, c), "hs256 aud "+jsonOf(aud))
		c["iss"] = idp.URL
		refused(t, v, idp.rs256(t, "rsa1", c), "oidc aud "+jsonOf(aud))
	}
	// --jwt-audience replaces the default.
	v, _ = newVerifier(t, JWTConfig{Secret: testSecret, Audience: "emgd", OIDCIssuers: []string{idp.URL}})
	refused(t, v, hs(t, claims("x")), "aud authenticated when emgd is wanted")
	c := claims(idp.URL)
	c["aud"] = "emgd"
	accepted(t, v, idp.rs256(t, "rsa1", c))
	c["iss"] = "x"
	accepted(t, v, hs(t, c))
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestJWTIdentityClaims(t *testing.T) {
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret})
	c := claims("x")
	delete(c, "email")
	if id := accepted(t, v, hs(t, c)); id.Email != "0f6c7a2e-sub" || id.Subject != "0f6c7a2e-sub" {
		t.Errorf("no email: %+v, want sub", id)
	}
	// An email the issuer says it has not verified is not used.
	for _, ev := range []any{false, "false"} {
		c = claims("x")
		c["email_verified"] = ev
		if id := accepted(t, v, hs(t, c)); id.Email != "0f6c7a2e-sub" {
			t.Errorf("email_verified %v: %+v, want sub", ev, id)
		}
	}
	c = claims("x")
	c["email_verified"] = true
	if id := accepted(t, v, hs(t, c)); id.Email != "ana@clinic.example" {
		t.Errorf("email_verified true: %+v", id)
	}
	c = claims("x")
	delete(c, "email")
	delete(c, "sub")
	refused(t, v, hs(t, c), "neither email nor sub")
	c["email"] = 3
	refused(t, v, hs(t, c), "email a number, no sub")
}

func TestJWTOIDC(t *testing.T) {
	idp := newIdP(t)
	v, _ := newVerifier(t, JWTConfig{OIDCIssuers: []string{idp.URL}})
	if id := accepted(t, v, idp.rs256(t, "rsa1", claims(idp.URL))); id.Email != "ana@clinic.example" {
		t.Errorf("RS256: %+v", id)
	}
	if id := accepted(t, v, sign(t, jwt.SigningMethodES256, idp.ec, "ec1", claims(idp.URL))); id.Subject != "0f6c7a2e-sub" {
		t.Errorf("ES256: %+v", id)
	}
	accepted(t, v, sign(t, jwt.SigningMethodPS256, idp.rsa, "rsa1", claims(idp.URL)))
	// A token without kid is checked against every key.
	accepted(t, v, idp.rs256(t, "", claims(idp.URL)))
	// The RSA key under the EC key's kid, or an ES256 token under the RSA
	// key's kid, does not verify.
	refused(t, v, idp.rs256(t, "ec1", claims(idp.URL)), "RS256 under the EC kid")
	refused(t, v, sign(t, jwt.SigningMethodES256, idp.ec, "rsa1", claims(idp.URL)), "ES256 under the RSA kid")
	// Signed by a key the issuer never published, under its kid.
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	refused(t, v, sign(t, jwt.SigningMethodRS256, stranger, "rsa1", claims(idp.URL)), "stranger's key, known kid")
	refused(t, v, sign(t, jwt.SigningMethodRS256, stranger, "nobody", claims(idp.URL)), "stranger's key, unknown kid")
	if n := idp.discoveries.Load(); n != 1 {
		t.Errorf("%d discoveries, want 1", n)
	}
}

// The issuer rotates its keys: a token signed with the new key verifies
// without a restart; a forged token never makes emgd fetch the JWKS again,
// and unknown key ids do at most once per jwksRefreshEvery.
func TestJWTKeyRotation(t *testing.T) {
	idp := newIdP(t)
	v, clk := newVerifier(t, JWTConfig{OIDCIssuers: []string{idp.URL}})
	old := idp.rs256(t, "rsa1", claims(idp.URL))
	accepted(t, v, old)
	fetches := idp.jwksFetches.Load()

	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	for range 5 {
		clk.Add(jwksRefreshEvery) // even with a cache old enough to refresh
		refused(t, v, sign(t, jwt.SigningMethodRS256, stranger, "rsa1", claims(idp.URL)), "forged under a known kid")
	}
	if n := idp.jwksFetches.Load(); n != fetches {
		t.Errorf("forged tokens under a known kid fetched the JWKS %d times", n-fetches)
	}

	newKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	idp.rotate(newKey, "rsa2")
	clk.Add(jwksRefreshEvery) // the cache is old enough to be refreshed
	fresh := sign(t, jwt.SigningMethodRS256, newKey, "rsa2", claims(idp.URL))
	accepted(t, v, fresh)
	fetches = idp.jwksFetches.Load()
	for i := range 20 {
		refused(t, v, sign(t, jwt.SigningMethodRS256, stranger, "guess"+string(rune('a'+i)), claims(idp.URL)), "unknown kid")
	}
	if n := idp.jwksFetches.Load(); n != fetches {
		t.Errorf("unknown kids within %s of a fetch fetched the JWKS %d times", jwksRefreshEvery, n-fetches)
	}
	// The old key is no longer published: its tokens are refused.
	clk.Add(jwksRefreshEvery)
	refused(t, v, old, "token of the retired key")
	accepted(t, v, fresh)

	// A key added later is picked up too.
	third, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	idp.rotateEC(third, "ec2")
	clk.Add(jwksRefreshEvery)
	accepted(t, v, sign(t, jwt.SigningMethodES256, third, "ec2", claims(idp.URL)))
}

func TestJWTIssuers(t *testing.T) {
	a, b := newIdP(t), newIdP(t)
	v, _ := newVerifier(t, JWTConfig{OIDCIssuers: []string{a.URL, b.URL}})
	accepted(t, v, a.rs256(t, "rsa1", claims(a.URL)))
	accepted(t, v, b.rs256(t, "rsa1", claims(b.URL)))
	// Same kid in both, but each issuer's tokens check against its keys only.
	refused(t, v, b.rs256(t, "rsa1", claims(a.URL)), "iss A signed by B")
	refused(t, v, a.rs256(t, "rsa1", claims(b.URL)), "iss B signed by A")
	refused(t, v, sign(t, jwt.SigningMethodES256, b.ec, "ec1", claims(a.URL)), "iss A signed by B's EC key")
	// An issuer not configured, even one that serves discovery.
	c := newIdP(t)
	refused(t, v, c.rs256(t, "rsa1", claims(c.URL)), "unknown issuer")
	refused(t, v, a.rs256(t, "rsa1", claims(a.URL+"/")), "issuer with a trailing slash")
	if c.discoveries.Load() != 0 {
		t.Error("an unknown issuer was contacted")
	}
	// Nothing but OIDC configured: a token without iss is refused.
	cl := claims("")
	delete(cl, "iss")
	refused(t, v, a.rs256(t, "rsa1", cl), "no iss")
}

// An issuer down at the first token is tried again later, without a
// restart; meanwhile its tokens are ErrUnavailable, and it is asked at most
// once per discoveryRetryEvery.
func TestJWTDiscoveryRetry(t *testing.T) {
	idp := newIdP(t)
	idp.down.Store(true)
	v, clk := newVerifier(t, JWTConfig{OIDCIssuers: []string{idp.URL}})
	tok := idp.rs256(t, "rsa1", claims(idp.URL))
	for range 5 {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("issuer down: %v, want ErrUnavailable", err)
		}
	}
	if n := idp.discoveries.Load(); n != 1 {
		t.Errorf("%d discoveries within %s, want 1", n, discoveryRetryEvery)
	}
	if err := v.Warm(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Warm with the issuer down: %v", err)
	}
	idp.down.Store(false)
	clk.Add(discoveryRetryEvery)
	accepted(t, v, tok)
	if err := v.Warm(context.Background()); err != nil {
		t.Errorf("Warm: %v", err)
	}

	// A discovery document naming another issuer is not taken.
	evil := newIdP(t)
	evil.claimIssuer = "https://accounts.example"
	v, _ = newVerifier(t, JWTConfig{OIDCIssuers: []string{evil.URL}})
	if _, err := v.Verify(context.Background(), evil.rs256(t, "rsa1", claims(evil.URL))); !errors.Is(err, ErrUnavailable) {
		t.Errorf("issuer mismatch: %v", err)
	}
	// Nor a jwks_uri over plain HTTP to a remote host.
	evil = newIdP(t)
	evil.jwksURI = "http://jwks.example/keys"
	v, _ = newVerifier(t, JWTConfig{OIDCIssuers: []string{evil.URL}})
	if _, err := v.Verify(context.Background(), evil.rs256(t, "rsa1", claims(evil.URL))); !errors.Is(err, ErrUnavailable) {
		t.Errorf("plain-HTTP jwks_uri: %v", err)
	}
}

func TestJWTMalformed(t *testing.T) {
	idp := newIdP(t)
	v, _ := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	good := hs(t, claims("x"))
	p := strings.Split(good, ".")
	oidcTok := idp.rs256(t, "rsa1", claims(idp.URL))
	q := strings.Split(oidcTok, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for name, raw := range map[string]string{
		"empty":              "",
		"garbage":            "garbage",
		"two parts":          p[0] + "." + p[1],
		"four parts":         good + ".x",
		"dots":               "..",
		"empty signature":    p[0] + "." + p[1] + ".",
		"bad base64 payload": p[0] + ".!!!." + p[2],
		"padded payload":     p[0] + "." + p[1] + "==." + p[2],
		"payload not json":   p[0] + "." + b64([]byte("not json")) + "." + p[2],
		"payload an array":   p[0] + "." + b64([]byte(`[1,2]`)) + "." + p[2],
		"header not json":    b64([]byte("{")) + "." + p[1] + "." + p[2],
		"oidc header junk":   b64([]byte("{")) + "." + q[1] + "." + q[2],
		"oidc bad signature": q[0] + "." + q[1] + ".AAAA",
		"oidc sig not b64":   q[0] + "." + q[1] + ".!!",
		"huge":               p[0] + "." + strings.Repeat("A", 1<<20) + "." + p[2],
		"huge oidc":          q[0] + "." + b64([]byte(`{"iss":"`+idp.URL+`","pad":"`+strings.Repeat("x", maxTokenBytes)+`"}`)) + "." + q[2],
		"json serialization": `{"payload":"` + q[1] + `","protected":"` + q[0] + `","signature":"` + q[2] + `"}`,
		"bearer prefix":      "Bearer " + good,
		"whitespace":         " " + good,
		"nul":                good + "\x00",
	} {
		refused(t, v, raw, name)
	}
	var nilV *Verifier
	if _, err := nilV.Verify(context.Background(), good); err == nil {
		t.Error("a nil verifier accepted a token")
	}
}

// FuzzJWTVerify: no input panics or is accepted (every seed and mutation
// lacks a valid signature).
func FuzzJWTVerify(f *testing.F) {
	f.Add("a.b.c")
	f.Add(unsigned(map[string]any{"alg": "none"}, claims("x"), ""))
	f.Add(unsigned(map[string]any{"alg": "HS256", "kid": "../../etc"}, claims("x"), "AAAA"))
	f.Add(unsigned(map[string]any{"alg": "RS256", "kid": "rsa1"}, claims("http://127.0.0.1:1"), "AAAA"))
	v, err := NewVerifier(context.Background(), JWTConfig{Secret: testSecret, OIDCIssuers: []string{"http://127.0.0.1:1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if id, err := v.Verify(context.Background(), raw); err == nil {
			t.Errorf("accepted %q as %+v", raw, id)
		}
	})
}

func TestJWTConfig(t *testing.T) {
	ctx := context.Background()
	if v, err := NewVerifier(ctx, JWTConfig{Audience: "authenticated"}); v != nil || err != nil || v.Enabled() {
		t.Errorf("nothing configured: %v, %v", v, err)
	}
	for name, cfg := range map[string]JWTConfig{
		"short secret":                     {Secret: "shortpw123"},
		"issuer without secret":            {Issuer: "https://x"},
		"issuer without secret, with oidc": {Issuer: "https://x", OIDCIssuers: []string{"https://idp.example"}},
		"plain http issuer":                {OIDCIssuers: []string{"http://idp.example"}},
		"relative issuer":                  {OIDCIssuers: []string{"idp.example"}},
		"ftp issuer":                       {OIDCIssuers: []string{"ftp://idp.example"}},
		"issuer both ways":                 {Secret: testSecret, Issuer: "https://idp.example", OIDCIssuers: []string{"https://idp.example"}},
	} {
		v, err := NewVerifier(ctx, cfg)
		if err == nil || v != nil {
			t.Errorf("%s: %v, %v", name, v, err)
		}
		if err != nil && strings.Contains(err.Error(), cfg.Secret) && cfg.Secret != "" {
			t.Errorf("%s: the error repeats the secret: %v", name, err)
		}
	}
	for _, iss := range []string{"https://idp.example", "http://127.0.0.1:8081/realms/x", "http://localhost:9000", "http://[::1]:9000"} {
		if v, err := NewVerifier(ctx, JWTConfig{OIDCIssuers: []string{iss}}); err != nil || !v.Enabled() {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

// idp is an OIDC issuer on httptest: discovery, and a JWKS with an RSA key
// (kid rsa1) and an EC P-256 key (kid ec1) until rotated.
type idp struct {
	*httptest.Server
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey

	mu          sync.Mutex
	keys        []jose.JSONWebKey
	extra       []map[string]any // raw JWKS entries added to the keys
	claimIssuer string           // the issuer the discovery document names; default the URL
	jwksURI     string           // default URL/jwks

	down        atomic.Bool // discovery answers 503
	discoveries atomic.Int64
	jwksFetches atomic.Int64
}

var (
	testRSA = sync.OnceValue(func() []*rsa.PrivateKey {
		var ks []*rsa.PrivateKey
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			ks = append(ks, k)
		}
		return ks
	})
	idpCount atomic.Int64
)

func newIdP(t *testing.T) *idp {
	t.Helper()
	n := idpCount.Add(1)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p := &idp{rsa: testRSA()[int(n)%3], ec: ec}
	p.keys = []jose.JSONWebKey{
		{Key: &p.rsa.PublicKey, KeyID: "rsa1", Use: "sig"},
		{Key: &p.ec.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveries.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		iss, jwks := p.claimIssuer, p.jwksURI
		p.mu.Unlock()
		if iss == "" {
			iss = p.URL
		}
		if jwks == "" {
			jwks = p.URL + "/jwks"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": jwks,
			"authorization_endpoint": p.URL + "/auth", "token_endpoint": p.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		p.mu.Lock()
		var keys []any
		for _, k := range p.keys {
			keys = append(keys, k)
		}
		for _, k := range p.extra {
			keys = append(keys, k)
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *idp) rs256(t *testing.T, kid string, c jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodRS256, p.rsa, kid, c)
}

// rotate publishes only key (kid) from now on.
func (p *idp) rotate(key *rsa.PrivateKey, kid string) {
	p.mu.Lock()
	p.keys = []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}
	p.mu.Unlock()
}

func (p *idp) rotateEC(key *ecdsa.PrivateKey, kid string) {
	p.mu.Lock()
	p.keys = append(p.keys, jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	p.mu.Unlock()
}

// Tokens verified at once, while the issuer is discovered and its keys
// refreshed, all get their answer (run with -race).
func TestJWTConcurrent(t *testing.T) {
	idp := newIdP(t)
	v, clk := newVerifier(t, JWTConfig{Secret: testSecret, OIDCIssuers: []string{idp.URL}})
	good := idp.rs256(t, "rsa1", claims(idp.URL))
	unknown := idp.rs256(t, "later", claims(idp.URL))
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(context.Background(), good); err != nil {
					bad.Add(1)
				}
				if _, err := v.Verify(context.Background(), unknown); err == nil {
					bad.Add(1)
				}
				if i == 0 {
					clk.Add(jwksRefreshEvery)
				}
			}
		})
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Errorf("%d wrong answers", n)
	}
}
