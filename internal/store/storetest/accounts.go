package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/store"
)

// RunAccounts runs the conformance tests of the accounts operations
// (store.Accounts), part of Run; newStore returns a migrated, empty store
// for each.
func RunAccounts(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a store.Accounts)
	}{
		{"Users", testUsers},
		{"PatientAssignments", testAssignments},
		{"AuthSessions", testAuthSessions},
		{"APITokens", testAPITokens},
		{"LoginThrottle", testLoginThrottle},
		{"LoginThrottleConcurrentFailures", testLoginThrottleConcurrent},
		{"AuditTrail", testAudit},
		{"AuditTrailTarget", testAuditTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := store.AccountsOf(newStore(t))
			if !ok {
				t.Fatal("the store has no accounts operations")
			}
			tc.fn(t, a)
		})
	}
}

// hashOf is the hex SHA-256 the auth package stores for a token.
func hashOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func mustUser(t *testing.T, a store.Accounts, email, role string) *store.User {
	t.Helper()
	u, err := a.CreateUser(ctx(t), store.NewUser{Email: email, Role: role, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// testUsers: no account at first; an account is stored lower-case, found by
// id and by email in any case, unique whatever the case; bad emails and
// roles are ErrInvalidInput; disabling and a new password are kept;
// ListUsers returns everyone by email with their patients.
func testUsers(t *testing.T, a store.Accounts) {
	c := ctx(t)
	if has, err := a.HasUsers(c); err != nil || has {
		t.Fatalf("HasUsers of a fresh database = %v, %v", has, err)
	}
	if l, err := a.ListUsers(c); err != nil || l == nil || len(l) != 0 {
		t.Fatalf("ListUsers of a fresh database = %v, %v", l, err)
	}
	if _, err := a.GetUserByEmail(c, "nobody@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByEmail of nobody: %v, want ErrNotFound", err)
	}
	u := mustUser(t, a, "  Ana.Admin@Example.ORG ", store.RoleAdmin)
	if u.Email != "ana.admin@example.org" || u.Role != store.RoleAdmin || u.Disabled || u.CreatedAt.IsZero() || u.ID == "" {
		t.Errorf("created user = %+v", u)
	}
	if has, err := a.HasUsers(c); err != nil || !has {
		t.Errorf("HasUsers after one = %v, %v", has, err)
	}
	for _, e := range []string{"ana.admin@example.org", "ANA.ADMIN@EXAMPLE.ORG", " Ana.Admin@example.org"} {
		got, err := a.GetUserByEmail(c, e)
		if err != nil || got.ID != u.ID || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Errorf("GetUserByEmail(%q) = %+v, %v", e, got, err)
		}
	}
	if got, err := a.GetUser(c, u.ID); err != nil || got.Email != u.Email {
		t.Errorf("GetUser = %+v, %v", got, err)
	}
	for _, id := range []string{"", "not-a-uuid", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"} {
		if _, err := a.GetUser(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUser(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := a.CreateUser(c, store.NewUser{Email: "ANA.admin@example.org", Role: store.RoleTherapist}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a second account with the same email in another case: %v, want ErrDuplicate", err)
	}
	for _, n := range []store.NewUser{{Email: "", Role: "admin"}, {Email: "no-at-sign", Role: "admin"}, {Email: "a b@example.org", Role: "admin"},
		{Email: "@example.org", Role: "admin"}, {Email: "x@", Role: "admin"}, {Email: "x@example.org", Role: "root"}, {Email: "x@example.org"}} {
		if _, err := a.CreateUser(c, n); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("CreateUser(%+v): %v, want ErrInvalidInput", n, err)
		}
	}
	th := mustUser(t, a, "theo@example.org", store.RoleTherapist)
	if err := a.SetUserDisabled(c, th.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetUser(c, th.ID); !got.Disabled {
		t.Error("disabled user reads back enabled")
	}
	if err := a.SetUserDisabled(c, th.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetUser(c, th.ID); got.Disabled {
		t.Error("enabled user reads back disabled")
	}
	if err := a.SetUserPassword(c, th.ID, "$argon2id$new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetUser(c, th.ID); got.PasswordHash != "$argon2id$new" {
		t.Errorf("password hash = %q", got.PasswordHash)
	}
	if err := a.SetUserDisabled(c, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disabling nobody: %v, want ErrNotFound", err)
	}
	if _, err := a.AssignPatient(c, th.ID, "P002"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AssignPatient(c, th.ID, "P001"); err != nil {
		t.Fatal(err)
	}
	l, err := a.ListUsers(c)
	if err != nil || len(l) != 2 {
		t.Fatalf("ListUsers = %+v, %v", l, err)
	}
	if l[0].Email != "ana.admin@example.org" || len(l[0].Patients) != 0 || l[0].Patients == nil ||
		l[1].Email != "theo@example.org" || !reflect.DeepEqual(l[1].Patients, []string{"P001", "P002"}) {
		t.Errorf("ListUsers = %+v", l)
	}
}

// testAssignments: assigning is idempotent, patients read back sorted,
// unassigning removes one; an unknown user is ErrNotFound, anything but a
// patient code ErrInvalidInput.
func testAssignments(t *testing.T, a store.Accounts) {
	c := ctx(t)
	th := mustUser(t, a, "theo@example.org", store.RoleTherapist)
	other := mustUser(t, a, "olga@example.org", store.RoleTherapist)
	if p, err := a.UserPatients(c, th.ID); err != nil || p == nil || len(p) != 0 {
		t.Fatalf("patients of a new user = %v, %v", p, err)
	}
	for _, tc := range []struct {
		patient string
		added   bool
	}{{"P010", true}, {"P002", true}, {"P010", false}} {
		if added, err := a.AssignPatient(c, th.ID, tc.patient); err != nil || added != tc.added {
			t.Errorf("AssignPatient(%s) = %v, %v; want %v", tc.patient, added, err, tc.added)
		}
	}
	if _, err := a.AssignPatient(c, other.ID, "P003"); err != nil {
		t.Fatal(err)
	}
	if p, err := a.UserPatients(c, th.ID); err != nil || !reflect.DeepEqual(p, []string{"P002", "P010"}) {
		t.Errorf("UserPatients = %v, %v", p, err)
	}
	if removed, err := a.UnassignPatient(c, th.ID, "P002"); err != nil || !removed {
		t.Errorf("UnassignPatient = %v, %v", removed, err)
	}
	if removed, err := a.UnassignPatient(c, th.ID, "P002"); err != nil || removed {
		t.Errorf("UnassignPatient again = %v, %v", removed, err)
	}
	if p, err := a.UserPatients(c, th.ID); err != nil || !reflect.DeepEqual(p, []string{"P010"}) {
		t.Errorf("UserPatients after unassigning = %v, %v", p, err)
	}
	if p, err := a.UserPatients(c, other.ID); err != nil || !reflect.DeepEqual(p, []string{"P003"}) {
		t.Errorf("another user's patients = %v, %v", p, err)
	}
	for _, id := range []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "", "nobody", strings.ToUpper(th.ID) + "x"} {
		if _, err := a.AssignPatient(c, id, "P001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("assigning to user %q: %v, want ErrNotFound", id, err)
		}
	}
	if added, err := a.AssignPatient(c, strings.ToUpper(th.ID), "P004"); err != nil || !added {
		t.Errorf("assigning by the user's id in upper case: %v, %v", added, err)
	} else if _, err := a.UnassignPatient(c, th.ID, "P004"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "P", "p001", "bob", " P001", "P001 ", "P001S001", "P1234567890123", "P00'1"} {
		if _, err := a.AssignPatient(c, th.ID, bad); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("assigning patient %q: %v, want ErrInvalidInput", bad, err)
		}
	}
	if p, err := a.UserPatients(c, th.ID); err != nil || !reflect.DeepEqual(p, []string{"P010"}) {
		t.Errorf("UserPatients after refused assignments = %v, %v", p, err)
	}
}

// testAuthSessions: a session is stored by its token's hash only and read
// back with its user; touching records the last use; deleting is final;
// expired sessions are purged; anything but a hash is refused.
func testAuthSessions(t *testing.T, a store.Accounts) {
	c := ctx(t)
	u := mustUser(t, a, "theo@example.org", store.RoleTherapist)
	created := time.Date(2026, 3, 1, 9, 0, 0, 123000, time.UTC)
	s := store.AuthSession{TokenHash: hashOf("cookie-token-1"), UserID: u.ID, CSRFToken: "csrf-1",
		CreatedAt: created, ExpiresAt: created.Add(12 * time.Hour)}
	if err := a.CreateAuthSession(c, s); err != nil {
		t.Fatal(err)
	}
	got, err := a.GetAuthSession(c, hashOf("cookie-token-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.ID || got.CSRFToken != "csrf-1" || !got.CreatedAt.Equal(created) || !got.ExpiresAt.Equal(s.ExpiresAt) ||
		!got.LastSeenAt.Equal(created) || got.User.Email != u.Email || got.User.Role != store.RoleTherapist || got.User.Disabled {
		t.Errorf("GetAuthSession = %+v", got)
	}
	seen := created.Add(time.Hour)
	if err := a.TouchAuthSession(c, s.TokenHash, seen); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetAuthSession(c, s.TokenHash); !got.LastSeenAt.Equal(seen) {
		t.Errorf("last seen = %v, want %v", got.LastSeenAt, seen)
	}
	if err := a.SetUserDisabled(c, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.GetAuthSession(c, s.TokenHash); !got.User.Disabled {
		t.Error("a disabled user's session reads back its user enabled")
	}
	if _, err := a.GetAuthSession(c, hashOf("another token")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown session: %v, want ErrNotFound", err)
	}
	for _, bad := range []store.AuthSession{
		{TokenHash: "cookie-token-2", UserID: u.ID, CSRFToken: "x", CreatedAt: created, ExpiresAt: created},
		{TokenHash: hashOf("t3"), UserID: "", CSRFToken: "x", CreatedAt: created, ExpiresAt: created},
		{TokenHash: hashOf("t3"), UserID: u.ID, CSRFToken: "", CreatedAt: created, ExpiresAt: created},
	} {
		if err := a.CreateAuthSession(c, bad); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("CreateAuthSession(%+v): %v, want ErrInvalidInput", bad, err)
		}
	}
	if err := a.CreateAuthSession(c, store.AuthSession{TokenHash: hashOf("t4"), UserID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		CSRFToken: "x", CreatedAt: created, ExpiresAt: created}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session of nobody: %v, want ErrNotFound", err)
	}
	old := store.AuthSession{TokenHash: hashOf("old"), UserID: u.ID, CSRFToken: "csrf-old", CreatedAt: created.Add(-48 * time.Hour),
		ExpiresAt: created.Add(-36 * time.Hour)}
	if err := a.CreateAuthSession(c, old); err != nil {
		t.Fatal(err)
	}
	if n, err := a.DeleteExpiredAuthSessions(c, created); err != nil || n != 1 {
		t.Errorf("DeleteExpiredAuthSessions = %d, %v; want 1", n, err)
	}
	if _, err := a.GetAuthSession(c, old.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired session after the purge: %v", err)
	}
	if err := a.DeleteAuthSession(c, s.TokenHash); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetAuthSession(c, s.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted session: %v, want ErrNotFound", err)
	}
	if err := a.DeleteAuthSession(c, s.TokenHash); err != nil {
		t.Errorf("deleting it again: %v", err)
	}
}

// testAPITokens: a token is found by its hash with its user until revoked;
// names are unique among a user's live tokens; listing shows revoked ones.
func testAPITokens(t *testing.T, a store.Accounts) {
	c := ctx(t)
	u := mustUser(t, a, "script@example.org", store.RoleTherapist)
	other := mustUser(t, a, "other@example.org", store.RoleAdmin)
	tok, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: u.ID, Name: "nightly", TokenHash: hashOf("emgd_one")})
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID == "" || tok.Name != "nightly" || tok.UserID != u.ID || tok.RevokedAt != nil || tok.CreatedAt.IsZero() {
		t.Errorf("created token = %+v", tok)
	}
	got, err := a.GetAPIToken(c, hashOf("emgd_one"))
	if err != nil || got.ID != tok.ID || got.User.Email != u.Email || got.User.Role != store.RoleTherapist {
		t.Errorf("GetAPIToken = %+v, %v", got, err)
	}
	if _, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: u.ID, Name: "nightly", TokenHash: hashOf("emgd_two")}); !errors.Is(err, store.ErrDuplicate) ||
		!strings.HasSuffix(err.Error(), `: script@example.org already has a token named "nightly"`) {
		t.Errorf("a second live token of the same name: %v, want ErrDuplicate naming the user's email", err)
	}
	// (The user's id in any case, as GetUser takes it.)
	if o, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: strings.ToUpper(other.ID), Name: "nightly", TokenHash: hashOf("emgd_three")}); err != nil || o.UserID != other.ID {
		t.Errorf("another user's token of the same name: %+v, %v", o, err)
	}
	for _, bad := range []store.NewAPIToken{{UserID: u.ID, Name: "plain", TokenHash: "emgd_plain_token"},
		{UserID: u.ID, Name: " ", TokenHash: hashOf("x")}} {
		if _, err := a.CreateAPIToken(c, bad); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("CreateAPIToken(%+v): %v, want ErrInvalidInput", bad, err)
		}
	}
	if _, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: "0190A1B2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Name: "x", TokenHash: hashOf("y")}); !errors.Is(err, store.ErrNotFound) ||
		!strings.HasSuffix(err.Error(), ": no user 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b") {
		t.Errorf("a token of nobody: %v, want ErrNotFound naming the id", err)
	}
	if _, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: "not-an-id", Name: "x", TokenHash: hashOf("z")}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a token of a malformed id: %v, want ErrNotFound", err)
	}
	if err := a.RevokeAPIToken(c, u.ID, "nightly"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetAPIToken(c, hashOf("emgd_one")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked token: %v, want ErrNotFound", err)
	}
	if err := a.RevokeAPIToken(c, u.ID, "nightly"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking it again: %v, want ErrNotFound", err)
	}
	if _, err := a.CreateAPIToken(c, store.NewAPIToken{UserID: u.ID, Name: "nightly", TokenHash: hashOf("emgd_four")}); err != nil {
		t.Errorf("a new token with a revoked token's name: %v", err)
	}
	l, err := a.ListAPITokens(c, u.ID)
	if err != nil || len(l) != 2 || l[0].RevokedAt != nil || l[1].RevokedAt == nil || l[1].ID != tok.ID {
		t.Errorf("ListAPITokens = %+v, %v", l, err)
	}
	if all, err := a.ListAPITokens(c, ""); err != nil || len(all) != 3 {
		t.Errorf("ListAPITokens of everyone = %d, %v; want 3", len(all), err)
	}
}

// testLoginThrottle: failures count up; the limit-th locks until the given
// time; a failure after the lock ended counts from 1 again; clearing
// forgets; emails are compared without case.
func testLoginThrottle(t *testing.T, a store.Accounts) {
	c := ctx(t)
	if th, err := a.GetLoginThrottle(c, "x@example.org"); err != nil || th.Failures != 0 || th.LockedUntil != nil {
		t.Fatalf("throttle of a fresh email = %+v, %v", th, err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lock := t0.Add(15 * time.Minute)
	for i := 1; i <= 5; i++ {
		email := "X@example.org"
		if i%2 == 0 {
			email = "x@EXAMPLE.org"
		}
		th, err := a.RecordLoginFailure(c, email, t0.Add(time.Duration(i)*time.Second), 5, lock)
		if err != nil {
			t.Fatal(err)
		}
		if th.Failures != i || (i < 5) != (th.LockedUntil == nil) {
			t.Errorf("after failure %d: %+v", i, th)
		}
	}
	th, err := a.GetLoginThrottle(c, "x@example.org")
	if err != nil || th.Failures != 5 || th.LockedUntil == nil || !th.LockedUntil.Equal(lock) {
		t.Fatalf("locked throttle = %+v, %v; want 5 failures until %v", th, err, lock)
	}
	// After the lock ended a failure counts from 1.
	th, err = a.RecordLoginFailure(c, "x@example.org", lock.Add(time.Second), 5, lock.Add(16*time.Minute))
	if err != nil || th.Failures != 1 || th.LockedUntil != nil {
		t.Errorf("first failure after the lock = %+v, %v; want 1 failure, no lock", th, err)
	}
	if err := a.ClearLoginFailures(c, "X@Example.org"); err != nil {
		t.Fatal(err)
	}
	if th, err := a.GetLoginThrottle(c, "x@example.org"); err != nil || th.Failures != 0 || th.LockedUntil != nil {
		t.Errorf("after clearing = %+v, %v", th, err)
	}
	// A limit of 1 locks at the first failure.
	if th, err := a.RecordLoginFailure(c, "y@example.org", t0, 1, lock); err != nil || th.Failures != 1 || th.LockedUntil == nil {
		t.Errorf("limit 1 = %+v, %v", th, err)
	}
	if _, err := a.RecordLoginFailure(c, "y@example.org", t0, 0, lock); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("limit 0: %v, want ErrInvalidInput", err)
	}
	// Old failures are forgotten, unless their lock still runs.
	if _, err := a.RecordLoginFailure(c, "z@example.org", t0, 5, lock); err != nil {
		t.Fatal(err)
	}
	if n, err := a.DeleteStaleLoginThrottles(c, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteStaleLoginThrottles while y's lock runs = %d, %v; want 1 (z)", n, err)
	}
	if th, _ := a.GetLoginThrottle(c, "y@example.org"); th.Failures != 1 {
		t.Errorf("a running lock was forgotten: %+v", th)
	}
	if n, err := a.DeleteStaleLoginThrottles(c, lock.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteStaleLoginThrottles after y's lock = %d, %v; want 1", n, err)
	}
}

// testLoginThrottleConcurrent: failures recorded at once (as by replicas)
// each count.
func testLoginThrottleConcurrent(t *testing.T, a store.Accounts) {
	c := ctx(t)
	const n = 16
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := a.RecordLoginFailure(c, "race@example.org", t0, 1000, t0.Add(time.Hour)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if th, err := a.GetLoginThrottle(c, "race@example.org"); err != nil || th.Failures != n {
		t.Errorf("after %d failures at once: %+v, %v", n, th, err)
	}
}

// testAudit: entries read back newest first with every field; filters by
// patient, user (any case), from (inclusive) and to (exclusive) combine;
// pages follow each other without gaps or repeats; a bad cursor or an
// entry without action is ErrInvalidInput.
func testAudit(t *testing.T, a store.Accounts) {
	c := ctx(t)
	if p, err := a.ListAudit(c, store.AuditFilter{}); err != nil || p.Entries == nil || len(p.Entries) != 0 || p.NextCursor != "" {
		t.Fatalf("empty audit = %+v, %v", p, err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var all []store.AuditEntry
	for i := range 12 {
		e := store.AuditEntry{At: t0.Add(time.Duration(i/2) * time.Minute), // two entries per minute: equal times page by id
			User: []string{"ana@example.org", "theo@example.org", "static"}[i%3], Action: "session.read",
			PatientCode: []string{"P001", "P002"}[i%2], SessionID: fmt.Sprintf("P00%dS%03d", i%2+1, i), IP: "192.0.2.7"}
		if i == 11 {
			e.Action, e.PatientCode, e.SessionID = "auth.login", "", ""
		}
		if err := a.AppendAudit(c, e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	p, err := a.ListAudit(c, store.AuditFilter{})
	if err != nil || len(p.Entries) != 12 {
		t.Fatalf("ListAudit = %d entries, %v", len(p.Entries), err)
	}
	for i, e := range p.Entries {
		w := all[11-i]
		if !e.At.Equal(w.At) || e.User != w.User || e.Action != w.Action || e.PatientCode != w.PatientCode || e.SessionID != w.SessionID ||
			e.IP != w.IP || e.ID <= 0 {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
		if i > 0 && e.ID >= p.Entries[i-1].ID {
			t.Errorf("entries not newest first: %d after %d", e.ID, p.Entries[i-1].ID)
		}
	}
	count := func(f store.AuditFilter) int {
		t.Helper()
		n, seen := 0, map[int64]bool{}
		f.Limit = 2
		for {
			p, err := a.ListAudit(c, f)
			if err != nil {
				t.Fatalf("ListAudit(%+v): %v", f, err)
			}
			for _, e := range p.Entries {
				if seen[e.ID] {
					t.Errorf("entry %d on two pages", e.ID)
				}
				seen[e.ID] = true
				if f.PatientCode != "" && e.PatientCode != f.PatientCode || !f.From.IsZero() && e.At.Before(f.From) ||
					!f.To.IsZero() && !e.At.Before(f.To) {
					t.Errorf("ListAudit(%+v) listed %+v", f, e)
				}
			}
			n += len(p.Entries)
			if p.NextCursor == "" {
				return n
			}
			f.Cursor = p.NextCursor
		}
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want int
	}{
		{store.AuditFilter{}, 12},
		{store.AuditFilter{PatientCode: "P001"}, 6},
		{store.AuditFilter{PatientCode: "P002"}, 5},
		{store.AuditFilter{User: "THEO@example.org"}, 4},
		{store.AuditFilter{User: "static"}, 4},
		{store.AuditFilter{PatientCode: "P001", User: "ana@example.org"}, 2},
		{store.AuditFilter{From: t0.Add(2 * time.Minute)}, 8},
		{store.AuditFilter{To: t0.Add(2 * time.Minute)}, 4},
		{store.AuditFilter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute), PatientCode: "P002"}, 2},
		{store.AuditFilter{PatientCode: "P999"}, 0},
	} {
		if n := count(tc.f); n != tc.want {
			t.Errorf("ListAudit(%+v) = %d entries, want %d", tc.f, n, tc.want)
		}
	}
	if _, err := a.ListAudit(c, store.AuditFilter{Cursor: "not a cursor"}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("bad cursor: %v, want ErrInvalidInput", err)
	}
	if err := a.AppendAudit(c, store.AuditEntry{At: t0, User: "x"}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("entry without action: %v, want ErrInvalidInput", err)
	}
}

// testAuditTarget: an entry's target (the account a change made with the
// command line concerns) reads back; a filter by user finds the entries a
// principal made and, for an account, those whose target it is, in any
// case; "cli" finds the command line's.
func testAuditTarget(t *testing.T, a store.Accounts) {
	c := ctx(t)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{
		{User: "ana@example.org", Action: "session.read", PatientCode: "P001", SessionID: "P001S001", IP: "192.0.2.7"},
		{User: "cli", Target: "theo@example.org", Action: "users.assign", PatientCode: "P001"},
		{User: "theo@example.org", Action: "auth.login", IP: "192.0.2.8"},
		{User: "cli", Target: "ana@example.org", Action: "tokens.create"},
	}
	for i := range entries {
		entries[i].At = t0.Add(time.Duration(i) * time.Minute)
		if err := a.AppendAudit(c, entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f store.AuditFilter) []string {
		t.Helper()
		p, err := a.ListAudit(c, f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", f, err)
		}
		var out []string
		for _, e := range p.Entries {
			out = append(out, e.User+">"+e.Target+" "+e.Action)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want []string
	}{
		{store.AuditFilter{}, []string{"cli>ana@example.org tokens.create", "theo@example.org> auth.login",
			"cli>theo@example.org users.assign", "ana@example.org> session.read"}},
		{store.AuditFilter{User: "THEO@example.org"}, []string{"theo@example.org> auth.login", "cli>theo@example.org users.assign"}},
		{store.AuditFilter{User: "ana@example.org"}, []string{"cli>ana@example.org tokens.create", "ana@example.org> session.read"}},
		{store.AuditFilter{User: "cli"}, []string{"cli>ana@example.org tokens.create", "cli>theo@example.org users.assign"}},
		{store.AuditFilter{User: "theo@example.org", PatientCode: "P001"}, []string{"cli>theo@example.org users.assign"}},
		{store.AuditFilter{User: "ana@example.org", From: t0.Add(time.Minute)}, []string{"cli>ana@example.org tokens.create"}},
		{store.AuditFilter{User: "nobody@example.org"}, nil},
	} {
		if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListAudit(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
	p, err := a.ListAudit(c, store.AuditFilter{User: "cli", Limit: 1})
	if err != nil || len(p.Entries) != 1 || p.NextCursor == "" {
		t.Fatalf("first page of cli = %+v, %v", p, err)
	}
	p, err = a.ListAudit(c, store.AuditFilter{User: "cli", Limit: 1, Cursor: p.NextCursor})
	if err != nil || len(p.Entries) != 1 || p.NextCursor != "" {
		t.Fatalf("second page of cli = %+v, %v", p, err)
	}
	if e, w := p.Entries[0], entries[1]; !e.At.Equal(w.At) || e.User != w.User || e.Target != w.Target || e.Action != w.Action ||
		e.PatientCode != w.PatientCode || e.SessionID != "" || e.IP != "" {
		t.Errorf("second page of cli = %+v, want %+v", e, w)
	}
}
