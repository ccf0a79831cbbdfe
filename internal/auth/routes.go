package auth

import (
	"net/http"

	"emgd/internal/apidoc"
)

func jsonAnswer(code int, desc string, v any) apidoc.Response {
	return apidoc.Response{Status: code, Description: desc, ContentType: "application/json", Type: v}
}

func errAnswer(code int, desc string) apidoc.Response {
	return jsonAnswer(code, desc, apidoc.ErrorResponse{})
}

// Register adds the account routes to mux: POST /auth/login, POST
// /auth/logout, GET /auth/me and GET /audit.
func (g *Guard) Register(mux apidoc.Router) {
	tags := []string{"accounts"}
	guarded := []string{apidoc.ReadToken}
	unavailable := errAnswer(http.StatusServiceUnavailable, "Database unavailable")
	unauthorized := errAnswer(http.StatusUnauthorized, "No credentials, or refused ones (unknown, expired, revoked, disabled account)")
	unauthorized.Headers = map[string]string{SignInHeader: "/auth/login, when the server has accounts (sign in there); absent when only the read token is accepted"}
	cookie := map[string]string{"Set-Cookie": SessionCookie + "=<token>; Path=/; Max-Age=<seconds>; HttpOnly; SameSite=Lax; Secure (not on plain-HTTP localhost)"}
	login := jsonAnswer(http.StatusOK, "Signed in: the session cookie is set; csrf_token goes in X-CSRF-Token on requests that change state", MeResponse{})
	login.Headers = cookie
	tooMany := errAnswer(http.StatusTooManyRequests, "Too many failed logins in a row for this email: every attempt (the right password too) is refused until the cool-down ends")
	tooMany.Headers = map[string]string{"Retry-After": "seconds until the cool-down ends"}
	logout := jsonAnswer(http.StatusOK, "Signed out: the session is deleted and the cookie cleared", LogoutResponse{})
	logout.Headers = map[string]string{"Set-Cookie": SessionCookie + "=; Max-Age=0 (cleared)"}
	apidoc.Handle(mux, apidoc.Op{Method: "POST", Path: "/auth/login", Tags: tags, Summary: "Sign in with email and password",
		Description: "Checks the password (argon2id) and starts a dashboard session: a cookie (HttpOnly, SameSite=Lax, Secure unless the request is plain HTTP to localhost) " +
			"valid for a fixed 12 hours from the login. A wrong email or password answers 401 with one message whether the account exists or not. " +
			"After 5 failed logins in a row for an email, every attempt for it answers 429 for 15 minutes (counted in the database: every replica refuses it).",
		Body: &apidoc.Body{ContentType: "application/json", Type: LoginRequest{}, Required: true},
		Responses: []apidoc.Response{login,
			errAnswer(http.StatusBadRequest, "Not a JSON object {email, password}, or one of them empty"),
			errAnswer(http.StatusUnauthorized, "Wrong email or password"),
			errAnswer(http.StatusRequestEntityTooLarge, "Body over 64 KiB"),
			errAnswer(http.StatusUnsupportedMediaType, "Not JSON"),
			tooMany, unavailable}},
		http.HandlerFunc(g.login))
	apidoc.Handle(mux, apidoc.Op{Method: "POST", Path: "/auth/logout", Tags: tags, Summary: "Sign out",
		Description: "Deletes the session the cookie names (its CSRF token required in X-CSRF-Token) and clears the cookie. Without a live session it only clears the cookie.",
		Responses: []apidoc.Response{logout,
			errAnswer(http.StatusForbidden, "The session's CSRF token is missing or wrong"), unavailable}},
		http.HandlerFunc(g.logout))
	apidoc.Handle(mux, apidoc.Op{Method: "GET", Path: "/auth/me", Tags: tags, Security: guarded, Summary: "Who the request's credentials name",
		Description: "The user (email, role, patients) and, for a cookie session, its CSRF token. Without any account configured it answers the open service (via open, role admin).",
		Responses:   []apidoc.Response{jsonAnswer(http.StatusOK, "The user", MeResponse{}), unauthorized, unavailable}},
		g.Wrap(g.me))
	apidoc.Handle(mux, apidoc.Op{Method: "GET", Path: "/audit", Tags: tags, Security: guarded, Summary: "The audit trail (admins)",
		Description: "Every read of patient data and every change, newest first: who, what, which patient and session, from which address. " +
			"Admins only: a therapist gets 403 (the trail is no patient's data).",
		Params: []apidoc.Param{
			{Name: "patient", In: "query", Description: "a patient code", Type: ""},
			{Name: "user", In: "query", Description: "a user's email (any case), or open/static/cli: the entries it made and, for an account, those that changed it (target)", Type: ""},
			{Name: "from", In: "query", Description: "first day (YYYY-MM-DD, UTC) or time (RFC 3339), inclusive", Type: ""},
			{Name: "to", In: "query", Description: "last day (YYYY-MM-DD, UTC, the whole day) or time (RFC 3339), inclusive", Type: ""},
			{Name: "limit", In: "query", Description: "1 to 1000 (default 100)", Type: 0},
			{Name: "cursor", In: "query", Description: "next_cursor of the previous page", Type: ""}},
		Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "A page of the audit trail", AuditResponse{}),
			errAnswer(http.StatusBadRequest, "A malformed date, limit or cursor, or from after to"),
			unauthorized, errAnswer(http.StatusForbidden, "Not an admin"), unavailable}},
		g.Wrap(g.auditList))
}
