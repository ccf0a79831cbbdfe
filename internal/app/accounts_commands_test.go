package app_test

import (
	"context"
	"errors"
	"testing"

	"emgd/internal/app"
	"emgd/internal/store"
)

// openAccounts opens the accounts of a new SQLite database.
func openAccounts(t *testing.T) *app.Accounts {
	t.Helper()
	a, err := app.OpenAccounts(context.Background(), &app.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestAccountsAssignPatientCode: users assign takes a patient code as the
// store defines it (store.IsPatientCode) and refuses anything else as a
// usage error, before looking the account up.
func TestAccountsAssignPatientCode(t *testing.T) {
	ctx := context.Background()
	a := openAccounts(t)
	if _, err := a.AddUser(ctx, "theo@example.org", "therapist", ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"P1", "P001", "P999999999999"} {
		if added, err := a.Assign(ctx, "theo@example.org", p); err != nil || !added {
			t.Errorf("Assign(%s) = %v, %v", p, added, err)
		}
	}
	for _, p := range []string{"", "bob", "p001", "P001S001", "P1234567890123"} {
		if _, err := a.Assign(ctx, "theo@example.org", p); !errors.Is(err, app.ErrUsage) {
			t.Errorf("Assign(%q): %v, want ErrUsage", p, err)
		}
		if _, err := a.Assign(ctx, "nobody@example.org", p); !errors.Is(err, app.ErrUsage) {
			t.Errorf("Assign(%q) to no account: %v, want ErrUsage", p, err)
		}
	}
	users, err := a.Users(ctx)
	if err != nil || len(users) != 1 || len(users[0].Patients) != 3 {
		t.Fatalf("Users = %+v, %v", users, err)
	}
	for _, p := range users[0].Patients {
		if !store.IsPatientCode(p) {
			t.Errorf("assigned %q", p)
		}
	}
}

// TestAccountsAuditCLIEntries: each change made with emgd users and tokens
// is an audit entry whose user is the command line (app.CLIUser) and whose
// target is the account changed, so that it does not read as that
// account's own action; a filter by the account finds them.
func TestAccountsAuditCLIEntries(t *testing.T) {
	ctx := context.Background()
	a := openAccounts(t)
	steps := []struct {
		do      func() error
		action  string
		target  string
		patient string
	}{
		{func() error { _, err := a.AddUser(ctx, "Ana@Example.org", "admin", ""); return err }, "users.add", "ana@example.org", ""},
		{func() error { _, err := a.AddUser(ctx, "theo@example.org", "therapist", ""); return err }, "users.add", "theo@example.org", ""},
		{func() error { _, err := a.Assign(ctx, "THEO@example.org", "P001"); return err }, "users.assign", "theo@example.org", "P001"},
		{func() error { _, err := a.Unassign(ctx, "theo@example.org", "P001"); return err }, "users.unassign", "theo@example.org", "P001"},
		{func() error { return a.SetPassword(ctx, "theo@example.org", "a long enough password") }, "users.password", "theo@example.org", ""},
		{func() error { return a.SetDisabled(ctx, "theo@example.org", true) }, "users.disable", "theo@example.org", ""},
		{func() error { return a.SetDisabled(ctx, "theo@example.org", false) }, "users.enable", "theo@example.org", ""},
		{func() error { _, err := a.CreateToken(ctx, "ana@example.org", "nightly"); return err }, "tokens.create", "ana@example.org", ""},
		{func() error { return a.RevokeToken(ctx, "ana@example.org", "nightly") }, "tokens.revoke", "ana@example.org", ""},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.action, err)
		}
	}
	var entries []store.AuditEntry
	if err := a.Audit(ctx, store.AuditFilter{}, 0, func(e store.AuditEntry) error { entries = append(entries, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(steps), entries)
	}
	for i, e := range entries {
		w := steps[len(steps)-1-i] // newest first
		if e.User != app.CLIUser || e.Target != w.target || e.Action != w.action || e.PatientCode != w.patient || e.IP != "" {
			t.Errorf("entry %d = %+v, want user %s, target %s, action %s, patient %q", i, e, app.CLIUser, w.target, w.action, w.patient)
		}
	}
	n := 0
	if err := a.Audit(ctx, store.AuditFilter{User: "theo@example.org"}, 0, func(e store.AuditEntry) error {
		if e.Target != "theo@example.org" {
			t.Errorf("filter by theo listed %+v", e)
		}
		n++
		return nil
	}); err != nil || n != 6 {
		t.Errorf("filter by theo: %d entries, %v; want 6", n, err)
	}
}
