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
