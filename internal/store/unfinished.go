package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// UnfinishedOptions pages ListUnfinished.
type UnfinishedOptions struct {
	// UpdatedBefore, when set, keeps sessions last changed strictly before it.
	UpdatedBefore time.Time
	// AfterCreatedAt and AfterID continue a listing after the last session of
	// the previous page (its CreatedAt and ID); zero for the first page.
	AfterCreatedAt time.Time
	AfterID        string
	// Limit defaults to 100 and is capped at MaxListLimit.
	Limit int
}

// ListUnfinished lists the sessions still pending or processing, oldest
// first (by creation time, then id): the ones whose analysis has not ended.
func (q *queries) ListUnfinished(ctx context.Context, o UnfinishedOptions) ([]Session, error) {
	limit := o.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidInput)
	case limit == 0:
		limit = 100
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	args := []any{string(StatusPending), string(StatusProcessing)}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{"s.status IN ($1, $2)"}
	if !o.UpdatedBefore.IsZero() {
		where = append(where, "s.updated_at < "+arg(q.d.ts(o.UpdatedBefore)))
	}
	if !o.AfterCreatedAt.IsZero() || o.AfterID != "" {
		t, id := arg(q.d.ts(o.AfterCreatedAt)), arg(strings.ToLower(o.AfterID))
		where = append(where, fmt.Sprintf("(s.created_at > %s OR (s.created_at = %s AND s.id > %s))", t, t, id))
	}
	rs, err := q.c.query(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE `+strings.Join(where, " AND ")+
		` ORDER BY s.created_at, s.id LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list unfinished sessions: %w", err)
	}
	defer rs.Close()
	out := []Session{}
	for rs.Next() {
		s, err := scanSession(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list unfinished sessions: %w", err)
		}
		out = append(out, *s)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list unfinished sessions: %w", err)
	}
	return out, nil
}

// FailUnfinished marks the session failed with msg, but only while it is
// still pending or processing and unchanged since it was read (its
// UpdatedAt is still updatedAt): a session that was analysed, failed, or
// sent for reanalysis meanwhile is left alone. It reports whether it
// changed the session. The row is locked while checked, so replicas doing
// the same at once change it once. Run it in a transaction.
func (q *queries) FailUnfinished(ctx context.Context, id string, updatedAt time.Time, msg string) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	id = strings.ToLower(id)
	var status string
	var updated dbTime
	err := q.c.queryRow(ctx, `SELECT status, updated_at FROM sessions WHERE id = $1`+q.d.forUpdate(), id).Scan(&status, &updated)
	if isNoRows(err) {
		return false, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return false, fmt.Errorf("store: fail unfinished session: %w", err)
	}
	if (Status(status) != StatusPending && Status(status) != StatusProcessing) || !updated.t.Equal(updatedAt) {
		return false, nil
	}
	if _, err := q.SetStatus(ctx, id, StatusUpdate{Status: StatusFailed, Error: msg}); err != nil {
		return false, err
	}
	return true, nil
}

// FailUnfinished runs in a transaction of its own.
func (s *impl) FailUnfinished(ctx context.Context, id string, updatedAt time.Time, msg string) (done bool, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		done, err = t.FailUnfinished(ctx, id, updatedAt, msg)
		return err
	})
	return done, err
}
