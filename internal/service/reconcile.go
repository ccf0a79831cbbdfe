package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"emgd/internal/storage"
	"emgd/internal/store"
)

// ReconcileOptions configures Reconcile.
type ReconcileOptions struct {
	// Buckets to list; default the watched buckets (Config.Buckets, else the
	// storage's default bucket).
	Buckets []string
	// Prefix restricts the listing to keys starting with it.
	Prefix string
	// DryRun reports what would be enqueued without creating anything.
	DryRun bool
}

// ReconcileItem is one object Reconcile acted on (or would have).
type ReconcileItem struct {
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	ETag        string `json:"etag"`
	Size        int64  `json:"size"`
	SessionID   string `json:"session_id,omitempty"`
	SessionCode string `json:"session_code,omitempty"`
	Error       string `json:"error,omitempty"`
}

// ReconcileReport tells what Reconcile found and did.
type ReconcileReport struct {
	DryRun bool `json:"dry_run"`
	// Listed counts every object listed; C3D those whose key ends in .c3d.
	Listed int `json:"listed"`
	C3D    int `json:"c3d"`
	// Known counts .c3d objects that already have a session.
	Known int `json:"known"`
	// Enqueued are the objects given a session and an analysis job (in a
	// dry run: the objects that would be).
	Enqueued []ReconcileItem `json:"enqueued"`
	// Failed are objects phase 1 could not reach or take (storage or
	// database errors, a key it cannot use); they are tried again next time.
	Failed []ReconcileItem `json:"failed"`
	// Rejected are object versions phase 1 refused (not a readable C3D
	// file), with the reason: recorded as rejected sessions (the first time
	// this run, or before) and not tried again until a new version of the
	// object is written. They are counted in Known when recorded before.
	Rejected []ReconcileItem `json:"rejected"`
	// Stranded are sessions left pending or processing with no job that
	// could still run, as Sweep finds them (in every bucket, whatever the
	// prefix): failed with a message saying what happened (in a dry run:
	// the sessions that would be).
	Stranded []StrandedSession `json:"stranded"`
}

// Reconcile lists the watched buckets and runs phase 1 (Ingest, so exactly
// as for a webhook event) for every .c3d object that has no session: events
// get lost (Supabase's database webhook does not retry). An object counts as
// having a session when a session exists for its bucket, key and etag, or
// when its key has sessions of other etags of which one was created after
// the object was last written (the event that made that session described
// this write, with an etag in the sender's own form). It first sweeps
// sessions stranded by a crash (Sweep), when the queue can list jobs. Safe
// to run on several replicas at once: phase 1 creates one session per
// object version, and the sweep fails a session once.
func (s *Service) Reconcile(ctx context.Context, o ReconcileOptions) (*ReconcileReport, error) {
	buckets := o.Buckets
	if len(buckets) == 0 {
		buckets = s.Config.Buckets
	}
	if len(buckets) == 0 {
		buckets = []string{s.Storage.DefaultBucket()}
	}
	rep := &ReconcileReport{DryRun: o.DryRun, Enqueued: []ReconcileItem{}, Failed: []ReconcileItem{}, Rejected: []ReconcileItem{}, Stranded: []StrandedSession{}}
	if _, ok := s.Queue.(analyzeJobLister); ok {
		sw, err := s.Sweep(ctx, SweepOptions{DryRun: o.DryRun})
		if err != nil {
			return rep, err
		}
		rep.Stranded = sw.Stranded
	}
	for _, bucket := range buckets {
		batch := make([]storage.ObjectInfo, 0, reconcileBatch)
		for info, err := range s.Storage.List(ctx, bucket, o.Prefix) {
			if err != nil {
				// The objects listed so far are reconciled still, as they
				// were one by one.
				if berr := s.reconcileObjects(ctx, bucket, batch, o, rep); berr != nil {
					return rep, berr
				}
				return rep, fmt.Errorf("list bucket %s: %w", bucket, err)
			}
			rep.Listed++
			if !strings.HasSuffix(strings.ToLower(info.Key), ".c3d") {
				continue
			}
			rep.C3D++
			batch = append(batch, info)
			if len(batch) == reconcileBatch {
				if err := s.reconcileObjects(ctx, bucket, batch, o, rep); err != nil {
					return rep, err
				}
				batch = batch[:0]
			}
		}
		if err := s.reconcileObjects(ctx, bucket, batch, o, rep); err != nil {
			return rep, err
		}
	}
	if len(rep.Enqueued) > 0 || len(rep.Failed) > 0 || len(rep.Stranded) > 0 {
		s.log().Info("reconciled storage", "dry_run", o.DryRun, "listed", rep.Listed, "known", rep.Known,
			"enqueued", len(rep.Enqueued), "failed", len(rep.Failed), "rejected", len(rep.Rejected), "stranded", len(rep.Stranded))
	}
	return rep, nil
}

// reconcileBatch is how many listed objects are looked up in one query.
const reconcileBatch = 200

// reconcileObjects runs phase 1 for the objects of one bucket that have no
// session, looking their sessions up in one query.
func (s *Service) reconcileObjects(ctx context.Context, bucket string, objects []storage.ObjectInfo, o ReconcileOptions, rep *ReconcileReport) error {
	if len(objects) == 0 {
		return nil
	}
	keys := make([]string, len(objects))
	for i, info := range objects {
		keys[i] = info.Key
	}
	sessions, err := s.Store.ObjectSessions(ctx, bucket, keys)
	if err != nil {
		return fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	for _, info := range objects {
		item := ReconcileItem{Bucket: bucket, Key: info.Key, ETag: info.ETag, Size: info.Size}
		if sess := versionSession(sessions[info.Key], info); sess != nil {
			rep.Known++
			if sess.Status == store.StatusRejected {
				// Final for this version: reported, not tried again.
				item.SessionID, item.SessionCode, item.Error = sess.ID, sess.SessionCode, sess.Error
				rep.Rejected = append(rep.Rejected, item)
			}
			continue
		}
		if o.DryRun {
			rep.Enqueued = append(rep.Enqueued, item)
			continue
		}
		out, err := s.Ingest(ctx, Event{
			Bucket: bucket, Key: info.Key, RawKey: info.Key, ETag: info.ETag, Size: info.Size})
		rejected, isRejected := RejectedSession(err)
		switch {
		case errors.Is(err, ErrUnavailable) && ctx.Err() != nil:
			return ctx.Err()
		case isRejected:
			item.SessionID, item.SessionCode, item.Error = rejected.ID, rejected.SessionCode, rejected.Error
			rep.Rejected = append(rep.Rejected, item)
		case err != nil:
			item.Error = err.Error()
			rep.Failed = append(rep.Failed, item)
		case out.Ignored:
			item.Error = out.Message
			rep.Failed = append(rep.Failed, item)
		default:
			item.SessionID, item.SessionCode = out.Session.ID, out.Session.SessionCode
			if out.Created {
				rep.Enqueued = append(rep.Enqueued, item)
			} else { // created meanwhile by an event or another replica
				rep.Known++
			}
		}
	}
	return nil
}

// versionSession returns the session (possibly a rejected recording) of
// the sessions of an object's key that is of the listed version: same
// etag, same recorded storage version, or created after the object was
// last written; nil when none is.
func versionSession(sessions []store.Session, info storage.ObjectInfo) *store.Session {
	for i := range sessions {
		if sessions[i].ETag == info.ETag {
			return &sessions[i]
		}
	}
	for i := range sessions {
		// Phase 1 recorded the storage's own version it read: an exact
		// match, whatever the clocks of the storage and the database say.
		if info.Version != "" && sessions[i].StorageVersion == info.Version {
			return &sessions[i]
		}
	}
	for i := len(sessions) - 1; i >= 0; i-- { // oldest first: the newest
		if !sessions[i].CreatedAt.Before(info.ModTime) {
			return &sessions[i]
		}
	}
	return nil
}
