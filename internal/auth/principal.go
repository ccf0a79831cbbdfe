package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"emgd/internal/store"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	// Admin may do everything, including managing users and assignments.
	Admin Role = "admin"
	// Therapist sees and changes only the patients assigned to them;
	// another patient answers 404, as if absent.
	Therapist Role = "therapist"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == Admin || r == Therapist }

// How a principal was authenticated (Principal.Via).
const (
	ViaOpen   = "open"   // no account configured: today's open service
	ViaStatic = "static" // the --read-token, admin level
	ViaCookie = "cookie" // a dashboard session
	ViaToken  = "token"  // an API token (emgd tokens create)
	ViaJWT    = "jwt"    // an external identity's JWT (HS256 or OIDC)
)

// Principal is who makes a request, as the guard resolved it.
type Principal struct {
	UserID string // "" for ViaOpen and ViaStatic
	Email  string // "" for ViaOpen and ViaStatic
	Role   Role
	// Patients are the patient codes assigned to a therapist, sorted.
	Patients []string
	Via      string
	// CSRF is the session's CSRF token (ViaCookie only): requests that
	// change state must carry it in X-CSRF-Token.
	CSRF string
}

// All reports whether p sees every patient (an admin, or no principal at
// all: a handler served without a guard, as in unit tests).
func (p *Principal) All() bool { return p == nil || p.Role == Admin }

// May reports whether p may see and change patient's data.
func (p *Principal) May(patient string) bool {
	if p.All() {
		return true
	}
	_, found := slices.BinarySearch(p.Patients, patient)
	return found
}

// Name is how logs and the audit trail name p: the email, or the way it
// was let in ("open", "static").
func (p *Principal) Name() string {
	switch {
	case p == nil:
		return ""
	case p.Email != "":
		return p.Email
	}
	return p.Via
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil when no guard ran.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// May reports whether the request's principal may see and change patient's
// data. Handlers answer 404 when it may not, exactly as for an absent
// patient or session.
func May(ctx context.Context, patient string) bool { return FromContext(ctx).May(patient) }

// Scope is the request principal's patient scope for listings, filtered
// in SQL: restricted to its patients (an empty list then shows nothing),
// or not restricted at all.
func Scope(ctx context.Context) store.Scope {
	p := FromContext(ctx)
	if p.All() {
		return store.Scope{}
	}
	return store.Scope{Patients: p.Patients, Restricted: true}
}

// Entry is one line of the audit trail: who did what to which patient.
type Entry struct {
	At          time.Time
	User        string // Principal.Name()
	Action      string // e.g. "session.read", "signals.read", "export.csv", "settings.update"
	PatientCode string
	SessionID   string
	IP          string
}

// Auditor appends entries to the audit trail.
type Auditor interface {
	Append(ctx context.Context, e Entry) error
}

type auditorKey struct{}

// WithAuditor returns ctx carrying a (set by the guard).
func WithAuditor(ctx context.Context, a Auditor) context.Context {
	return context.WithValue(ctx, auditorKey{}, a)
}

// ErrAuditUnavailable is what Audit's errors are: the entry was not
// written, so the request is refused with 503 (httperr.Status) and nothing
// of the patient's data is served or changed. Its text is the answer's
// message, in each API's error shape.
var ErrAuditUnavailable = errors.New("audit trail unavailable")

// auditError is Audit's error: its text is ErrAuditUnavailable's, safe to
// answer; the cause (logged by the guard's auditor) unwraps.
type auditError struct{ cause error }

func (e *auditError) Error() string   { return ErrAuditUnavailable.Error() }
func (e *auditError) Unwrap() []error { return []error{ErrAuditUnavailable, e.cause} }

// Audit records that the request's principal did action on patient (and
// session, when one): every read of patient data and every change. It
// fills At, User and IP from the request. Without an auditor in the
// context (no guard ran) it does nothing. An error (ErrAuditUnavailable)
// means the entry was not written: the handler answers it as it answers
// any error, a 503, rather than serve health data unrecorded.
func Audit(r *http.Request, action, patient, sessionID string) error {
	a, _ := r.Context().Value(auditorKey{}).(Auditor)
	if a == nil {
		return nil
	}
	if err := a.Append(r.Context(), Entry{
		At: time.Now().UTC(), User: FromContext(r.Context()).Name(), Action: action,
		PatientCode: patient, SessionID: sessionID, IP: clientIP(r),
	}); err != nil {
		return &auditError{cause: err}
	}
	return nil
}

// clientIP is the request's remote address without its port.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			return trimBrackets(host[:i])
		}
	}
	return host
}

func trimBrackets(s string) string {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}
