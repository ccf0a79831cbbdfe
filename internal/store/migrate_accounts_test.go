package store_test

import (
	"context"
	"testing"

	"github.com/pressly/goose/v3"

	"emgd/internal/store"
)

// TestUpgradeAddsAccounts: a database of migration 5, with a session in
// it, upgrades in place to one without accounts (the service stays open
// as before) whose sessions are untouched, and accounts work after it.
func TestUpgradeAddsAccounts(t *testing.T) {
	atMigration(t, 5, func(t *testing.T, ctx context.Context, s store.Store, p *goose.Provider) {
		sess, _, err := s.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/a.c3d", ETag: "e1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if got, err := s.GetSession(ctx, sess.ID); err != nil || got.SessionCode != sess.SessionCode {
			t.Errorf("session after the upgrade = %+v, %v", got, err)
		}
		a, _ := store.AccountsOf(s)
		if has, err := a.HasUsers(ctx); err != nil || has {
			t.Errorf("HasUsers after the upgrade = %v, %v; want none", has, err)
		}
		if _, err := a.CreateUser(ctx, store.NewUser{Email: "ana@example.org", Role: store.RoleAdmin}); err != nil {
			t.Errorf("CreateUser after the upgrade: %v", err)
		}
		// Down and up again: the migration is reversible.
		if _, err := p.DownTo(ctx, 5); err != nil {
			t.Fatalf("down: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
