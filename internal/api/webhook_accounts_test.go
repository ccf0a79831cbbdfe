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

// patientsCounter counts the UserPatients questions to the database.
type patientsCounter struct {
	store.Accounts
	n atomic.Int64
}

func (c *patientsCounter) UserPatients(ctx context.Context, userID string) ([]string, error) {
	c.n.Add(1)
	return c.Accounts.UserPatients(ctx, userID)
}

// A therapist's request reads their assigned patients once, when the
// guard resolves their credentials: every route takes them from the
// principal (auth.May, auth.Scope), none asks the database again.
func TestTherapistRequestReadsAssignmentsOnce(t *testing.T) {
	guard := &auth.Guard{}
	e, _, _ := fullServer(t, api.Config{Guard: guard})
	acc, _ := store.AccountsOf(e.store)
	counter := &patientsCounter{Accounts: acc}
	guard.Accounts = counter
	ctx := context.Background()
	u, err := acc.CreateUser(ctx, store.NewUser{Email: "theo@example.org", Role: "therapist"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.AssignPatient(ctx, u.ID, "P001"); err != nil {
		t.Fatal(err)
	}
	tok, hash := auth.NewAPIToken()
	if _, err := acc.CreateAPIToken(ctx, store.NewAPIToken{UserID: u.ID, Name: "script", TokenHash: hash}); err != nil {
		t.Fatal(err)
	}
	as := []string{"Authorization", "Bearer " + tok}
	info := e.put("P001/Ghostly_Emg_20230321_17-50-17-0881.c3d", testrec.Ghostly(testrec.Options{Seconds: 12}))
	code, out := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P001/Ghostly_Emg_20230321_17-50-17-0881.c3d", info.ETag, info.Size), as...)
	id, _ := out["session_id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("webhook with the therapist's token: %d %v", code, out)
	}
	for _, path := range []string{"/sessions", "/sessions/" + id, "/webhooks/storage/status/" + id, "/signals/jit/" + id + "/channels",
		"/signals/jit/" + id + "/CH1%20Raw?max_points=50", "/patients", "/patients/P001", "/patients/P001/trends", "/scoring/adherence/P001"} {
		before := counter.n.Load()
		if code, out := e.do("GET", path, nil, as...); code != 200 {
			t.Errorf("GET %s: %d %v", path, code, out)
		}
		if n := counter.n.Load() - before; n != 1 {
			t.Errorf("GET %s: UserPatients asked %d times, want 1", path, n)
		}
	}
}
