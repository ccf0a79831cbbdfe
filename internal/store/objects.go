package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// objectBatch is how many keys go into one ObjectSessions query.
const objectBatch = 200

// ObjectSessions returns the sessions of every version of the given keys of
// bucket, keyed by object key (a key without sessions is absent), oldest
// first within a key. It runs one query per 200 keys, so that a caller
// checking a whole listing (reconcile) does not query once per object.
func (q *queries) ObjectSessions(ctx context.Context, bucket string, keys []string) (map[string][]Session, error) {
	out := map[string][]Session{}
	for start := 0; start < len(keys); start += objectBatch {
		batch := keys[start:min(start+objectBatch, len(keys))]
		args := []any{bucket}
		marks := make([]string, len(batch))
		for i, k := range batch {
			args = append(args, k)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		rs, err := q.c.query(ctx, `SELECT `+sessionCols+` FROM sessions s
			WHERE s.bucket = $1 AND s.object_key IN (`+strings.Join(marks, ",")+`)
			ORDER BY s.object_key, s.created_at, s.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: read sessions of objects: %w", err)
		}
		for rs.Next() {
			s, err := scanSession(rs)
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("store: read sessions of objects: %w", err)
			}
			out[s.ObjectKey] = append(out[s.ObjectKey], *s)
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("store: read sessions of objects: %w", err)
		}
	}
	return out, nil
}

// KeyStats counts the sessions whose object keys contain a substring.
type KeyStats struct {
	// Sessions and Objects (distinct keys) matched; Completed sessions of
	// them; Duplicated: objects with more than one session.
	Sessions, Objects, Completed, Duplicated int
	// Results are the analysis results of the matched sessions.
	Results int
}

// likeEscaper escapes a LIKE pattern's wildcards (with \ as escape).
var likeEscaper = sync.OnceValue(func() *strings.Replacer { return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`) })

// KeyStats counts the sessions whose object key contains substr (every
// session when it is empty), in every bucket.
func (q *queries) KeyStats(ctx context.Context, substr string) (*KeyStats, error) {
	like := "%" + likeEscaper().Replace(substr) + "%"
	var r KeyStats
	err := q.c.queryRow(ctx, `SELECT count(*), count(DISTINCT object_key),
		coalesce(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0)
		FROM sessions WHERE object_key LIKE $1 ESCAPE '\'`, like).Scan(&r.Sessions, &r.Objects, &r.Completed)
	if err != nil {
		return nil, fmt.Errorf("store: count sessions: %w", err)
	}
	err = q.c.queryRow(ctx, `SELECT count(*) FROM (SELECT object_key FROM sessions WHERE object_key LIKE $1 ESCAPE '\'
		GROUP BY object_key HAVING count(*) > 1) several`, like).Scan(&r.Duplicated)
	if err != nil {
		return nil, fmt.Errorf("store: count sessions: %w", err)
	}
	err = q.c.queryRow(ctx, `SELECT count(*) FROM analysis_results a JOIN sessions s ON s.id = a.session_id
		WHERE s.object_key LIKE $1 ESCAPE '\'`, like).Scan(&r.Results)
	if err != nil {
		return nil, fmt.Errorf("store: count analysis results: %w", err)
	}
	return &r, nil
}

// HasTables reports whether emgd's tables exist (in PostgreSQL's search
// path).
func (s *impl) HasTables(ctx context.Context) (bool, error) {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessions'`
	if s.d.name() == Postgres {
		// Resolved through the search path, as the store's queries are.
		q = `SELECT CASE WHEN to_regclass('sessions') IS NULL THEN 0 ELSE 1 END`
	}
	var n int
	if err := s.queries.c.queryRow(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("store: look for tables: %w", err)
	}
	return n > 0, nil
}
