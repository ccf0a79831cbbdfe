package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// The roles a user may have (internal/auth gives them their meaning).
const (
	RoleAdmin     = "admin"
	RoleTherapist = "therapist"
)

// User is a local account. Its email is stored lower-case and unique
// whatever its case; PasswordHash is an argon2id PHC string, or "" for a
// user who signs in only through an external identity or API tokens.
type User struct {
	ID           string // UUID
	Email        string
	Role         string
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	// Patients are the assigned patient codes, sorted; filled by ListUsers
	// only (UserPatients reads them for one user).
	Patients []string
}

// NewUser describes an account to create.
type NewUser struct {
	Email        string // required; stored lower-case
	Role         string // RoleAdmin or RoleTherapist
	PasswordHash string // may be empty
}

// AuthSession is a dashboard session. TokenHash is the hex SHA-256 of the
// cookie's token: the token itself is never stored.
type AuthSession struct {
	TokenHash  string
	UserID     string
	CSRFToken  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	// User is the session's user, read with it (GetAuthSession).
	User User
}

// APIToken is a token for scripts. TokenHash is the hex SHA-256 of the
// token: the token itself is never stored.
type APIToken struct {
	ID        string // UUID
	TokenHash string
	Name      string
	UserID    string
	CreatedAt time.Time
	RevokedAt *time.Time
	// User is the token's user, read with it (GetAPIToken, ListAPITokens).
	User User
}

// NewAPIToken describes a token to create.
type NewAPIToken struct {
	UserID    string // required
	Name      string // required; unique among the user's tokens not revoked
	TokenHash string // required: the hex SHA-256 of the token
}

// LoginThrottle is the failed-login state of an email: Failures in a row,
// and while LockedUntil is in the future every attempt is refused.
type LoginThrottle struct {
	Email       string
	Failures    int
	LockedUntil *time.Time
}

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	ID   int64 // assigned by AppendAudit, increasing
	At   time.Time
	User string // who acted: an email, how an anonymous principal came in ("open", "static"), or "cli" for the command line
	// Target is the account the action changed, its email as stored
	// (lower-case), "" when the action concerns no account: emgd users and
	// tokens write it beside User "cli"; a login names its account as
	// User, not here.
	Target      string
	Action      string // e.g. "session.read", "auth.login"
	PatientCode string // "" when none
	SessionID   string // "" when none
	IP          string
}

// AuditFilter filters and pages ListAudit.
type AuditFilter struct {
	PatientCode string // "" for any
	// User is "" for any, else an email in any case, or "open", "static"
	// or "cli": the entries that principal made and, for an account, the
	// entries that changed it (Target). So a filter by an account finds
	// what it did and what was done to it with the command line, as it
	// did when those entries named the account as their user; User in
	// each entry tells which.
	User string
	From time.Time // when set, entries at or after it
	To   time.Time // when set, entries strictly before it
	// Limit defaults to 100 and is capped at 1000.
	Limit int
	// Cursor is AuditPage.NextCursor of the previous page, or "".
	Cursor string
}

// AuditPage is a page of the audit trail, newest first.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string // "" on the last page
}

// Page sizes of ListAudit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// Accounts are the operations on users, their patients, sessions, API
// tokens, login throttling and the audit trail. Every Store implements
// them (AccountsOf).
type Accounts interface {
	// CreateUser creates an account (ErrDuplicate when the email, in any
	// case, is taken; ErrInvalidInput for a malformed email or role).
	CreateUser(ctx context.Context, n NewUser) (*User, error)
	// GetUser finds a user by id, GetUserByEmail by email in any case.
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// ListUsers returns every user with their patients, by email.
	ListUsers(ctx context.Context) ([]User, error)
	// HasUsers reports whether any account exists (disabled ones count).
	HasUsers(ctx context.Context) (bool, error)
	// SetUserDisabled disables or enables a user; a disabled user's
	// sessions and tokens stop working at once (the guard checks).
	SetUserDisabled(ctx context.Context, id string, disabled bool) error
	// SetUserPassword replaces a user's password hash.
	SetUserPassword(ctx context.Context, id, passwordHash string) error
	// AssignPatient gives a user a patient (added false when it had it;
	// ErrInvalidInput when patientCode is not IsPatientCode); UnassignPatient
	// takes it away (removed false when it had not).
	AssignPatient(ctx context.Context, userID, patientCode string) (added bool, err error)
	UnassignPatient(ctx context.Context, userID, patientCode string) (removed bool, err error)
	// UserPatients returns a user's patient codes, sorted.
	UserPatients(ctx context.Context, userID string) ([]string, error)

	// CreateAuthSession stores a dashboard session (its User is ignored).
	CreateAuthSession(ctx context.Context, s AuthSession) error
	// GetAuthSession finds a session by its token's hash, with its user,
	// expired or not (the caller compares ExpiresAt with its clock).
	GetAuthSession(ctx context.Context, tokenHash string) (*AuthSession, error)
	// TouchAuthSession records that the session was used at at.
	TouchAuthSession(ctx context.Context, tokenHash string, at time.Time) error
	// DeleteAuthSession removes a session (logout); removing none is no
	// error.
	DeleteAuthSession(ctx context.Context, tokenHash string) error
	// DeleteExpiredAuthSessions removes the sessions expired before t.
	DeleteExpiredAuthSessions(ctx context.Context, t time.Time) (int64, error)

	// CreateAPIToken stores a token's hash (ErrDuplicate, naming the
	// user's email, when the user has a token of that name not revoked;
	// ErrNotFound for an unknown user). The token returned has no User
	// (GetAPIToken reads it with its user).
	CreateAPIToken(ctx context.Context, n NewAPIToken) (*APIToken, error)
	// GetAPIToken finds a token not revoked by its hash, with its user.
	GetAPIToken(ctx context.Context, tokenHash string) (*APIToken, error)
	// RevokeAPIToken revokes the user's token of that name (ErrNotFound
	// when there is none not revoked).
	RevokeAPIToken(ctx context.Context, userID, name string) error
	// ListAPITokens lists the tokens of a user ("" for every user), revoked
	// ones too, newest first.
	ListAPITokens(ctx context.Context, userID string) ([]APIToken, error)

	// GetLoginThrottle returns an email's failed-login state (zero
	// failures when it has none).
	GetLoginThrottle(ctx context.Context, email string) (*LoginThrottle, error)
	// RecordLoginFailure counts a failed login for email at at, in one
	// statement (replicas count together): a failure after a lock that
	// has ended starts the count again from 1; the limit-th failure in a
	// row locks the email until lockUntil.
	RecordLoginFailure(ctx context.Context, email string, at time.Time, limit int, lockUntil time.Time) (*LoginThrottle, error)
	// ClearLoginFailures forgets an email's failures (a successful login).
	ClearLoginFailures(ctx context.Context, email string) error
	// DeleteStaleLoginThrottles forgets the failures last counted before
	// t whose lock, if any, ended before t.
	DeleteStaleLoginThrottles(ctx context.Context, t time.Time) (int64, error)

	// AppendAudit appends an entry to the audit trail.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit lists the audit trail newest first, filtered and paged.
	ListAudit(ctx context.Context, f AuditFilter) (*AuditPage, error)
}

// AccountsOf returns the accounts operations of s.
func AccountsOf(s Store) (Accounts, bool) {
	a, ok := s.(Accounts)
	return a, ok
}

// NormalizeEmail is the form emails are stored and compared in: trimmed,
// lower-case.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkEmail returns the stored form of email, or ErrInvalidInput.
func checkEmail(email string) (string, error) {
	e := NormalizeEmail(email)
	at := strings.LastIndexByte(e, '@')
	if e == "" || len(e) > 254 || at < 1 || at == len(e)-1 || strings.IndexFunc(e, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return "", fmt.Errorf("%w: %q is not an email address", ErrInvalidInput, email)
	}
	return e, nil
}

func checkRole(role string) error {
	if role != RoleAdmin && role != RoleTherapist {
		return fmt.Errorf("%w: role %q (want %s or %s)", ErrInvalidInput, role, RoleAdmin, RoleTherapist)
	}
	return nil
}

const userCols = `u.id, u.email, u.role, u.password_hash, u.disabled, u.created_at`

func scanUserInto(u *User, created *dbTime) []any {
	return []any{&u.ID, &u.Email, &u.Role, &u.PasswordHash, &u.Disabled, created}
}

func (q *queries) oneUser(ctx context.Context, what, where string, args ...any) (*User, error) {
	var u User
	var created dbTime
	err := q.c.queryRow(ctx, `SELECT `+userCols+` FROM users u WHERE `+where, args...).Scan(scanUserInto(&u, &created)...)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no user %s", ErrNotFound, args[0])
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	u.CreatedAt = created.t
	return &u, nil
}

func (q *queries) CreateUser(ctx context.Context, n NewUser) (*User, error) {
	email, err := checkEmail(n.Email)
	if err != nil {
		return nil, err
	}
	if err := checkRole(n.Role); err != nil {
		return nil, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	at := now()
	if _, err := q.c.exec(ctx, `INSERT INTO users (id, email, role, password_hash, disabled, created_at)
		VALUES ($1, $2, $3, $4, false, $5)`, id, email, n.Role, n.PasswordHash, q.d.ts(at)); err != nil {
		if q.d.classify(err) == errUnique {
			return nil, fmt.Errorf("%w: a user with email %s", ErrDuplicate, email)
		}
		return nil, fmt.Errorf("store: create user: %w", err)
	}
	return &User{ID: id, Email: email, Role: n.Role, PasswordHash: n.PasswordHash, CreatedAt: at}, nil
}

func (q *queries) GetUser(ctx context.Context, id string) (*User, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: no user %q", ErrNotFound, id)
	}
	return q.oneUser(ctx, "get user", `u.id = $1`, strings.ToLower(id))
}

func (q *queries) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	return q.oneUser(ctx, "get user", `lower(u.email) = $1`, NormalizeEmail(email))
}

func (q *queries) ListUsers(ctx context.Context) ([]User, error) {
	rs, err := q.c.query(ctx, `SELECT `+userCols+`, p.patient_code FROM users u
		LEFT JOIN user_patients p ON p.user_id = u.id ORDER BY u.email, p.patient_code`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rs.Close()
	out := []User{}
	for rs.Next() {
		var u User
		var created dbTime
		var patient *string
		if err := rs.Scan(append(scanUserInto(&u, &created), &patient)...); err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		u.CreatedAt = created.t
		if n := len(out); n == 0 || out[n-1].ID != u.ID {
			u.Patients = []string{}
			out = append(out, u)
		}
		if patient != nil {
			last := &out[len(out)-1]
			last.Patients = append(last.Patients, *patient)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return out, nil
}

func (q *queries) HasUsers(ctx context.Context) (bool, error) {
	var any bool
	if err := q.c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&any); err != nil {
		return false, fmt.Errorf("store: has users: %w", err)
	}
	return any, nil
}

// updateUser runs an UPDATE of one user by id; ErrNotFound when none.
func (q *queries) updateUser(ctx context.Context, what, set, id string, args ...any) error {
	if !validID(id) {
		return fmt.Errorf("%w: no user %q", ErrNotFound, id)
	}
	n, err := q.c.exec(ctx, `UPDATE users SET `+set+` WHERE id = $1`, append([]any{strings.ToLower(id)}, args...)...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no user %s", ErrNotFound, id)
	}
	return nil
}

func (q *queries) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	return q.updateUser(ctx, "disable user", `disabled = $2`, id, disabled)
}

func (q *queries) SetUserPassword(ctx context.Context, id, passwordHash string) error {
	return q.updateUser(ctx, "set password", `password_hash = $2`, id, passwordHash)
}

func (q *queries) AssignPatient(ctx context.Context, userID, patientCode string) (bool, error) {
	if !IsPatientCode(patientCode) {
		return false, fmt.Errorf("%w: patient code %q is not P followed by 1 to 12 digits", ErrInvalidInput, patientCode)
	}
	if !validID(userID) {
		return false, fmt.Errorf("%w: no user %q", ErrNotFound, userID)
	}
	// An unknown user is the foreign key's violation: no query before.
	n, err := q.c.exec(ctx, `INSERT INTO user_patients (user_id, patient_code, assigned_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, patient_code) DO NOTHING`, strings.ToLower(userID), patientCode, q.d.ts(now()))
	if err != nil {
		if q.d.classify(err) == errForeignKey {
			return false, fmt.Errorf("%w: no user %s", ErrNotFound, userID)
		}
		return false, fmt.Errorf("store: assign patient: %w", err)
	}
	return n > 0, nil
}

func (q *queries) UnassignPatient(ctx context.Context, userID, patientCode string) (bool, error) {
	if !validID(userID) {
		return false, fmt.Errorf("%w: no user %q", ErrNotFound, userID)
	}
	n, err := q.c.exec(ctx, `DELETE FROM user_patients WHERE user_id = $1 AND patient_code = $2`, strings.ToLower(userID), patientCode)
	if err != nil {
		return false, fmt.Errorf("store: unassign patient: %w", err)
	}
	return n > 0, nil
}

func (q *queries) UserPatients(ctx context.Context, userID string) ([]string, error) {
	out := []string{}
	if !validID(userID) {
		return out, nil
	}
	rs, err := q.c.query(ctx, `SELECT patient_code FROM user_patients WHERE user_id = $1 ORDER BY patient_code`, strings.ToLower(userID))
	if err != nil {
		return nil, fmt.Errorf("store: user patients: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var p string
		if err := rs.Scan(&p); err != nil {
			return nil, fmt.Errorf("store: user patients: %w", err)
		}
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: user patients: %w", err)
	}
	return out, nil
}

// checkTokenHash refuses anything but a hex SHA-256: a plain token must
// never reach the database.
func checkTokenHash(h string) error {
	if len(h) != 64 || strings.IndexFunc(h, func(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') }) >= 0 {
		return fmt.Errorf("%w: a token hash is 64 lower-case hex digits", ErrInvalidInput)
	}
	return nil
}

func (q *queries) CreateAuthSession(ctx context.Context, s AuthSession) error {
	if err := checkTokenHash(s.TokenHash); err != nil {
		return err
	}
	if !validID(s.UserID) || s.CSRFToken == "" || s.CreatedAt.IsZero() || s.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: a session needs a user, a CSRF token, a creation and an expiry time", ErrInvalidInput)
	}
	seen := s.LastSeenAt
	if seen.IsZero() {
		seen = s.CreatedAt
	}
	_, err := q.c.exec(ctx, `INSERT INTO auth_sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, s.TokenHash, strings.ToLower(s.UserID), s.CSRFToken,
		q.d.ts(s.CreatedAt), q.d.ts(s.ExpiresAt), q.d.ts(seen))
	switch {
	case err == nil:
		return nil
	case q.d.classify(err) == errForeignKey:
		return fmt.Errorf("%w: no user %s", ErrNotFound, s.UserID)
	case q.d.classify(err) == errUnique:
		return fmt.Errorf("%w: session token", ErrDuplicate)
	}
	return fmt.Errorf("store: create session: %w", err)
}

func (q *queries) GetAuthSession(ctx context.Context, tokenHash string) (*AuthSession, error) {
	var s AuthSession
	var created, expires, seen, ucreated dbTime
	err := q.c.queryRow(ctx, `SELECT a.token_hash, a.user_id, a.csrf_token, a.created_at, a.expires_at, a.last_seen_at, `+userCols+`
		FROM auth_sessions a JOIN users u ON u.id = a.user_id WHERE a.token_hash = $1`, tokenHash).
		Scan(append([]any{&s.TokenHash, &s.UserID, &s.CSRFToken, &created, &expires, &seen}, scanUserInto(&s.User, &ucreated)...)...)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no such session", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeenAt, s.User.CreatedAt = created.t, expires.t, seen.t, ucreated.t
	return &s, nil
}

func (q *queries) TouchAuthSession(ctx context.Context, tokenHash string, at time.Time) error {
	if _, err := q.c.exec(ctx, `UPDATE auth_sessions SET last_seen_at = $2 WHERE token_hash = $1`, tokenHash, q.d.ts(at)); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

func (q *queries) DeleteAuthSession(ctx context.Context, tokenHash string) error {
	if _, err := q.c.exec(ctx, `DELETE FROM auth_sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

func (q *queries) DeleteExpiredAuthSessions(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.c.exec(ctx, `DELETE FROM auth_sessions WHERE expires_at < $1`, q.d.ts(t))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}

func (q *queries) CreateAPIToken(ctx context.Context, n NewAPIToken) (*APIToken, error) {
	if err := checkTokenHash(n.TokenHash); err != nil {
		return nil, err
	}
	if strings.TrimSpace(n.Name) == "" {
		return nil, fmt.Errorf("%w: a token needs a name", ErrInvalidInput)
	}
	if !validID(n.UserID) {
		return nil, fmt.Errorf("%w: no user %q", ErrNotFound, n.UserID)
	}
	// One statement: an unknown user is the foreign key's violation (no
	// query before; the caller has found the user already). The user is
	// read only to name them when the name is taken.
	t := APIToken{ID: uuid.Must(uuid.NewV7()).String(), TokenHash: n.TokenHash, Name: n.Name, UserID: strings.ToLower(n.UserID), CreatedAt: now()}
	_, err := q.c.exec(ctx, `INSERT INTO api_tokens (id, token_hash, name, user_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.TokenHash, t.Name, t.UserID, q.d.ts(t.CreatedAt))
	switch {
	case err == nil:
		return &t, nil
	case q.d.classify(err) == errUnique:
		who := t.UserID
		if u, err := q.GetUser(ctx, t.UserID); err == nil {
			who = u.Email
		}
		return nil, fmt.Errorf("%w: %s already has a token named %q", ErrDuplicate, who, n.Name)
	case q.d.classify(err) == errForeignKey:
		return nil, fmt.Errorf("%w: no user %s", ErrNotFound, t.UserID)
	}
	return nil, fmt.Errorf("store: create token: %w", err)
}

const apiTokenCols = `t.id, t.token_hash, t.name, t.user_id, t.created_at, t.revoked_at, ` + userCols

func scanAPIToken(r row) (*APIToken, error) {
	var t APIToken
	var created, revoked, ucreated dbTime
	if err := r.Scan(append([]any{&t.ID, &t.TokenHash, &t.Name, &t.UserID, &created, &revoked}, scanUserInto(&t.User, &ucreated)...)...); err != nil {
		return nil, err
	}
	t.CreatedAt, t.RevokedAt, t.User.CreatedAt = created.t, revoked.ptr(), ucreated.t
	return &t, nil
}

func (q *queries) GetAPIToken(ctx context.Context, tokenHash string) (*APIToken, error) {
	t, err := scanAPIToken(q.c.queryRow(ctx, `SELECT `+apiTokenCols+` FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL`, tokenHash))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no such token", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get token: %w", err)
	}
	return t, nil
}

func (q *queries) RevokeAPIToken(ctx context.Context, userID, name string) error {
	if !validID(userID) {
		return fmt.Errorf("%w: no user %q", ErrNotFound, userID)
	}
	n, err := q.c.exec(ctx, `UPDATE api_tokens SET revoked_at = $3 WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL`,
		strings.ToLower(userID), name, q.d.ts(now()))
	if err != nil {
		return fmt.Errorf("store: revoke token: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: no token named %q that is not revoked", ErrNotFound, name)
	}
	return nil
}

func (q *queries) ListAPITokens(ctx context.Context, userID string) ([]APIToken, error) {
	where, args := "", []any{}
	if userID != "" {
		if !validID(userID) {
			return []APIToken{}, nil
		}
		where, args = ` WHERE t.user_id = $1`, append(args, strings.ToLower(userID))
	}
	rs, err := q.c.query(ctx, `SELECT `+apiTokenCols+` FROM api_tokens t JOIN users u ON u.id = t.user_id`+where+
		` ORDER BY t.created_at DESC, t.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rs.Close()
	out := []APIToken{}
	for rs.Next() {
		t, err := scanAPIToken(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		out = append(out, *t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return out, nil
}

func (q *queries) GetLoginThrottle(ctx context.Context, email string) (*LoginThrottle, error) {
	t := LoginThrottle{Email: NormalizeEmail(email)}
	var failures int64
	var locked dbTime
	err := q.c.queryRow(ctx, `SELECT failures, locked_until FROM login_throttle WHERE email = $1`, t.Email).Scan(&failures, &locked)
	if isNoRows(err) {
		return &t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: login throttle: %w", err)
	}
	t.Failures, t.LockedUntil = int(failures), locked.ptr()
	return &t, nil
}

func (q *queries) RecordLoginFailure(ctx context.Context, email string, at time.Time, limit int, lockUntil time.Time) (*LoginThrottle, error) {
	if limit < 1 {
		return nil, fmt.Errorf("%w: a failure limit of at least 1", ErrInvalidInput)
	}
	t := LoginThrottle{Email: NormalizeEmail(email)}
	// The first failure of a count locks at once only when the limit is 1.
	var first any
	if limit <= 1 {
		first = q.d.ts(lockUntil)
	}
	// One statement: replicas counting the same email's failures at once
	// each add one. A lock that has ended starts the count again.
	var failures int64
	var locked dbTime
	err := q.c.queryRow(ctx, `INSERT INTO login_throttle (email, failures, locked_until, updated_at) VALUES ($1, 1, $5, $2)
		ON CONFLICT (email) DO UPDATE SET
			failures = CASE WHEN login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until <= $2
				THEN 1 ELSE login_throttle.failures + 1 END,
			locked_until = CASE
				WHEN login_throttle.locked_until IS NOT NULL AND login_throttle.locked_until <= $2 THEN excluded.locked_until
				WHEN login_throttle.failures + 1 >= $3 THEN $4
				ELSE login_throttle.locked_until END,
			updated_at = excluded.updated_at
		RETURNING failures, locked_until`, t.Email, q.d.ts(at), limit, q.d.ts(lockUntil), first).Scan(&failures, &locked)
	if err != nil {
		return nil, fmt.Errorf("store: record login failure: %w", err)
	}
	t.Failures, t.LockedUntil = int(failures), locked.ptr()
	return &t, nil
}

func (q *queries) ClearLoginFailures(ctx context.Context, email string) error {
	if _, err := q.c.exec(ctx, `DELETE FROM login_throttle WHERE email = $1`, NormalizeEmail(email)); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}

func (q *queries) DeleteStaleLoginThrottles(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.c.exec(ctx, `DELETE FROM login_throttle WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $1)`, q.d.ts(t))
	if err != nil {
		return 0, fmt.Errorf("store: delete old login failures: %w", err)
	}
	return n, nil
}

func (q *queries) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.Action == "" || e.At.IsZero() {
		return fmt.Errorf("%w: an audit entry needs an action and a time", ErrInvalidInput)
	}
	_, err := q.c.exec(ctx, `INSERT INTO audit_log (at, user_name, target, action, patient_code, session_id, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		q.d.ts(e.At.UTC().Truncate(time.Microsecond)), e.User, e.Target, e.Action, e.PatientCode, e.SessionID, e.IP)
	if err != nil {
		return fmt.Errorf("store: append audit: %w", err)
	}
	return nil
}

// auditCursor is the position after the last entry of a page.
type auditCursor struct {
	At time.Time `json:"a"`
	ID int64     `json:"i"`
}

func (q *queries) ListAudit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	limit := f.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidInput)
	case limit == 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.PatientCode != "" {
		where = append(where, "patient_code = "+arg(f.PatientCode))
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+arg(q.d.ts(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+arg(q.d.ts(f.To)))
	}
	if f.Cursor != "" {
		var c auditCursor
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.At.IsZero() || c.ID <= 0 {
			return nil, fmt.Errorf("%w: unreadable cursor", ErrInvalidInput)
		}
		t, id := arg(q.d.ts(c.At)), arg(c.ID)
		where = append(where, fmt.Sprintf("(at < %s OR (at = %s AND id < %s))", t, t, id))
	}
	const cols = `id, at, user_name, target, action, patient_code, session_id, ip`
	order := ` ORDER BY at DESC, id DESC LIMIT ` + arg(limit+1)
	selectWhere := func(more ...string) string {
		text, conds := `SELECT `+cols+` FROM audit_log`, append(slices.Clip(where), more...)
		if len(conds) > 0 {
			text += ` WHERE ` + strings.Join(conds, " AND ")
		}
		return text + order
	}
	text := selectWhere()
	if f.User != "" {
		// The entries the principal made, and those another principal
		// made that changed the account it names (no entry twice): each a
		// page read in order from its own index (user_name's; target's,
		// which is partial: target <> '' lets both databases use it),
		// then merged.
		u := arg(NormalizeEmail(f.User))
		text = `SELECT ` + cols + ` FROM (SELECT * FROM (` + selectWhere("user_name = "+u) + `) AS acted
			UNION ALL SELECT * FROM (` + selectWhere("target = "+u, "target <> ''", "user_name <> "+u) + `) AS changed) AS entries` + order
	}
	rs, err := q.c.query(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rs.Close()
	page := &AuditPage{Entries: []AuditEntry{}}
	for rs.Next() {
		var e AuditEntry
		var at dbTime
		if err := rs.Scan(&e.ID, &at, &e.User, &e.Target, &e.Action, &e.PatientCode, &e.SessionID, &e.IP); err != nil {
			return nil, fmt.Errorf("store: list audit: %w", err)
		}
		e.At = at.t
		page.Entries = append(page.Entries, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	if len(page.Entries) > limit {
		page.Entries = page.Entries[:limit]
		last := page.Entries[limit-1]
		b, _ := json.Marshal(auditCursor{At: last.At, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}
