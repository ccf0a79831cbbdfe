package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"emgd/internal/storage"
	"emgd/internal/store"
)

// ReanalyzeOption changes what Reanalyze queues.
type ReanalyzeOption func(*reanalyzeOptions)

type reanalyzeOptions struct {
	currentSettings bool
}

// WithCurrentSettings makes the job analyse with the patient's settings
// version current when it runs (the analysis records which) instead of
// the version current when the session was created.
func WithCurrentSettings() ReanalyzeOption {
	return func(o *reanalyzeOptions) { o.currentSettings = true }
}

// reanalyzeBatch bounds the sessions ReanalyzePatient queues in one
// transaction: a long range is queued in several short transactions
// rather than one that holds the database (SQLite's single writer) for the
// whole range.
const reanalyzeBatch = 100

// reanalyzeStats bounds the storage requests ReanalyzePatient makes at
// once to tell whether each session's object version is still there.
const reanalyzeStats = 8

// sessionFacts are the parameters that describe the session itself rather
// than the patient's targets: a reanalysis with the current settings keeps
// them from the session's current analysis.
var sessionFacts = []string{"rpe", "game_points", "game_max_points"}

// PatientReanalysis is what ReanalyzePatient queued.
type PatientReanalysis struct {
	// Sessions is the number of sessions queued.
	Sessions int
	// SettingsVersion is the patient's settings version current when they
	// were queued (0: none). Each job takes the version current when it
	// runs and its analysis records it.
	SettingsVersion int
	// Skipped are the sessions of the range not queued, with why.
	Skipped []SkippedSession
}

// SkippedSession is a session ReanalyzePatient left alone (in the JSON
// of POST /patients/{code}/reanalyze as it is).
type SkippedSession struct {
	SessionID   string `json:"session_id"`
	SessionCode string `json:"session_code"`
	Reason      string `json:"reason"`
}

// ReanalyzePatient queues the analysis of each current session of the
// patient (not superseded by a newer version of its object, not rejected)
// recorded in [from, before) (zero: unbounded; with either bound set,
// sessions without a recording time are left out) again with the
// patient's current settings (WithCurrentSettings). The parameters that
// describe the session (sessionFacts: RPE, game points) are kept from its
// current analysis. Each session goes back to pending with its job in the
// same transaction, reanalyzeBatch sessions per transaction; a session
// whose object version was overwritten is skipped (the newer version has
// its own session). The new analysis becomes the session's current one;
// earlier ones are kept (an analysis with exactly the parameters of an
// earlier one replaces that row, store.SaveAnalysis). It fails with
// ErrUnavailable when the database cannot answer; batches queued before
// stay queued.
func (s *Service) ReanalyzePatient(ctx context.Context, patient string, from, before time.Time) (*PatientReanalysis, error) {
	out := &PatientReanalysis{Skipped: []SkippedSession{}}
	if cur, err := s.Store.CurrentSettings(ctx, patient); err == nil {
		out.SettingsVersion = cur.Version
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	type todo struct {
		sess store.Session
		args AnalyzeArgs
	}
	var all []todo
	err := s.Store.PatientSessions(ctx, store.PatientRange{PatientCode: patient, RecordedFrom: from, RecordedBefore: before},
		func(sa store.SessionAnalysis) error {
			sess := sa.Session
			sess.Metadata, sess.Timings = nil, nil // not needed: hold less
			all = append(all, todo{sess, AnalyzeArgs{SessionID: sess.ID, Params: factsOf(sa.Analysis), CurrentSettings: true}})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	reasons := make([]string, reanalyzeBatch)
	for len(all) > 0 {
		n := min(len(all), reanalyzeBatch)
		batch := all[:n]
		all = all[n:]
		// Each session's object is asked about (a HEAD on S3) a few at a
		// time rather than one after the other; the answers keep the
		// sessions' order.
		var g errgroup.Group
		g.SetLimit(reanalyzeStats)
		for i := range batch {
			if reasons[i] = ""; batch[i].sess.StorageVersion == "" {
				continue // nothing to ask (objectChangedReason)
			}
			g.Go(func() error {
				reasons[i] = s.objectChangedReason(ctx, &batch[i].sess)
				return nil
			})
		}
		g.Wait()
		var args []AnalyzeArgs
		for i, t := range batch {
			if reasons[i] != "" {
				out.Skipped = append(out.Skipped, SkippedSession{SessionID: t.sess.ID, SessionCode: t.sess.SessionCode, Reason: reasons[i]})
				continue
			}
			args = append(args, t.args)
		}
		if len(args) == 0 {
			continue
		}
		if err := s.requeueJobs(ctx, args); err != nil {
			return nil, fmt.Errorf("%w: database: %v (%d sessions were queued before)", ErrUnavailable, err, out.Sessions)
		}
		out.Sessions += len(args)
	}
	if out.Sessions > 0 {
		s.log().Info("patient reanalysis queued", "patient", patient, "sessions", out.Sessions, "skipped", len(out.Skipped), "settings_version", out.SettingsVersion)
	}
	return out, nil
}

// objectChangedReason says why the session cannot be analysed again when
// the version of the object it describes was overwritten or deleted (""
// when it was not, or the storage cannot answer now: phase 2 checks
// again).
func (s *Service) objectChangedReason(ctx context.Context, sess *store.Session) string {
	if sess.StorageVersion == "" {
		return ""
	}
	info, err := s.Storage.Stat(ctx, sess.Bucket, sess.ObjectKey)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Sprintf("the object %s/%s is no longer in storage", sess.Bucket, sess.ObjectKey)
	}
	if err != nil || info.Version == sess.StorageVersion {
		return ""
	}
	return ErrObjectChanged.Error() + "; the newer version has its own session"
}

// factsOf are the session-describing parameters of an analysis (nil when
// it has none of them).
func factsOf(a *store.AnalysisResult) json.RawMessage {
	if a == nil || len(a.Params) == 0 {
		return nil
	}
	var all map[string]json.RawMessage
	if json.Unmarshal(a.Params, &all) != nil {
		return nil
	}
	kept := map[string]json.RawMessage{}
	for _, k := range sessionFacts {
		if v, ok := all[k]; ok && string(v) != "null" {
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		return nil
	}
	b, _ := json.Marshal(kept)
	return b
}
