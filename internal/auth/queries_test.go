package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/auth"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
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

// unauthenticated is a storage webhook's request: no credentials.
func unauthenticated() *http.Request {
	return httptest.NewRequest("POST", "/webhooks/storage/c3d-upload", nil)
}

// TestOpenServiceAsksForAccountsOncePerRecheck: while no account exists,
// Authenticated (the storage webhook's question) asks the database at most
// once per OpenRecheck; guarded routes ask on every request, so that the
// first account closes them at the next one; Authenticated sees it once
// OpenRecheck has passed, and a yes is never asked again.
func TestOpenServiceAsksForAccountsOncePerRecheck(t *testing.T) {
	var c *countingAccounts
	e := newEnv(t, counted(&c))
	for i := range 100 {
		if !e.g.Authenticated(unauthenticated()) {
			t.Fatalf("open service, webhook %d: not authenticated", i)
		}
	}
	if n := c.hasUsers.Load(); n != 1 {
		t.Errorf("100 webhooks within %v asked HasUsers %d times, want 1", auth.OpenRecheck, n)
	}
	e.clock.Add(auth.OpenRecheck - time.Nanosecond)
	e.g.Authenticated(unauthenticated())
	if n := c.hasUsers.Load(); n != 1 {
		t.Errorf("before OpenRecheck passed: HasUsers %d times, want 1", n)
	}
	e.clock.Add(time.Nanosecond)
	e.g.Authenticated(unauthenticated())
	if n := c.hasUsers.Load(); n != 2 {
		t.Errorf("once OpenRecheck passed: HasUsers %d times, want 2", n)
	}

	// Guarded routes ask every time.
	for range 3 {
		if code, p := e.probe(req{}); code != http.StatusOK || p.Via != auth.ViaOpen {
			t.Fatalf("open service, probe: %d %+v", code, p)
		}
	}
	if n := c.hasUsers.Load(); n != 5 {
		t.Errorf("3 guarded requests: HasUsers %d times in all, want 5", n)
	}

	// The first account: Authenticated trusts its no until OpenRecheck.
	e.user("ana@example.org", "admin", "correct horse battery")
	if !e.g.Authenticated(unauthenticated()) {
		t.Errorf("within OpenRecheck of the last no: the first account is already seen")
	}
	e.clock.Add(auth.OpenRecheck)
	if e.g.Authenticated(unauthenticated()) {
		t.Errorf("OpenRecheck after the last no: the first account is not seen")
	}
	if code, _ := e.probe(req{}); code != http.StatusUnauthorized {
		t.Errorf("with an account, no credentials: %d, want 401", code)
	}
	n := c.hasUsers.Load()
	for range 10 {
		e.g.Authenticated(unauthenticated())
		e.probe(req{})
	}
	e.clock.Add(time.Hour)
	e.g.Authenticated(unauthenticated())
	if m := c.hasUsers.Load(); m != n {
		t.Errorf("accounts on: HasUsers asked %d more times, want none", m-n)
	}
}

// TestFirstAccountOfAnotherProcessSeenWithinRecheck: an account made on
// another handle of the database (emgd users add, another replica)
// closes the guarded routes at their next request, and is seen by
// Authenticated (the webhook's answer) within OpenRecheck, on the real
// clock, on SQLite and PostgreSQL.
func TestFirstAccountOfAnotherProcessSeenWithinRecheck(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(t *testing.T) (serving, other store.Store)
	}{
		{"SQLite", func(t *testing.T) (store.Store, store.Store) {
			path := t.TempDir() + "/emgd.db"
			return openTwice(t, func() (store.Store, error) { return store.OpenSQLite(context.Background(), path, store.Options{}) })
		}},
		{"PostgreSQL", func(t *testing.T) (store.Store, store.Store) {
			url := storetest.NewPostgresDatabase(t)
			return openTwice(t, func() (store.Store, error) { return store.OpenPostgres(context.Background(), url, store.Options{}) })
		}},
	} {
		t.Run(db.name, func(t *testing.T) {
			serving, other := db.open(t)
			var c *countingAccounts
			e := newEnvOn(t, serving, func(g *auth.Guard) {
				counted(&c)(g)
				g.Now = nil // the real clock
			})
			if !e.g.Authenticated(unauthenticated()) {
				t.Fatal("open service: not authenticated")
			}
			acc, _ := store.AccountsOf(other)
			created := time.Now()
			if _, err := acc.CreateUser(context.Background(), store.NewUser{Email: "ana@example.org", Role: "admin"}); err != nil {
				t.Fatal(err)
			}
			// The webhook's answer: within OpenRecheck (and the time a
			// question takes on a busy machine).
			const slack = 500 * time.Millisecond
			for e.g.Authenticated(unauthenticated()) {
				if time.Since(created) > auth.OpenRecheck+slack {
					t.Fatalf("the first account is not seen %v after it was made", time.Since(created))
				}
				time.Sleep(5 * time.Millisecond)
			}
			if n := c.hasUsers.Load(); n < 2 || n > 4 {
				t.Errorf("HasUsers asked %d times over about %v, want 2 to 4", n, time.Since(created))
			}
			if code, _ := e.probe(req{}); code != http.StatusUnauthorized {
				t.Errorf("guarded route: %d, want 401", code)
			}
		})
	}
}

// openTwice opens two handles on one database, closed after the test.
func openTwice(t *testing.T, open func() (store.Store, error)) (store.Store, store.Store) {
	t.Helper()
	var out [2]store.Store
	for i := range out {
		s, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out[0], out[1]
}

// TestTherapistPatientsReadOncePerRequest: a therapist's request reads
// their patients once, with their credentials, whether a cookie or an API
// token: the handlers take them from the principal (auth.May, auth.Scope).
func TestTherapistPatientsReadOncePerRequest(t *testing.T) {
	var c *countingAccounts
	e := newEnv(t, counted(&c))
	u := e.user("theo@example.org", "therapist", "another good password", "P001", "P002")
	cookie, _ := e.session("theo@example.org", "another good password")
	tok, hash := auth.NewAPIToken()
	if _, err := e.acc.CreateAPIToken(context.Background(), store.NewAPIToken{UserID: u.ID, Name: "n", TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []req{{cookie: cookie}, {header: bearer(tok)}} {
		before := c.userPatients.Load()
		code, p := e.probe(q)
		if code != http.StatusOK || strings.Join(p.Patients, ",") != "P001,P002" {
			t.Errorf("%+v: %d %+v", q, code, p)
		}
		if n := c.userPatients.Load() - before; n != 1 {
			t.Errorf("%+v: UserPatients asked %d times, want 1", q, n)
		}
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
