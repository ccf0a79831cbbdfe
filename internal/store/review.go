package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PatientSummary counts a patient's sessions: only current ones (not
// superseded by a newer version of their object; rejected recordings never
// count).
type PatientSummary struct {
	PatientCode string
	Sessions    int
	Completed   int
	Failed      int
	// LastRecordedAt is the newest recording's wall clock (as
	// Session.RecordedAt), nil when none of the sessions has one.
	LastRecordedAt *time.Time
}

// PatientOptions filters Patients.
type PatientOptions struct {
	// Scope, when restricted, keeps only its patients.
	Scope
	// PatientCode, when set, keeps only that patient.
	PatientCode string
}

// PatientRange selects a patient's current sessions by recording time
// (Session.RecordedAt, the device's wall clock).
type PatientRange struct {
	PatientCode string // required
	// RecordedFrom, when set, keeps sessions recorded at or after it;
	// RecordedBefore, when set, those recorded strictly before it. With
	// either set, sessions without a recording time are left out; with
	// neither, they come last.
	RecordedFrom, RecordedBefore time.Time
}

// SessionAnalysis is a session with its current analysis (nil when it has
// none).
type SessionAnalysis struct {
	Session  Session
	Analysis *AnalysisResult
}

// Review are the read-only queries of a patient review.
type Review interface {
	// Patients summarises every patient that has a session (or only
	// o.PatientCode's), by patient code, in one query.
	Patients(ctx context.Context, o PatientOptions) ([]PatientSummary, error)
	// PatientSessions calls fn with each current session of the patient
	// in the range, with its current analysis, oldest recording first (then
	// by creation time and id), reading them in one query as fn goes: fn
	// must not use the store. An error of fn stops the listing and is
	// returned.
	PatientSessions(ctx context.Context, r PatientRange, fn func(SessionAnalysis) error) error
}

// currentSession is the WHERE clause of a session that counts for a
// patient (s: sessions).
const currentSession = `s.superseded_by IS NULL AND s.status <> 'rejected'`

func (q *queries) Patients(ctx context.Context, o PatientOptions) ([]PatientSummary, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := currentSession
	if o.PatientCode != "" {
		where += ` AND s.patient_code = ` + arg(o.PatientCode)
	}
	if c := o.Scope.where("s.patient_code", arg); c != "" {
		where += ` AND ` + c
	}
	rs, err := q.c.query(ctx, `SELECT s.patient_code, COUNT(*),
		SUM(CASE WHEN s.status = 'completed' THEN 1 ELSE 0 END),
		SUM(CASE WHEN s.status = 'failed' THEN 1 ELSE 0 END),
		MAX(s.recorded_at)
		FROM sessions s WHERE `+where+` GROUP BY s.patient_code ORDER BY s.patient_code`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list patients: %w", err)
	}
	defer rs.Close()
	out := []PatientSummary{}
	for rs.Next() {
		var p PatientSummary
		var n, completed, failed int64
		var last dbTime
		if err := rs.Scan(&p.PatientCode, &n, &completed, &failed, &last); err != nil {
			return nil, fmt.Errorf("store: list patients: %w", err)
		}
		p.Sessions, p.Completed, p.Failed, p.LastRecordedAt = int(n), int(completed), int(failed), last.ptr()
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list patients: %w", err)
	}
	return out, nil
}

// withExtra scans a session row followed by more columns.
type withExtra struct {
	r     row
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.r.Scan(append(dest, w.extra...)...) }

func (q *queries) PatientSessions(ctx context.Context, r PatientRange, fn func(SessionAnalysis) error) error {
	if r.PatientCode == "" {
		return fmt.Errorf("%w: patient code is required", ErrInvalidInput)
	}
	args := []any{r.PatientCode}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := []string{`s.patient_code = $1`, currentSession}
	if !r.RecordedFrom.IsZero() {
		where = append(where, `s.recorded_at >= `+arg(q.d.wall(r.RecordedFrom)))
	}
	if !r.RecordedBefore.IsZero() {
		where = append(where, `s.recorded_at < `+arg(q.d.wall(r.RecordedBefore)))
	}
	// The current analysis is the first of each session's results in
	// analysisOrder.
	rs, err := q.c.query(ctx, `SELECT `+sessionCols+`,
		a.session_id, a.processing_version, a.params, a.params_hash, a.analytics_summary, a.scores, a.created_at
		FROM sessions s LEFT JOIN (
			SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.session_id
				ORDER BY r.created_at DESC, r.processing_version DESC, r.params_hash DESC) AS rn
			FROM analysis_results r JOIN sessions p ON p.id = r.session_id WHERE p.patient_code = $1
		) a ON a.session_id = s.id AND a.rn = 1
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY s.recorded_at ASC NULLS LAST, s.created_at, s.id`, args...)
	if err != nil {
		return fmt.Errorf("store: list patient sessions: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var aid, version, hash *string
		var params, summary, scores []byte
		var created dbTime
		s, err := scanSession(withExtra{rs, []any{&aid, &version, &params, &hash, &summary, &scores, &created}})
		if err != nil {
			return fmt.Errorf("store: list patient sessions: %w", err)
		}
		sa := SessionAnalysis{Session: *s}
		if aid != nil {
			sa.Analysis = &AnalysisResult{SessionID: *aid, ProcessingVersion: deref(version), Params: json.RawMessage(params),
				ParamsHash: deref(hash), AnalyticsSummary: json.RawMessage(summary), CreatedAt: created.t}
			if len(scores) > 0 {
				sa.Analysis.Scores = json.RawMessage(scores)
			}
		}
		if err := fn(sa); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("store: list patient sessions: %w", err)
	}
	return nil
}
