package store_test

import (
	"context"
	"testing"

	"github.com/pressly/goose/v3"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// TestUpgradeAllowsRejected: a database at migration 3, with sessions
// (one superseding another) and an analysis, upgrades to the status
// rejected in place: every row, link and analysis survives (on SQLite both
// tables are rebuilt, and dropping the old sessions table must not cascade
// to the analyses), the constraints still hold, and a rejected recording
// can be stored. Going down again removes the rejected rows only.
func TestUpgradeAllowsRejected(t *testing.T) {
	atMigration(t, 3, func(t *testing.T, ctx context.Context, s store.Store, p *goose.Provider) {
		db := storetest.DB(s)
		const oldID, newID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
		for _, q := range []string{
			`INSERT INTO sessions (id, session_code, patient_code, bucket, object_key, etag, status, created_at, updated_at, storage_version)
			VALUES ('` + newID + `', 'P001S002', 'P001', 'c3d-examples', 'P001/a.c3d', 'e2', 'completed',
			'2025-01-02T03:04:06.000000Z', '2025-01-02T03:04:06.000000Z', 'v2')`,
			`INSERT INTO sessions (id, session_code, patient_code, bucket, object_key, etag, status, created_at, updated_at, superseded_by)
			VALUES ('` + oldID + `', 'P001S001', 'P001', 'c3d-examples', 'P001/a.c3d', 'e1', 'failed',
			'2025-01-02T03:04:05.000000Z', '2025-01-02T03:04:05.000000Z', '` + newID + `')`,
			`INSERT INTO analysis_results (session_id, processing_version, params, params_hash, analytics_summary, created_at)
			VALUES ('` + newID + `', '1', '{}', 'h', '{"analytics":{}}', '2025-01-02T03:04:07.000000Z')`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		old, err := s.GetSession(ctx, oldID)
		if err != nil || old.SupersededBy != newID || old.Status != store.StatusFailed {
			t.Fatalf("old session after the upgrade: %+v, %v", old, err)
		}
		cur, err := s.GetSession(ctx, newID)
		if err != nil || !cur.HasAnalysis || cur.StorageVersion != "v2" || cur.SessionCode != "P001S002" {
			t.Fatalf("current session after the upgrade: %+v, %v", cur, err)
		}
		if _, err := s.CurrentAnalysis(ctx, newID); err != nil {
			t.Fatalf("analysis lost in the upgrade: %v", err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE sessions SET status = 'done' WHERE id = $1`, newID); err == nil {
			t.Error("the upgraded database accepts status 'done'")
		}
		rej, created, err := s.RejectObject(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: "P001/b.c3d", ETag: "x"}, "not a C3D file")
		if err != nil || !created || rej.Status != store.StatusRejected {
			t.Fatalf("RejectObject after the upgrade: %+v, %v, %v", rej, created, err)
		}
		// Deleting a session still cascades to its analyses and clears
		// the links to it (the rebuilt foreign keys).
		if err := s.DeleteSession(ctx, newID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM analysis_results`).Scan(&n); err != nil || n != 0 {
			t.Errorf("analyses after deleting their session: %d, %v", n, err)
		}
		if old, err := s.GetSession(ctx, oldID); err != nil || old.SupersededBy != "" {
			t.Errorf("link to a deleted session: %+v, %v", old, err)
		}
		if _, err := p.DownTo(ctx, 3); err != nil {
			t.Fatalf("down: %v", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
			t.Errorf("sessions after going down: %d, %v (want the failed one)", n, err)
		}
	})
}
