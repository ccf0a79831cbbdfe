package api_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/api"
	"emgd/internal/auth"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// hasUsersCounter counts the HasUsers questions to the database.
type hasUsersCounter struct {
	store.Accounts
	n atomic.Int64
}

func (c *hasUsersCounter) HasUsers(ctx context.Context) (bool, error) {
	c.n.Add(1)
	return c.Accounts.HasUsers(ctx)
}

// stepClock is a clock a test moves by hand.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// While the service is open (no account), unauthenticated storage
// webhooks answer their session in full and ask the database whether an
// account exists at most once per auth.OpenRecheck, not once each; the
// first account is seen by the next webhook after that bound, whose
// answer then carries no session data.
func TestOpenWebhookAsksForAccountsOncePerRecheck(t *testing.T) {
	st := storetest.OpenSQLite(t, store.Options{})
	acc, _ := store.AccountsOf(st)
	counter := &hasUsersCounter{Accounts: acc}
	clock := &stepClock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEnvOn(t, api.Config{Guard: &auth.Guard{Accounts: counter, Now: clock.now}}, st)
	info := e.put("P001/a.c3d", testrec.Ghostly(testrec.Options{}))
	body := supabaseEvent("INSERT", "c3d-examples", "P001/a.c3d", info.ETag, info.Size)
	for i := range 20 {
		if code, b := e.do("POST", "/webhooks/storage/c3d-upload", body); code != 200 || b["session_code"] != "P001S001" {
			t.Fatalf("open service, webhook %d: %d %v", i, code, b)
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("20 webhooks within %v asked HasUsers %d times, want 1", auth.OpenRecheck, n)
	}

	if _, err := acc.CreateUser(context.Background(), store.NewUser{Email: "ana@example.org", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	clock.add(auth.OpenRecheck)
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", body); code != 200 || b["success"] != true || b["session_code"] != nil || b["metadata"] != nil {
		t.Errorf("with an account, unauthenticated webhook: %d %v; want accepted without session data", code, b)
	}
}
