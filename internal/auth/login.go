package auth

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"emgd/internal/store"
)

// LoginRequest is the body of POST /auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// MeResponse is who the request's credentials name (GET /auth/me, and the
// answer of a login).
type MeResponse struct {
	Success bool   `json:"success" doc:"always true"`
	Email   string `json:"email" doc:"the user's email; empty for the open service and the static read token"`
	Role    Role   `json:"role" enum:"admin,therapist"`
	// Patients are a therapist's patients; an admin sees every patient.
	Patients    []string   `json:"patients" doc:"the patient codes a therapist sees, sorted; empty for an admin, who sees every patient"`
	AllPatients bool       `json:"all_patients" doc:"true for an admin: every patient"`
	CSRFToken   string     `json:"csrf_token" doc:"send it as X-CSRF-Token on every request that changes state (cookie sessions only; empty otherwise)"`
	Via         string     `json:"via" enum:"open,static,cookie,token,jwt" doc:"how the request was authenticated: open (no account configured), static (the read token), cookie, token (API token) or jwt"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty" doc:"when the session ends (login only)"`
}

// LogoutResponse answers POST /auth/logout.
type LogoutResponse struct {
	Success bool `json:"success" doc:"always true"`
}

// maxLoginBody bounds a login request.
const maxLoginBody = 64 << 10

// loginFailed is the one answer to a wrong email or password.
const loginFailed = "wrong email or password"

func meOf(p *Principal) MeResponse {
	patients := p.Patients
	if patients == nil {
		patients = []string{}
	}
	return MeResponse{Success: true, Email: p.Email, Role: p.Role, Patients: patients, AllPatients: p.Role == Admin,
		CSRFToken: p.CSRF, Via: p.Via}
}

// login handles POST /auth/login.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.Contains(strings.ToLower(ct), "json") {
		// A cross-site form cannot send JSON without a preflight.
		writeError(w, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	var req LoginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over 64 KiB")
			return
		}
		writeError(w, http.StatusBadRequest, "the body must be a JSON object {email, password}")
		return
	}
	email := store.NormalizeEmail(req.Email)
	if email == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "email and password are required")
		return
	}
	if len(email) > 254 {
		writeError(w, http.StatusBadRequest, "email is too long")
		return
	}
	if g.Accounts == nil {
		writeError(w, http.StatusUnauthorized, loginFailed)
		return
	}
	ctx := r.Context()
	now := g.now()
	th, err := g.Accounts.GetLoginThrottle(ctx, email)
	if err != nil {
		g.log().Warn("auth: login throttle unreadable", "error", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	if th.LockedUntil != nil && now.Before(*th.LockedUntil) {
		g.tooMany(w, r, *th.LockedUntil, now)
		return
	}
	u, err := g.Accounts.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.log().Warn("auth: user unreadable", "error", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	// Unknown emails, accounts without a password and disabled accounts
	// cost the same hash as a wrong password and get the same answer.
	hash := dummyHash()
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, verr := verifyCtx(ctx, hash, req.Password)
	if verr != nil && ctx.Err() == nil && hash != dummyHash() {
		g.log().Warn("auth: a stored password hash is unreadable", "user", u.Email)
	}
	if !ok || u == nil || u.PasswordHash == "" || u.Disabled {
		g.failedLogin(w, r, email, u, now)
		return
	}
	if err := g.Accounts.ClearLoginFailures(ctx, email); err != nil {
		g.log().Warn("auth: login failures not cleared", "error", err)
	}
	p, d := g.userPrincipal(ctx, *u, ViaCookie, randomToken())
	if d != nil {
		g.deny(w, r, d)
		return
	}
	tok := randomToken()
	expires := now.Add(g.sessionTTL())
	if err := g.Accounts.CreateAuthSession(ctx, store.AuthSession{TokenHash: TokenHash(tok), UserID: u.ID, CSRFToken: p.CSRF,
		CreatedAt: now, ExpiresAt: expires, LastSeenAt: now}); err != nil {
		g.log().Warn("auth: session not stored", "error", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	g.audit(ctx, r, u.Email, "auth.login")
	g.sweep(ctx, now)
	http.SetCookie(w, sessionCookie(r, tok, int(g.sessionTTL()/time.Second), expires))
	out := meOf(p)
	out.ExpiresAt = &expires
	writeJSON(w, http.StatusOK, out)
}

// failedLogin counts a failure for email and answers 401.
func (g *Guard) failedLogin(w http.ResponseWriter, r *http.Request, email string, u *store.User, now time.Time) {
	ctx := r.Context()
	th, err := g.Accounts.RecordLoginFailure(ctx, email, now, g.maxFailures(), now.Add(g.lockFor()))
	if err != nil {
		g.log().Warn("auth: login failure not counted", "error", err)
		writeError(w, http.StatusServiceUnavailable, "database unavailable")
		return
	}
	// The audit names the user only when the email is an account's: a
	// mistyped password in the email field stays out of it.
	who := ""
	if u != nil {
		who = u.Email
	}
	g.audit(ctx, r, who, "auth.login_failed")
	if th.LockedUntil != nil && now.Before(*th.LockedUntil) {
		g.log().Warn("auth: logins locked after failures in a row", "failures", th.Failures, "until", th.LockedUntil.Format(time.RFC3339), "ip", clientIP(r))
	} else {
		g.log().Info("auth: login refused", "ip", clientIP(r))
	}
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeError(w, http.StatusUnauthorized, loginFailed)
}

func (g *Guard) tooMany(w http.ResponseWriter, r *http.Request, until, now time.Time) {
	secs := int(math.Ceil(until.Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	g.log().Info("auth: login refused while locked", "ip", clientIP(r))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "too many failed logins for this email: try again in "+(time.Duration(secs)*time.Second).String())
}

// audit appends an entry about an account (no patient) to the trail; a
// failure is logged, not answered.
func (g *Guard) audit(ctx context.Context, r *http.Request, user, action string) {
	if err := g.Accounts.AppendAudit(ctx, store.AuditEntry{At: g.now(), User: user, Action: action, IP: clientIP(r)}); err != nil {
		g.log().Warn("auth: audit entry not written", "action", action, "error", err)
	}
}

// sweep deletes expired sessions and old login failures; it runs after a
// login, so the tables stay small without a loop of their own.
func (g *Guard) sweep(ctx context.Context, now time.Time) {
	if _, err := g.Accounts.DeleteExpiredAuthSessions(ctx, now); err != nil {
		g.log().Warn("auth: expired sessions not deleted", "error", err)
	}
	if _, err := g.Accounts.DeleteStaleLoginThrottles(ctx, now.Add(-24*time.Hour)); err != nil {
		g.log().Warn("auth: old login failures not deleted", "error", err)
	}
}

// logout handles POST /auth/logout: the cookie's session is deleted (its
// CSRF token required) and the cookie cleared.
func (g *Guard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && g.Accounts != nil {
		hash := TokenHash(c.Value)
		s, err := g.Accounts.GetAuthSession(r.Context(), hash)
		switch {
		case err == nil:
			if !constantEqual(r.Header.Get(CSRFHeader), s.CSRFToken) {
				writeError(w, http.StatusForbidden, "missing or wrong "+CSRFHeader)
				return
			}
			if err := g.Accounts.DeleteAuthSession(r.Context(), hash); err != nil {
				g.log().Warn("auth: session not deleted", "error", err)
				writeError(w, http.StatusServiceUnavailable, "database unavailable")
				return
			}
			g.audit(r.Context(), r, s.User.Email, "auth.logout")
		case !errors.Is(err, store.ErrNotFound):
			g.log().Warn("auth: session unreadable", "error", err)
			writeError(w, http.StatusServiceUnavailable, "database unavailable")
			return
		}
	}
	http.SetCookie(w, sessionCookie(r, "", -1, time.Time{}))
	writeJSON(w, http.StatusOK, LogoutResponse{Success: true})
}

// me handles GET /auth/me.
func (g *Guard) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, meOf(FromContext(r.Context())))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}{false, msg})
}
