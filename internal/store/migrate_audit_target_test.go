package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// TestUpgradeAddsAuditTarget: a database of migration 6 with audit entries
// upgrades in place; its entries keep their user and have no target, new
// entries store theirs, and a filter by an account finds both kinds. The
// migration is reversible.
func TestUpgradeAddsAuditTarget(t *testing.T) {
	atMigration(t, 6, func(t *testing.T, ctx context.Context, s store.Store, p *goose.Provider) {
		// Before: a change made with the command line named the account as
		// its user.
		if _, err := storetest.DB(s).ExecContext(ctx, `INSERT INTO audit_log (at, user_name, action, patient_code, session_id, ip)
			VALUES ('2025-01-02T03:04:05.000000Z', 'theo@example.org', 'users.assign', 'P001', '', '')`); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		a, _ := store.AccountsOf(s)
		if err := a.AppendAudit(ctx, store.AuditEntry{At: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC), User: "cli",
			Target: "theo@example.org", Action: "users.unassign", PatientCode: "P001"}); err != nil {
			t.Fatalf("AppendAudit after the upgrade: %v", err)
		}
		page, err := a.ListAudit(ctx, store.AuditFilter{User: "theo@example.org"})
		if err != nil || len(page.Entries) != 2 {
			t.Fatalf("entries of theo after the upgrade = %+v, %v", page, err)
		}
		if e := page.Entries[0]; e.User != "cli" || e.Target != "theo@example.org" || e.Action != "users.unassign" {
			t.Errorf("new entry = %+v", e)
		}
		if e := page.Entries[1]; e.User != "theo@example.org" || e.Target != "" || e.Action != "users.assign" || e.PatientCode != "P001" {
			t.Errorf("entry made before the upgrade = %+v", e)
		}
		// Down and up again: the migration is reversible.
		if _, err := p.DownTo(ctx, 6); err != nil {
			t.Fatalf("down: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if page, err := a.ListAudit(ctx, store.AuditFilter{}); err != nil || len(page.Entries) != 2 || page.Entries[0].Target != "" {
			t.Errorf("after down and up = %+v, %v", page, err)
		}
	})
}
