package service

import (
	"context"
	"errors"
	"fmt"

	"emgd/internal/store"
)

// reject records the object version of ns, which phase 1 refused for
// reason, as a rejected recording (a session row with status rejected and
// no job, store.RejectObject) and returns the ErrInvalidFile the sender
// gets. Redelivery of the version finds the row and returns the same
// error with the same reason (Ingest). When the row cannot be written the
// sender is answered ErrUnavailable, so that it retries and the refusal is
// recorded then.
func (s *Service) reject(ctx context.Context, ns store.NewSession, reason string) error {
	sess, created, err := s.Store.RejectObject(ctx, ns, reason)
	if err != nil {
		if errors.Is(err, store.ErrInvalidInput) {
			return fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		return fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	if sess.Status != store.StatusRejected {
		// A readable session of the same version meanwhile (two readers of
		// one object disagreeing): not refused after all.
		return fmt.Errorf("%w: %s", ErrInvalidFile, reason)
	}
	if created {
		s.log().Warn("recording rejected", "session", sess.SessionCode, "patient", sess.PatientCode,
			"bucket", ns.Bucket, "key", ns.ObjectKey, "etag", ns.ETag, "reason", reason)
	}
	return rejectedError(sess)
}

// rejectedError is the error phase 1 answers for a rejected object
// version: ErrInvalidFile with the stored reason, the same on every
// delivery.
func rejectedError(sess *store.Session) error {
	return &rejected{kindError{kind: ErrInvalidFile, msg: fmt.Sprintf("%v: %s", ErrInvalidFile, sess.Error)}, sess}
}

// rejected is the error of a rejected recording; RejectedSession finds its
// row.
type rejected struct {
	kindError
	sess *store.Session
}

// RejectedSession returns the rejected recording's row behind an
// ErrInvalidFile from Ingest, when it was recorded.
func RejectedSession(err error) (*store.Session, bool) {
	var r *rejected
	if errors.As(err, &r) {
		return r.sess, true
	}
	return nil, false
}
