package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// countingAccounts counts the guard's questions to the database, and
// refuses audit entries while auditDown is set.
type countingAccounts struct {
	store.Accounts
	hasUsers, userPatients atomic.Int64
	auditDown              atomic.Bool
}

func (c *countingAccounts) HasUsers(ctx context.Context) (bool, error) {
	c.hasUsers.Add(1)
	return c.Accounts.HasUsers(ctx)
}

func (c *countingAccounts) UserPatients(ctx context.Context, userID string) ([]string, error) {
	c.userPatients.Add(1)
	return c.Accounts.UserPatients(ctx, userID)
}

func (c *countingAccounts) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if c.auditDown.Load() {
		return errors.New("audit table unavailable")
	}
	return c.Accounts.AppendAudit(ctx, e)
}

// counted returns a guard configuration that counts its database's
// questions in c.
func counted(c **countingAccounts) func(g *auth.Guard) {
	return func(g *auth.Guard) {
		*c = &countingAccounts{Accounts: g.Accounts}
		g.Accounts = *c
	}
}

// TestAuditUnwritten: an audit entry the database refuses makes
// auth.Audit's error ErrAuditUnavailable, whose text (what the client is
// told) names no cause; the guard logs the cause.
func TestAuditUnwritten(t *testing.T) {
	var c *countingAccounts
	e := newEnv(t, func(g *auth.Guard) {
		counted(&c)(g)
		g.ReadToken = "s3cret-read-token"
	})
	c.auditDown.Store(true)
	w := e.do(req{path: "/probe", header: bearer("s3cret-read-token")})
	if w.Code != http.StatusServiceUnavailable || errorOf(t, w) != "audit trail unavailable" {
		t.Errorf("audit down: %d %q, want 503 audit trail unavailable", w.Code, w.Body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "audit trail unavailable") || !strings.Contains(logs, "audit table unavailable") || !strings.Contains(logs, "probe.read") {
		t.Errorf("the cause is not logged:\n%s", logs)
	}

	cause := errors.New("audit table unavailable")
	r := httptest.NewRequest("GET", "/x", nil)
	r = r.WithContext(auth.WithAuditor(r.Context(), failing{cause}))
	err := auth.Audit(r, "session.read", "P001", "")
	if !errors.Is(err, auth.ErrAuditUnavailable) || !errors.Is(err, cause) || err.Error() != "audit trail unavailable" {
		t.Errorf("Audit's error %q: want ErrAuditUnavailable wrapping its cause, naming none", err)
	}
}

type failing struct{ err error }

func (f failing) Append(context.Context, auth.Entry) error { return f.err }
