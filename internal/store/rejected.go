package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FormatRejectedCode returns <patient>R<n>, n zero-padded to 3 digits: the
// code of a rejected recording, in a sequence of its own so that the
// patient's session codes (<patient>S<n>) keep no gaps for uploads that did
// not count.
func FormatRejectedCode(patient string, n int) string {
	return fmt.Sprintf("%sR%03d", patient, n)
}

// RejectObject records the object version {bucket, key, etag} of n as a
// rejected recording: a session row with status rejected, reason as its
// error, the code <patient>R<next> and no analysis. When the version has a
// row already (rejected or not) it returns that row and created false. A
// rejected row supersedes nothing (the key's readable sessions stay
// current); a later readable version of the key supersedes it as any
// other. n.SessionCode must be empty. Safe to race with CreateSession and
// other replicas: one row per object version, codes never collide.
func (q *queries) RejectObject(ctx context.Context, n NewSession, reason string) (*Session, bool, error) {
	if n.SessionCode != "" {
		return nil, false, fmt.Errorf("%w: a rejected recording takes its own code", ErrInvalidInput)
	}
	if strings.TrimSpace(reason) == "" {
		return nil, false, fmt.Errorf("%w: a rejected recording needs its reason", ErrInvalidInput)
	}
	r, err := q.checkNew(n)
	if err != nil {
		return nil, false, err
	}
	if q.d.name() == Postgres {
		// The patient's code lock, as CreateSession takes it.
		if _, err := q.c.exec(ctx, lockCodesSQL, sessionCodeLockClass, r.patient); err != nil {
			return nil, false, fmt.Errorf("store: lock session codes of %s: %w", r.patient, err)
		}
	}
	if s, err := q.GetSessionByObject(ctx, n.Bucket, n.ObjectKey, n.ETag); err == nil {
		return s, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	for attempt := 0; attempt < maxCodeAttempts; attempt++ {
		var last int64
		err := q.c.queryRow(ctx, `SELECT COALESCE(MAX(CAST(SUBSTR(session_code, $2) AS INTEGER)), 0)
			FROM sessions WHERE patient_code = $1 AND status = 'rejected'`, r.patient, len(r.patient)+2).Scan(&last)
		if err != nil {
			return nil, false, fmt.Errorf("store: next rejected code: %w", err)
		}
		code := FormatRejectedCode(r.patient, int(last)+1)
		ts := q.d.ts(now())
		createdAt := ts
		if n.CreatedAt != nil {
			createdAt = q.d.ts(n.CreatedAt.UTC().Truncate(time.Microsecond))
		}
		if _, err := q.c.exec(ctx, `SAVEPOINT emgd_reject_object`); err != nil {
			return nil, false, fmt.Errorf("store: reject object: %w", err)
		}
		affected, err := q.c.exec(ctx, `INSERT INTO sessions
			(id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, status, error,
			 metadata, recorded_at, timings, created_at, updated_at, processed_at, storage_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'rejected', $8, $9, $10, $11, $12, $13, $13, $14)
			ON CONFLICT (bucket, object_key, etag) DO NOTHING`,
			id, code, r.patient, n.Bucket, n.ObjectKey, n.ETag, n.FileSizeBytes, reason,
			r.meta, r.recorded, r.timings, createdAt, ts, n.StorageVersion)
		if err != nil {
			kind := q.d.classify(err)
			if _, rerr := q.c.exec(ctx, `ROLLBACK TO SAVEPOINT emgd_reject_object`); rerr != nil {
				return nil, false, fmt.Errorf("store: reject object: %w (after %v)", rerr, err)
			}
			if kind == errUniqueCode {
				time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
				continue
			}
			return nil, false, fmt.Errorf("store: reject object: %w", err)
		}
		if _, err := q.c.exec(ctx, `RELEASE SAVEPOINT emgd_reject_object`); err != nil {
			return nil, false, fmt.Errorf("store: reject object: %w", err)
		}
		if affected == 0 { // a concurrent writer stored the same object version
			s, err := q.GetSessionByObject(ctx, n.Bucket, n.ObjectKey, n.ETag)
			return s, false, err
		}
		s, err := q.GetSession(ctx, id)
		return s, err == nil, err
	}
	return nil, false, fmt.Errorf("store: no free rejected code for %s after %d attempts", r.patient, maxCodeAttempts)
}

// RejectObject runs in a transaction of its own.
func (s *impl) RejectObject(ctx context.Context, n NewSession, reason string) (sess *Session, created bool, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		sess, created, err = t.RejectObject(ctx, n, reason)
		return err
	})
	return sess, created, err
}
