package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// Accounts is what emgd users, tokens and audit work on: the database of
// cfg only (no storage, no job queue), beside a running serve if need be:
// the first account switches it to accounts, and every change is seen by
// its next request. Close it when done.
type Accounts struct {
	st  store.Store
	acc store.Accounts
}

// OpenAccounts opens the database of cfg (applying migrations).
func OpenAccounts(ctx context.Context, cfg *Config) (*Accounts, error) {
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	acc, ok := store.AccountsOf(st)
	if !ok {
		st.Close()
		return nil, errors.New("database: no accounts")
	}
	return &Accounts{st: st, acc: acc}, nil
}

// Close closes the database.
func (a *Accounts) Close() error { return a.st.Close() }

// ErrUsage wraps the errors of a request that can never succeed as given
// (a malformed email, role, patient code or password): the command's
// usage, not the database.
var ErrUsage = errors.New("usage")

// GeneratePassword returns a random password of 20 characters (120 bits).
func GeneratePassword() string {
	var b [15]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// AddUser creates an account with role (admin or therapist) and
// password (argon2id); an empty password makes an account that signs in
// only through an external identity or API tokens.
func (a *Accounts) AddUser(ctx context.Context, email, role, password string) (*store.User, error) {
	if !auth.Role(role).Valid() {
		return nil, fmt.Errorf("%w: --role must be admin or therapist", ErrUsage)
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = auth.HashPassword(password); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	u, err := a.acc.CreateUser(ctx, store.NewUser{Email: email, Role: role, PasswordHash: hash})
	if errors.Is(err, store.ErrInvalidInput) {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err != nil {
		return nil, err
	}
	return u, a.auditUser(ctx, "users.add", u.Email, "")
}

// CLIUser is the audit trail's user of the changes made with emgd users
// and tokens: whoever runs the command on the database (no email can be
// "cli").
const CLIUser = "cli"

// auditUser records a change made with the command line to the account
// email: the entry's user is CLIUser, its target the account, with no
// address.
func (a *Accounts) auditUser(ctx context.Context, action, email, patient string) error {
	if err := a.acc.AppendAudit(ctx, store.AuditEntry{At: time.Now().UTC(), User: CLIUser, Target: email, Action: action, PatientCode: patient}); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	return nil
}

func (a *Accounts) user(ctx context.Context, email string) (*store.User, error) {
	u, err := a.acc.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no account %s", store.NormalizeEmail(email))
	}
	return u, err
}

// SetPassword replaces a user's password.
func (a *Accounts) SetPassword(ctx context.Context, email, password string) error {
	u, err := a.user(ctx, email)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err := a.acc.SetUserPassword(ctx, u.ID, hash); err != nil {
		return err
	}
	return a.auditUser(ctx, "users.password", u.Email, "")
}

// Assign gives the user a patient (added false when they had it).
func (a *Accounts) Assign(ctx context.Context, email, patient string) (bool, error) {
	if !store.IsPatientCode(patient) {
		return false, fmt.Errorf("%w: --patient must be a patient code such as P001 (P and up to 12 digits)", ErrUsage)
	}
	u, err := a.user(ctx, email)
	if err != nil {
		return false, err
	}
	added, err := a.acc.AssignPatient(ctx, u.ID, patient)
	if err != nil || !added {
		return added, err
	}
	return true, a.auditUser(ctx, "users.assign", u.Email, patient)
}

// Unassign takes a patient from the user (removed false when they had
// not).
func (a *Accounts) Unassign(ctx context.Context, email, patient string) (bool, error) {
	u, err := a.user(ctx, email)
	if err != nil {
		return false, err
	}
	removed, err := a.acc.UnassignPatient(ctx, u.ID, patient)
	if err != nil || !removed {
		return removed, err
	}
	return true, a.auditUser(ctx, "users.unassign", u.Email, patient)
}

// SetDisabled disables (or enables again) a user: their sessions, tokens
// and JWTs stop working at the next request.
func (a *Accounts) SetDisabled(ctx context.Context, email string, disabled bool) error {
	u, err := a.user(ctx, email)
	if err != nil {
		return err
	}
	if err := a.acc.SetUserDisabled(ctx, u.ID, disabled); err != nil {
		return err
	}
	action := "users.enable"
	if disabled {
		action = "users.disable"
	}
	return a.auditUser(ctx, action, u.Email, "")
}

// Users lists every user with their patients, by email.
func (a *Accounts) Users(ctx context.Context) ([]store.User, error) { return a.acc.ListUsers(ctx) }

// CreateToken makes an API token named name for the user and returns it:
// the only time it is shown (the database keeps its hash).
func (a *Accounts) CreateToken(ctx context.Context, email, name string) (string, error) {
	u, err := a.user(ctx, email)
	if err != nil {
		return "", err
	}
	tok, hash := auth.NewAPIToken()
	if _, err := a.acc.CreateAPIToken(ctx, store.NewAPIToken{UserID: u.ID, Name: name, TokenHash: hash}); err != nil {
		if errors.Is(err, store.ErrInvalidInput) {
			return "", fmt.Errorf("%w: %v", ErrUsage, err)
		}
		return "", err
	}
	return tok, a.auditUser(ctx, "tokens.create", u.Email, "")
}

// RevokeToken revokes the user's token named name.
func (a *Accounts) RevokeToken(ctx context.Context, email, name string) error {
	u, err := a.user(ctx, email)
	if err != nil {
		return err
	}
	if err := a.acc.RevokeAPIToken(ctx, u.ID, name); err != nil {
		return err
	}
	return a.auditUser(ctx, "tokens.revoke", u.Email, "")
}

// Tokens lists the tokens of the user email ("" for everyone's), revoked
// ones too, newest first.
func (a *Accounts) Tokens(ctx context.Context, email string) ([]store.APIToken, error) {
	id := ""
	if email != "" {
		u, err := a.user(ctx, email)
		if err != nil {
			return nil, err
		}
		id = u.ID
	}
	return a.acc.ListAPITokens(ctx, id)
}

// Audit lists the audit trail newest first, following pages until limit
// entries (0: all), calling fn for each.
func (a *Accounts) Audit(ctx context.Context, f store.AuditFilter, limit int, fn func(store.AuditEntry) error) error {
	n := 0
	f.Limit = store.MaxAuditLimit
	for {
		page, err := a.acc.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if limit > 0 && n >= limit {
				return nil
			}
			if err := fn(e); err != nil {
				return err
			}
			n++
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}
