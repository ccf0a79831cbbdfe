package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"emgd/internal/apidoc"
	"emgd/internal/store"
)

// SessionCookie is the name of the dashboard's session cookie; its value
// is a random token the database knows only by its SHA-256.
const SessionCookie = "emgd_session"

// CSRFHeader carries a cookie session's CSRF token on requests that change
// state (any method but GET, HEAD and OPTIONS).
const CSRFHeader = "X-CSRF-Token"

// SignInHeader is set, to the login route, on a 401 while the database
// holds accounts: the dashboard then shows its sign-in form (without it,
// only the read token can help, and the page asks for that).
const SignInHeader = "X-Emgd-Sign-In"

// Defaults of a Guard's settings.
const (
	// DefaultSessionTTL is how long a dashboard session lasts from its
	// login: a fixed lifetime, not extended by use.
	DefaultSessionTTL = 12 * time.Hour
	// DefaultMaxFailures failed logins in a row for an email lock it.
	DefaultMaxFailures = 5
	// DefaultLockFor is how long a locked email answers 429.
	DefaultLockFor = 15 * time.Minute
	// touchEvery: a session's last use is written at most this often.
	touchEvery = time.Minute
)

// JWTVerifier checks an external identity's bearer token (*Verifier). An
// error wrapping ErrUnavailable means the identity provider could not be
// reached (the guard answers 503); any other, that the token is refused.
type JWTVerifier interface {
	Verify(ctx context.Context, raw string) (Identity, error)
}

// Guard decides who makes each request and lets it through with its
// Principal and an Auditor in the context, or answers 401, 403 or 503.
//
// Credentials, in order: "Authorization: Bearer" with the static read
// token (admin), an API token (emgd_...), or a JWT of a configured
// external identity (the user found by email, never created); else the
// session cookie, whose requests that change state need X-CSRF-Token.
// While the database holds no account and no read token is set, every
// request passes as an admin (ViaOpen): the service as it was before
// accounts. The first account, made by emgd users add in another process
// or on another replica, switches a running server to accounts: Wrap asks
// the database on each request until one exists, so a guarded route
// answers 401 from the next request on; accounts are never deleted (only
// disabled), so that yes is kept for the process's life and never asked
// again. Authenticated, which only decides what the storage webhook's
// answer may carry, trusts a "no account" answer for OpenRecheck: an
// unauthenticated webhook asks the database at most about once a second,
// and may answer session data for up to OpenRecheck after the first
// account appeared.
//
// A user's role, disabled flag and patients are read on every request:
// disabling a user or changing their patients takes effect at once on
// every replica.
type Guard struct {
	// Accounts is the database (nil: no accounts, only the read token).
	Accounts store.Accounts
	// ReadToken is the static admin-level bearer token (--read-token).
	ReadToken string
	// JWT checks external identities' tokens; nil: none configured.
	JWT JWTVerifier
	Log *slog.Logger
	// SessionTTL, MaxFailures and LockFor default to DefaultSessionTTL,
	// DefaultMaxFailures and DefaultLockFor.
	SessionTTL  time.Duration
	MaxFailures int
	LockFor     time.Duration
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time

	accountsOn atomic.Bool
	// openUntil is when (UnixNano, the guard's clock) Authenticated asks
	// again after the database said it holds no account.
	openUntil atomic.Int64
}

// OpenRecheck is how long Authenticated trusts the database's "no account"
// answer: the storage webhook, whose answer time matters, does not ask it
// on every request while the service is open.
const OpenRecheck = time.Second

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

func (g *Guard) log() *slog.Logger {
	if g.Log != nil {
		return g.Log
	}
	return slog.Default()
}

func (g *Guard) sessionTTL() time.Duration {
	if g.SessionTTL > 0 {
		return g.SessionTTL
	}
	return DefaultSessionTTL
}

func (g *Guard) maxFailures() int {
	if g.MaxFailures > 0 {
		return g.MaxFailures
	}
	return DefaultMaxFailures
}

func (g *Guard) lockFor() time.Duration {
	if g.LockFor > 0 {
		return g.LockFor
	}
	return DefaultLockFor
}

// AccountsOn reports whether the database holds an account: then every
// request needs credentials. Only the positive answer is kept: while it
// is no, each call asks the database.
func (g *Guard) AccountsOn(ctx context.Context) (bool, error) {
	if g.accountsOn.Load() {
		return true, nil
	}
	if g.Accounts == nil {
		return false, nil
	}
	has, err := g.Accounts.HasUsers(ctx)
	if err != nil {
		return false, err
	}
	if has {
		g.accountsOn.Store(true)
	}
	return has, nil
}

// accountsOnRecently is AccountsOn with its no kept for OpenRecheck
// (stamped from before the question, so that no answer is trusted longer).
func (g *Guard) accountsOnRecently(ctx context.Context) (bool, error) {
	if g.accountsOn.Load() {
		return true, nil
	}
	now := g.now()
	if now.UnixNano() < g.openUntil.Load() {
		return false, nil
	}
	on, err := g.AccountsOn(ctx)
	if err == nil && !on {
		g.openUntil.Store(now.Add(OpenRecheck).UnixNano())
	}
	return on, err
}

// denial is why a request is refused.
type denial struct {
	code int
	msg  string
	// clearCookie: the request's session cookie names no live session.
	clearCookie bool
}

var (
	errNoCredentials = &denial{code: http.StatusUnauthorized, msg: "sign in, or send a bearer token"}
	errUnavailable   = &denial{code: http.StatusServiceUnavailable, msg: "database unavailable"}
)

func refuse(msg string) *denial { return &denial{code: http.StatusUnauthorized, msg: msg} }

// bearerToken returns the request's bearer token, if any.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// resolve finds who makes r, asking accountsOn whether the database holds
// an account (AccountsOn, or accountsOnRecently).
func (g *Guard) resolve(r *http.Request, accountsOn func(context.Context) (bool, error)) (*Principal, *denial) {
	ctx := r.Context()
	if tok, ok := bearerToken(r); ok {
		return g.bearer(ctx, tok, accountsOn)
	}
	stale := false
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		p, d := g.cookie(ctx, c.Value)
		if d == nil || d.code != http.StatusUnauthorized {
			return p, d
		}
		stale = true // an unknown or expired session is no credential
	}
	on, err := accountsOn(ctx)
	if err != nil {
		g.log().Warn("auth: accounts unreadable", "error", err)
		return nil, errUnavailable
	}
	if !on && g.ReadToken == "" {
		return &Principal{Role: Admin, Via: ViaOpen}, nil
	}
	if stale {
		return nil, &denial{code: http.StatusUnauthorized, msg: "the session has ended: sign in again", clearCookie: true}
	}
	return nil, errNoCredentials
}

// bearer resolves an Authorization: Bearer token.
func (g *Guard) bearer(ctx context.Context, tok string, accountsOn func(context.Context) (bool, error)) (*Principal, *denial) {
	if g.ReadToken != "" && constantEqual(tok, g.ReadToken) {
		return &Principal{Role: Admin, Via: ViaStatic}, nil
	}
	on, err := accountsOn(ctx)
	if err != nil {
		g.log().Warn("auth: accounts unreadable", "error", err)
		return nil, errUnavailable
	}
	if !on {
		if g.ReadToken == "" {
			// No account and no read token: the open service ignores
			// credentials, as it always did.
			return &Principal{Role: Admin, Via: ViaOpen}, nil
		}
		return nil, refuse("the bearer token is not valid")
	}
	switch {
	case strings.HasPrefix(tok, APITokenPrefix):
		t, err := g.Accounts.GetAPIToken(ctx, TokenHash(tok))
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("the API token is not valid")
		}
		if err != nil {
			g.log().Warn("auth: API token unreadable", "error", err)
			return nil, errUnavailable
		}
		return g.userPrincipal(ctx, t.User, ViaToken, "")
	case g.JWT != nil && looksLikeJWT(tok):
		id, err := g.JWT.Verify(ctx, tok)
		if errors.Is(err, ErrUnavailable) {
			g.log().Warn("auth: identity provider unavailable", "error", err)
			return nil, &denial{code: http.StatusServiceUnavailable, msg: "identity provider unavailable"}
		}
		if err != nil {
			g.log().Info("auth: JWT refused", "error", err)
			return nil, refuse("the bearer token is not valid")
		}
		if id.Email == "" {
			return nil, refuse("the token names no user")
		}
		u, err := g.Accounts.GetUserByEmail(ctx, id.Email)
		if errors.Is(err, store.ErrNotFound) {
			return nil, refuse("no account for this identity")
		}
		if err != nil {
			g.log().Warn("auth: user unreadable", "error", err)
			return nil, errUnavailable
		}
		return g.userPrincipal(ctx, *u, ViaJWT, "")
	}
	return nil, refuse("the bearer token is not valid")
}

// cookie resolves a session cookie's token.
func (g *Guard) cookie(ctx context.Context, tok string) (*Principal, *denial) {
	if g.Accounts == nil {
		return nil, refuse("no such session")
	}
	hash := TokenHash(tok)
	s, err := g.Accounts.GetAuthSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse("no such session")
	}
	if err != nil {
		g.log().Warn("auth: session unreadable", "error", err)
		return nil, errUnavailable
	}
	now := g.now()
	if !now.Before(s.ExpiresAt) {
		return nil, refuse("the session has expired")
	}
	p, d := g.userPrincipal(ctx, s.User, ViaCookie, s.CSRFToken)
	if d != nil {
		return nil, d
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := g.Accounts.TouchAuthSession(ctx, hash, now); err != nil {
			g.log().Warn("auth: session use not recorded", "error", err)
		}
	}
	return p, nil
}

// userPrincipal is the principal of a user, with their patients read now
// for a therapist; a disabled user is refused.
func (g *Guard) userPrincipal(ctx context.Context, u store.User, via, csrf string) (*Principal, *denial) {
	if u.Disabled {
		return nil, refuse("this account is disabled")
	}
	p := &Principal{UserID: u.ID, Email: u.Email, Role: Role(u.Role), Via: via, CSRF: csrf}
	switch p.Role {
	case Admin:
	case Therapist:
		patients, err := g.Accounts.UserPatients(ctx, u.ID)
		if err != nil {
			g.log().Warn("auth: patients unreadable", "error", err)
			return nil, errUnavailable
		}
		p.Patients = patients
	default:
		return nil, refuse("this account has no valid role")
	}
	return p, nil
}

// safeMethod reports whether a method never changes state.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Wrap guards h: it answers 401 (no or refused credentials), 403 (a
// cookie-authenticated change without the session's X-CSRF-Token) or 503
// (database or identity provider unavailable), and otherwise calls h with
// the Principal and the Auditor in the request's context.
func (g *Guard) Wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, d := g.resolve(r, g.AccountsOn)
		if d != nil {
			g.deny(w, r, d)
			return
		}
		if p.Via == ViaCookie && !safeMethod(r.Method) && !constantEqual(r.Header.Get(CSRFHeader), p.CSRF) {
			g.deny(w, r, &denial{code: http.StatusForbidden, msg: "missing or wrong " + CSRFHeader})
			return
		}
		h(w, r.WithContext(g.Context(r.Context(), p)))
	}
}

// Context returns ctx carrying p and the guard's auditor.
func (g *Guard) Context(ctx context.Context, p *Principal) context.Context {
	ctx = WithPrincipal(ctx, p)
	if g.Accounts != nil {
		ctx = WithAuditor(ctx, guardAuditor{g})
	}
	return ctx
}

// Authenticated reports whether r carries credentials the guard accepts
// (always true while the service is open). CSRF is not checked. It decides
// only what an answer may carry (the storage webhook's session data), so
// a "no account" answer of the database is trusted for OpenRecheck: a
// first account made elsewhere is seen within OpenRecheck, not at once as
// Wrap sees it.
func (g *Guard) Authenticated(r *http.Request) bool {
	p, _ := g.resolve(r, g.accountsOnRecently)
	return p != nil
}

func (g *Guard) deny(w http.ResponseWriter, r *http.Request, d *denial) {
	if d.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
		// Every path to a 401 has asked AccountsOn, which keeps a yes.
		if g.accountsOn.Load() {
			w.Header().Set(SignInHeader, "/auth/login")
		}
	}
	if d.clearCookie {
		http.SetCookie(w, sessionCookie(r, "", -1, time.Time{}))
	}
	writeJSON(w, d.code, apidoc.ErrorResponse{Success: false, Error: d.msg})
}

// sessionCookie is the session cookie carrying value (maxAge < 0 deletes
// it): HttpOnly, SameSite=Lax, Path=/, Secure unless the request came over
// plain HTTP to localhost.
func sessionCookie(r *http.Request, value string, maxAge int, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge, Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secureCookie(r)}
}

// secureCookie reports whether the session cookie must be Secure: always,
// except for a plain-HTTP request to localhost, 127.0.0.1 or ::1 (a
// browser would not send a Secure cookie back over plain HTTP there).
func secureCookie(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"success":false,"error":"response encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// guardAuditor appends audit entries to the guard's database, stamped by
// the guard's clock; an entry it cannot write is logged with its cause.
type guardAuditor struct{ g *Guard }

func (a guardAuditor) Append(ctx context.Context, e Entry) error {
	err := a.g.Accounts.AppendAudit(ctx, store.AuditEntry{At: a.g.now(), User: e.User, Action: e.Action,
		PatientCode: e.PatientCode, SessionID: e.SessionID, IP: e.IP})
	if err != nil {
		a.g.log().Error("audit trail unavailable", "action", e.Action, "patient", e.PatientCode, "error", err)
	}
	return err
}
