package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// createSessionSQLite creates a session with the next code of its patient
// ($2) and returns the new row, in one statement; nothing when the object
// version exists already. SQLite's write transactions are immediate (one
// writer holds the database from BEGIN), and a single statement reads the
// codes and inserts under the same lock even outside a transaction, so the
// code it computes cannot be taken meanwhile. The arguments are createArgs'.
const createSessionSQLite = `INSERT INTO sessions
	(id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, status,
	 metadata, recorded_at, timings, created_at, updated_at, storage_version)
	SELECT $1, $2 || 'S' || printf('%03d', next.n), $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $12, $10, $11
	FROM (SELECT COALESCE(MAX(CAST(SUBSTR(session_code, $13) AS INTEGER)), 0) + 1 AS n
		FROM sessions WHERE patient_code = $2 AND status <> 'rejected') AS next
	WHERE true
	ON CONFLICT (bucket, object_key, etag) DO NOTHING
	RETURNING id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, file_sha256,
		status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
		processed_at, storage_version, false`

// createSQLite is CreateSession with an allocated code on SQLite in two
// statements (the insert, then the older versions marked superseded) where
// the general path takes seven. ok is false when the insert met another
// constraint than the object version's (a code taken by a writer that does
// not hold the lock): the caller then takes the general path.
func (q *queries) createSQLite(ctx context.Context, r *newRow) (s *Session, created, ok bool, err error) {
	id := uuid.Must(uuid.NewV7()).String()
	args := q.createArgs(id, r)
	s, err = scanSession(q.c.queryRow(ctx, createSessionSQLite, args...))
	switch {
	case isNoRows(err): // the object version has its session already
		s, err = q.GetSessionByObject(ctx, r.n.Bucket, r.n.ObjectKey, r.n.ETag)
		return s, false, err == nil, err
	case err != nil && q.d.classify(err) == errUniqueCode:
		return nil, false, false, nil
	case err != nil:
		return nil, false, true, fmt.Errorf("store: create session: %w", err)
	}
	if _, err := q.c.exec(ctx, `UPDATE sessions SET superseded_by = $1, updated_at = $2
		WHERE bucket = $3 AND object_key = $4 AND id <> $1 AND superseded_by IS NULL`,
		id, args[9], r.n.Bucket, r.n.ObjectKey); err != nil {
		return nil, false, true, fmt.Errorf("store: mark older versions superseded: %w", err)
	}
	return s, true, true, nil
}
