package auth

// External identity: JSON Web Tokens from Supabase (or anything else that
// signs with one shared HS256 secret) and from OpenID Connect issuers
// (RS/ES/PS signatures checked against the issuer's published JWKS).
//
// Libraries, and why:
//   - github.com/golang-jwt/jwt/v5 checks the HS256 tokens. It is the
//     reference Go JWT library; WithValidMethods pins the algorithm to HS256
//     (alg "none" and any asymmetric algorithm are refused before a key is
//     used) and it checks exp, nbf, iss and aud with a leeway.
//   - github.com/coreos/go-oidc/v3 is the reference Go OIDC client: it does
//     the discovery (/.well-known/openid-configuration, including the check
//     that the document names the issuer it was fetched for) and its
//     IDTokenVerifier pins the algorithms (never "none", never HMAC: it has
//     no HMAC key set at all), checks the issuer, the audience and that the
//     token carries exactly one signature. go-oidc cannot verify HS256,
//     hence the two libraries.
//   - The JWKS itself is held by jwksKeys below (on go-jose, go-oidc's own
//     JOSE library) rather than by go-oidc's RemoteKeySet, because that one
//     fetches the JWKS again after every signature that fails, known key id
//     or not, so each forged token would make emgd call the issuer. jwksKeys
//     fetches again only for a key id it has not seen (key rotation), at
//     most once per jwksRefreshEvery per issuer.
//
// Nothing happens at package init and NewVerifier does no network I/O: an
// issuer's discovery runs on the first token that names it (or in Warm, at
// serve's start). A failed discovery is not remembered for good: the next
// token that names the issuer tries again, at most once per
// discoveryRetryEvery, so an issuer that was down when serve started is
// used as soon as it answers, without a restart. Meanwhile its tokens are
// refused with ErrUnavailable (the guard answers 503, not 401).

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultAudience is the aud a token must carry when JWTConfig.Audience
	// is empty: Supabase's access tokens say "authenticated".
	DefaultAudience = "authenticated"
	// JWTLeeway is the clock skew allowed on exp and nbf: a token is taken
	// until exp+30 s and from nbf-30 s.
	JWTLeeway = 30 * time.Second
	// MinJWTSecret is the shortest HS256 secret accepted, in bytes (RFC
	// 7518 section 3.2: at least the hash's size). Supabase's are longer.
	MinJWTSecret = 32
	// maxTokenBytes bounds what Verify parses at all.
	maxTokenBytes = 16 << 10
	// maxJWKSBytes bounds a JWKS answer.
	maxJWKSBytes = 1 << 20
	// fetchTimeout bounds one discovery or JWKS request.
	fetchTimeout = 10 * time.Second
)

// Rates of the calls to an issuer.
const (
	// discoveryRetryEvery: a failed discovery is tried again on the next
	// token naming the issuer, but not sooner than this after the last try.
	discoveryRetryEvery = 5 * time.Second
	// jwksRefreshEvery: a token with a key id not in the cached JWKS fetches
	// the JWKS again, but not sooner than this after the last fetch.
	jwksRefreshEvery = 10 * time.Second
)

// oidcAlgs are the algorithms accepted from OIDC issuers: asymmetric only.
var oidcAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
}

// ErrUnavailable wraps the failures that are not the token's fault: the
// issuer's discovery or JWKS could not be fetched. Any other error of
// Verify means the token is refused.
var ErrUnavailable = errors.New("identity provider unavailable")

// Identity is who an external token names. Email is the token's email
// claim, or its sub when it has no email (or says email_verified false);
// the guard finds the user by it and never creates one.
type Identity struct {
	Email   string
	Subject string
}

// JWTConfig configures the external identities (flags --jwt-secret,
// --jwt-issuer, --jwt-audience, --oidc-issuer).
type JWTConfig struct {
	// Secret is the HS256 secret (Supabase's JWT secret); empty: no HS256.
	Secret string
	// Issuer, when set, is the iss an HS256 token must carry.
	Issuer string
	// Audience must be among a token's aud, HS256 and OIDC alike; empty
	// means DefaultAudience.
	Audience string
	// OIDCIssuers are the issuer URLs whose tokens are checked against
	// their discovery document's JWKS; https, or http on a loopback host.
	OIDCIssuers []string
	// HTTPClient fetches discovery documents and JWKS; nil: a client with a
	// 10 s timeout.
	HTTPClient *http.Client
}

// Enabled reports whether any external identity is configured.
func (c JWTConfig) Enabled() bool { return c.Secret != "" || len(c.OIDCIssuers) > 0 }

// Verifier checks external identity tokens. A nil *Verifier refuses every
// token.
type Verifier struct {
	secret   []byte
	issuer   string
	audience string
	hs       *jwt.Parser
	oidc     map[string]*oidcIssuer
	client   *http.Client
	now      func() time.Time
}

// NewVerifier checks cfg and returns its verifier, or nil (and no error)
// when cfg configures nothing. It does no network I/O.
func NewVerifier(ctx context.Context, cfg JWTConfig) (*Verifier, error) {
	_ = ctx // discovery is lazy; see Warm
	if !cfg.Enabled() {
		if cfg.Issuer != "" {
			return nil, errors.New("--jwt-issuer needs --jwt-secret")
		}
		return nil, nil
	}
	if cfg.Secret != "" && len(cfg.Secret) < MinJWTSecret {
		return nil, fmt.Errorf("--jwt-secret must be at least %d bytes", MinJWTSecret)
	}
	if cfg.Issuer != "" && cfg.Secret == "" {
		return nil, errors.New("--jwt-issuer needs --jwt-secret")
	}
	v := &Verifier{
		secret:   []byte(cfg.Secret),
		issuer:   cfg.Issuer,
		audience: cmp.Or(strings.TrimSpace(cfg.Audience), DefaultAudience),
		oidc:     map[string]*oidcIssuer{},
		client:   cfg.HTTPClient,
		now:      time.Now,
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: fetchTimeout}
	}
	for _, iss := range cfg.OIDCIssuers {
		if err := checkFetchURL(iss); err != nil {
			return nil, fmt.Errorf("--oidc-issuer %q: %v", iss, err)
		}
		if iss == cfg.Issuer {
			return nil, fmt.Errorf("--jwt-issuer %q is also an --oidc-issuer", iss)
		}
		if _, dup := v.oidc[iss]; !dup {
			v.oidc[iss] = &oidcIssuer{url: iss, v: v}
		}
	}
	if len(v.secret) > 0 {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithLeeway(JWTLeeway),
			jwt.WithExpirationRequired(),
			jwt.WithAudience(v.audience),
			jwt.WithTimeFunc(func() time.Time { return v.now() }),
		}
		if v.issuer != "" {
			opts = append(opts, jwt.WithIssuer(v.issuer))
		}
		v.hs = jwt.NewParser(opts...)
	}
	return v, nil
}

// Enabled reports whether v checks any token.
func (v *Verifier) Enabled() bool { return v != nil }

// Warm runs the discovery of every OIDC issuer not yet discovered, at once;
// serve may call it at start to log an issuer that does not answer. A
// failure is not final: tokens naming the issuer try again later.
func (v *Verifier) Warm(ctx context.Context) error {
	if v == nil {
		return nil
	}
	var errs []error
	for _, iss := range v.oidc {
		if _, err := iss.verifier(ctx, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Verify checks raw (the bearer token) and returns whom it names: the
// signature (HS256 with the secret, or the OIDC issuer's JWKS key), exp and
// nbf (with JWTLeeway; exp is required), iss (the OIDC issuer the token
// names, or --jwt-issuer when set for HS256) and aud (must contain the
// audience). A token naming an OIDC issuer is only ever checked against
// that issuer's keys; any other goes to the HS256 secret.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if v == nil {
		return Identity{}, errors.New("jwt: no external identity configured")
	}
	iss, err := peekIssuer(raw)
	if err != nil {
		return Identity{}, err
	}
	if o := v.oidc[iss]; o != nil {
		return o.verify(ctx, raw)
	}
	if v.hs == nil {
		return Identity{}, errors.New("jwt: unknown issuer")
	}
	claims := jwt.MapClaims{}
	_, err = v.hs.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodHS256 { // WithValidMethods already refused others
			return nil, errors.New("unexpected algorithm")
		}
		return v.secret, nil
	})
	if err != nil {
		return Identity{}, fmt.Errorf("jwt: %w", err)
	}
	return identityOf(claims)
}

// peekIssuer reads the iss of a compact JWS without checking anything but
// its shape: three non-empty base64url parts (so the JSON serialization and
// unsigned tokens stop here), within maxTokenBytes.
func peekIssuer(raw string) (string, error) {
	if len(raw) > maxTokenBytes {
		return "", errors.New("jwt: token too long")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", errors.New("jwt: malformed token")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("jwt: malformed token")
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errors.New("jwt: malformed token")
	}
	s, _ := c.Iss.(string)
	return s, nil
}

// identityOf returns the Identity of verified claims.
func identityOf(c map[string]any) (Identity, error) {
	sub, _ := c["sub"].(string)
	email, _ := c["email"].(string)
	email = strings.TrimSpace(email)
	switch ev := c["email_verified"].(type) {
	case bool:
		if !ev {
			email = ""
		}
	case string: // some issuers send "true"/"false"
		if strings.EqualFold(ev, "false") {
			email = ""
		}
	}
	id := Identity{Email: cmp.Or(email, sub), Subject: sub}
	if id.Email == "" {
		return Identity{}, errors.New("jwt: token names no email or sub")
	}
	return id, nil
}

// checkFetchURL accepts https URLs, and http ones on a loopback host only
// (a JWKS fetched in the clear could be replaced on the way).
func checkFetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("must be https (http only on a loopback host)")
}

// oidcIssuer is one --oidc-issuer, discovered lazily.
type oidcIssuer struct {
	url string
	v   *Verifier

	mu      sync.Mutex
	ready   *oidc.IDTokenVerifier
	tried   time.Time // the last failed discovery
	lastErr error
}

// verifier returns the issuer's token verifier, running the discovery when
// it has not succeeded yet (at most once per discoveryRetryEvery unless
// force).
func (o *oidcIssuer) verifier(ctx context.Context, force bool) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ready != nil {
		return o.ready, nil
	}
	if !force && !o.tried.IsZero() && o.v.now().Sub(o.tried) < discoveryRetryEvery {
		return nil, o.lastErr
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	keys, err := o.discover(ctx)
	if err != nil {
		o.tried, o.lastErr = o.v.now(), fmt.Errorf("%w: oidc issuer %s: %v", ErrUnavailable, o.url, err)
		return nil, o.lastErr
	}
	o.ready = oidc.NewVerifier(o.url, keys, &oidc.Config{
		ClientID:             o.v.audience,
		SupportedSigningAlgs: oidcAlgs,
		SkipExpiryCheck:      true, // checked in verify, with JWTLeeway and exp required
	})
	return o.ready, nil
}

// discover fetches the issuer's discovery document (go-oidc checks that it
// names this issuer) and its JWKS.
func (o *oidcIssuer) discover(ctx context.Context) (*jwksKeys, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.v.client), o.url)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
	}
	if err := checkFetchURL(meta.JWKSURI); err != nil {
		return nil, fmt.Errorf("jwks_uri %q: %v", meta.JWKSURI, err)
	}
	keys := &jwksKeys{url: meta.JWKSURI, client: o.v.client, now: o.v.now}
	if err := keys.refresh(ctx); err != nil {
		return nil, err
	}
	return keys, nil
}

func (o *oidcIssuer) verify(ctx context.Context, raw string) (Identity, error) {
	ver, err := o.verifier(ctx, false)
	if err != nil {
		return Identity{}, err
	}
	// go-oidc flattens the key set's error into text: the key set reports
	// an unavailable JWKS through this holder instead.
	var unavailable error
	tok, err := ver.Verify(context.WithValue(ctx, unavailableKey{}, &unavailable), raw)
	if unavailable != nil {
		return Identity{}, unavailable
	}
	if err != nil {
		return Identity{}, fmt.Errorf("jwt: %w", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("jwt: %w", err)
	}
	if err := checkTimes(claims, o.v.now()); err != nil {
		return Identity{}, err
	}
	return identityOf(claims)
}

// checkTimes requires exp and checks exp and nbf with JWTLeeway.
func checkTimes(c map[string]any, now time.Time) error {
	exp, ok := c["exp"].(float64)
	if !ok {
		return errors.New("jwt: token has no exp")
	}
	if now.After(unixTime(exp).Add(JWTLeeway)) {
		return errors.New("jwt: token is expired")
	}
	if raw, present := c["nbf"]; present {
		nbf, ok := raw.(float64)
		if !ok {
			return errors.New("jwt: invalid nbf")
		}
		if now.Add(JWTLeeway).Before(unixTime(nbf)) {
			return errors.New("jwt: token is not valid yet")
		}
	}
	return nil
}

func unixTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

// unavailableKey carries, in the context go-oidc hands to the key set, an
// *error that receives an ErrUnavailable.
type unavailableKey struct{}

// jwksKeys is an issuer's JWKS (go-oidc's KeySet): the public signing keys
// fetched from jwks_uri, fetched again for a key id not among them (key
// rotation), at most once per jwksRefreshEvery.
type jwksKeys struct {
	url    string
	client *http.Client
	now    func() time.Time

	fetch   sync.Mutex // one fetch at a time
	mu      sync.RWMutex
	keys    []jose.JSONWebKey
	fetched time.Time // the last fetch, successful or not
}

// VerifySignature returns the payload of jwt when one of the keys verifies
// it. go-oidc's verifier has already refused algorithms outside oidcAlgs.
func (k *jwksKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, algs(oidcAlgs))
	if err != nil {
		return nil, errors.New("malformed jwt")
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want one signature")
	}
	h := jws.Signatures[0].Header
	if payload, known := k.try(jws, h); payload != nil {
		return payload, nil
	} else if known {
		return nil, errors.New("invalid signature")
	}
	// A key id not seen yet: the issuer may have rotated its keys.
	if err := k.refreshIfStale(ctx); err != nil {
		if holder, _ := ctx.Value(unavailableKey{}).(*error); holder != nil {
			*holder = err
		}
		return nil, err
	}
	if payload, _ := k.try(jws, h); payload != nil {
		return payload, nil
	}
	return nil, errors.New("invalid signature")
}

// try verifies jws with the cached keys of its key id (all keys when it
// names none); known reports whether a key of that id was cached.
func (k *jwksKeys) try(jws *jose.JSONWebSignature, h jose.Header) (payload []byte, known bool) {
	k.mu.RLock()
	keys := k.keys
	k.mu.RUnlock()
	for i := range keys {
		key := &keys[i]
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		known = h.KeyID != ""
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if p, err := jws.Verify(key); err == nil {
			return p, true
		}
	}
	return nil, known
}

// refreshIfStale fetches the JWKS unless it was fetched less than
// jwksRefreshEvery ago.
func (k *jwksKeys) refreshIfStale(ctx context.Context) error {
	k.fetch.Lock()
	defer k.fetch.Unlock()
	k.mu.RLock()
	fresh := k.now().Sub(k.fetched) < jwksRefreshEvery
	k.mu.RUnlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	if err := k.refresh(ctx); err != nil {
		return fmt.Errorf("%w: jwks %s: %v", ErrUnavailable, k.url, err)
	}
	return nil
}

// refresh fetches the JWKS and keeps its public signing keys; on failure
// the cached keys stay.
func (k *jwksKeys) refresh(ctx context.Context) error {
	keys, err := k.get(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetched = k.now()
	if err != nil {
		return err
	}
	k.keys = keys
	return nil
}

func (k *jwksKeys) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks answered %s", resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("jwks too large")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %v", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		// Keys of a type go-jose does not know (or malformed) are skipped,
		// as RFC 7517 section 5 asks; so are symmetric, private and
		// encryption keys, and keys for an algorithm not accepted.
		if err := key.UnmarshalJSON(bytes.TrimSpace(raw)); err != nil || !key.Valid() || !key.IsPublic() {
			continue
		}
		if key.Use == "enc" || (key.Algorithm != "" && !slices.Contains(oidcAlgs, key.Algorithm)) {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks has no usable signing key")
	}
	return keys, nil
}

func algs(names []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(names))
	for i, n := range names {
		out[i] = jose.SignatureAlgorithm(n)
	}
	return out
}
