package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store"
)

// PurgeOptions configures Purge.
type PurgeOptions struct {
	// Before is the cutoff: sessions created strictly before it go. Required.
	Before time.Time
	// DryRun reports what would be removed without removing anything.
	DryRun bool
	// Batch is the number of sessions listed at a time (default 200).
	Batch int
}

// PurgedSession is one session Purge removed (or would have).
type PurgedSession struct {
	ID          string    `json:"id"`
	SessionCode string    `json:"session_code"`
	Bucket      string    `json:"bucket"`
	Key         string    `json:"key"`
	CreatedAt   time.Time `json:"created_at"`
	Analyses    int       `json:"analyses"`
	// FileDeleted tells whether the stored file went with it; FileKept
	// says why it stayed ("" when deleted or already gone).
	FileDeleted bool   `json:"file_deleted"`
	FileBytes   int64  `json:"file_bytes"`
	FileKept    string `json:"file_kept,omitempty"`
	Error       string `json:"error,omitempty"`
}

// PurgeReport tells what Purge removed.
type PurgeReport struct {
	DryRun     bool            `json:"dry_run"`
	Before     time.Time       `json:"before"`
	Sessions   int             `json:"sessions"`
	Analyses   int             `json:"analyses"`
	Files      int             `json:"files"`
	FileBytes  int64           `json:"file_bytes"`
	Failed     int             `json:"failed"`
	Items      []PurgedSession `json:"items"`
	JobsPruned int             `json:"jobs_pruned"`
}

// Purge deletes the sessions created before o.Before together with their
// analysis results and their stored files. A file is kept when a session
// of the same object created at or after the cutoff still uses it, or when
// the object was written at or after the cutoff (a newer version whose
// session may not exist yet): nothing younger than the cutoff is touched.
// The file goes first, then the session and its analyses in one statement,
// so an interrupted purge leaves at most sessions whose file is gone, which
// the next run removes. Safe to run again and on several replicas at once.
func (s *Service) Purge(ctx context.Context, o PurgeOptions) (*PurgeReport, error) {
	if o.Before.IsZero() {
		return nil, errors.New("purge: no cutoff given")
	}
	batch := o.Batch
	if batch <= 0 {
		batch = 200
	}
	rep := &PurgeReport{DryRun: o.DryRun, Before: o.Before, Items: []PurgedSession{}}
	cursor := ""
	for {
		page, err := s.Store.ListSessions(ctx, store.ListOptions{CreatedBefore: o.Before, Limit: batch, Cursor: cursor})
		if err != nil {
			return rep, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
		}
		for i := range page.Sessions {
			it, err := s.purgeOne(ctx, &page.Sessions[i], o)
			if err != nil && ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if it.Error != "" {
				rep.Failed++
			} else {
				rep.Sessions++
				rep.Analyses += it.Analyses
				if it.FileDeleted {
					rep.Files++
					rep.FileBytes += it.FileBytes
				}
			}
			rep.Items = append(rep.Items, it)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if rep.Sessions > 0 || rep.Failed > 0 {
		s.log().Info("purged sessions", "dry_run", o.DryRun, "before", o.Before, "sessions", rep.Sessions,
			"analyses", rep.Analyses, "files", rep.Files, "bytes", rep.FileBytes, "failed", rep.Failed)
	}
	return rep, nil
}

func (s *Service) purgeOne(ctx context.Context, sess *store.Session, o PurgeOptions) (PurgedSession, error) {
	it := PurgedSession{ID: sess.ID, SessionCode: sess.SessionCode, Bucket: sess.Bucket, Key: sess.ObjectKey, CreatedAt: sess.CreatedAt}
	fail := func(err error) (PurgedSession, error) {
		it.Error = err.Error()
		return it, err
	}
	analyses, err := s.Store.ListAnalyses(ctx, sess.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fail(err)
	}
	it.Analyses = len(analyses)

	// Does anything younger than the cutoff still need the file?
	others, err := s.Store.ObjectSessions(ctx, sess.Bucket, []string{sess.ObjectKey})
	if err != nil {
		return fail(err)
	}
	for _, x := range others[sess.ObjectKey] {
		if x.ID != sess.ID && !x.CreatedAt.Before(o.Before) {
			it.FileKept = "session " + x.SessionCode + " of the same object is younger than the cutoff"
		}
	}
	info, err := s.Storage.Stat(ctx, sess.Bucket, sess.ObjectKey)
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInvalidKey):
		it.FileKept = "" // already gone
	case err != nil:
		return fail(err)
	case it.FileKept != "":
	case !info.ModTime.Before(o.Before):
		it.FileKept = "the stored object was written after the cutoff"
	default:
		it.FileBytes = info.Size
		it.FileDeleted = true
	}
	if o.DryRun {
		return it, nil
	}
	if it.FileDeleted {
		if err := s.Storage.Delete(ctx, sess.Bucket, sess.ObjectKey); err != nil && !errors.Is(err, storage.ErrNotFound) {
			it.FileDeleted, it.FileBytes = false, 0
			return fail(err)
		}
	}
	if err := s.Store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fail(err)
	}
	return it, nil
}
