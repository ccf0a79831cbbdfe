package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// row, rows and conn abstract over database/sql and pgx so that both
// backends run the same SQL ($n placeholders work on both).
type row interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type conn interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

type errKind int

const (
	errOther errKind = iota
	errUniqueCode
	errUniqueObject
	errUnique
	errCheck
	errForeignKey
	errBadValue
)

// dialect holds what differs between the backends.
type dialect interface {
	name() Dialect
	// ts converts a timestamp with zone for a parameter.
	ts(t time.Time) any
	// wall converts a wall-clock time without zone for a parameter.
	wall(t time.Time) any
	// classify tells what kind of constraint an error violated.
	classify(err error) errKind
	// forUpdate is the row-locking suffix of a SELECT ("" where writers are
	// serialised anyway).
	forUpdate() string
}

// queries implements Queries on one connection or transaction. Methods that
// write several statements must run inside a transaction.
type queries struct {
	c conn
	d dialect
}

const sessionCols = `s.id, s.session_code, s.patient_code, s.bucket, s.object_key, s.etag,
	s.file_size_bytes, s.file_sha256, s.status, s.error, s.metadata, s.recorded_at,
	s.superseded_by, s.timings, s.created_at, s.updated_at, s.processed_at, s.storage_version,
	EXISTS (SELECT 1 FROM analysis_results a WHERE a.session_id = s.id)`

// now is the time stamp of a write: UTC, microseconds (PostgreSQL's
// precision), so that both backends store and compare the same values.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// dbTime scans a timestamp stored as time.Time (PostgreSQL) or as text
// (SQLite).
type dbTime struct {
	t     time.Time
	valid bool
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.valid = false
		return nil
	case time.Time:
		d.t, d.valid = x.UTC(), true
		return nil
	case []byte:
		return d.Scan(string(x))
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				d.t, d.valid = t.UTC(), true
				return nil
			}
		}
		return fmt.Errorf("store: unreadable time %q", x)
	}
	return fmt.Errorf("store: cannot scan %T as time", v)
}

func (d dbTime) ptr() *time.Time {
	if !d.valid {
		return nil
	}
	t := d.t
	return &t
}

func scanSession(r row) (*Session, error) {
	var s Session
	var sha, errText, superseded *string
	var status string
	var metadata, timings []byte
	var recorded, created, updated, processed dbTime
	err := r.Scan(&s.ID, &s.SessionCode, &s.PatientCode, &s.Bucket, &s.ObjectKey, &s.ETag,
		&s.FileSizeBytes, &sha, &status, &errText, &metadata, &recorded,
		&superseded, &timings, &created, &updated, &processed, &s.StorageVersion, &s.HasAnalysis)
	if err != nil {
		return nil, err
	}
	s.Status = Status(status)
	s.FileSHA256 = deref(sha)
	s.Error = deref(errText)
	s.SupersededBy = deref(superseded)
	s.Metadata = json.RawMessage(metadata)
	s.Timings = json.RawMessage(timings)
	s.RecordedAt = recorded.ptr()
	s.CreatedAt, s.UpdatedAt = created.t, updated.t
	s.ProcessedAt = processed.ptr()
	return &s, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// validID reports whether id is a UUID; anything else cannot be a session.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

func (q *queries) getOne(ctx context.Context, where string, args ...any) (*Session, error) {
	s, err := scanSession(q.c.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE `+where, args...))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read session: %w", err)
	}
	return s, nil
}

func (q *queries) GetSession(ctx context.Context, id string) (*Session, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	s, err := q.getOne(ctx, `s.id = $1`, strings.ToLower(id))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	return s, err
}

func (q *queries) GetSessionByCode(ctx context.Context, code string) (*Session, error) {
	s, err := q.getOne(ctx, `s.session_code = $1`, code)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: session code %q", ErrNotFound, code)
	}
	return s, err
}

func (q *queries) FindSession(ctx context.Context, ref string) (*Session, error) {
	if validID(ref) {
		return q.GetSession(ctx, ref)
	}
	return q.GetSessionByCode(ctx, ref)
}

func (q *queries) GetSessionByObject(ctx context.Context, bucket, key, etag string) (*Session, error) {
	s, err := q.getOne(ctx, `s.bucket = $1 AND s.object_key = $2 AND s.etag = $3`, bucket, key, etag)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: session of %s/%s etag %s", ErrNotFound, bucket, key, etag)
	}
	return s, err
}

var (
	codeRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(P\d+)S(\d+)$`) })
	sha256Re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{64}$`) })
)

// maxCodeAttempts bounds the retries when concurrent writers take the same
// session code.
const maxCodeAttempts = 200

// newRow is a NewSession checked and converted for its INSERT.
type newRow struct {
	n                       NewSession
	patient                 string
	meta, recorded, timings any
}

func (q *queries) checkNew(n NewSession) (*newRow, error) {
	if n.Bucket == "" || n.ObjectKey == "" || n.ETag == "" {
		return nil, fmt.Errorf("%w: bucket, object key and etag are required", ErrInvalidInput)
	}
	patient := n.PatientCode
	if patient == "" {
		patient = PatientCodeFromKey(n.ObjectKey)
	}
	if !patientRe().MatchString(patient) {
		return nil, fmt.Errorf("%w: patient code %q is not P<digits>", ErrInvalidInput, patient)
	}
	if n.SessionCode != "" {
		m := codeRe().FindStringSubmatch(n.SessionCode)
		if m == nil || m[1] != patient {
			return nil, fmt.Errorf("%w: session code %q is not %sS<digits>", ErrInvalidInput, n.SessionCode, patient)
		}
	}
	if n.FileSizeBytes != nil && *n.FileSizeBytes < 0 {
		return nil, fmt.Errorf("%w: negative file size", ErrInvalidInput)
	}
	meta, err := checkJSON("metadata", n.Metadata, true)
	if err != nil {
		return nil, err
	}
	if meta == nil {
		meta = "{}"
	}
	timings, err := checkJSON("timings", n.Timings, true)
	if err != nil {
		return nil, err
	}
	if timings == nil {
		timings = "{}"
	}
	var recorded any
	if n.RecordedAt != nil {
		recorded = q.d.wall(*n.RecordedAt)
	}
	return &newRow{n: n, patient: patient, meta: meta, recorded: recorded, timings: timings}, nil
}

// CreateSessions is CreateSession of each of ns in turn, in this
// transaction. On PostgreSQL, when every code is to be allocated, the
// patients' locks and all the inserts go to the server together, in one
// round trip.
func (q *queries) CreateSessions(ctx context.Context, ns []NewSession) ([]Created, error) {
	rows := make([]*newRow, len(ns))
	pipelined := q.d.name() == Postgres
	for i, n := range ns {
		r, err := q.checkNew(n)
		if err != nil {
			return nil, err
		}
		rows[i] = r
		pipelined = pipelined && n.SessionCode == ""
	}
	if b, ok := q.c.(batchConn); ok && pipelined && len(rows) > 1 {
		return q.createPipelined(ctx, b, rows)
	}
	out := make([]Created, len(ns))
	for i, r := range rows {
		s, created, err := q.createSession(ctx, r)
		if err != nil {
			return nil, err
		}
		out[i] = Created{Session: s, Created: created}
	}
	return out, nil
}

func (q *queries) CreateSession(ctx context.Context, n NewSession) (*Session, bool, error) {
	r, err := q.checkNew(n)
	if err != nil {
		return nil, false, err
	}
	return q.createSession(ctx, r)
}

// createSession is CreateSession of a checked row.
func (q *queries) createSession(ctx context.Context, r *newRow) (*Session, bool, error) {
	n := r.n
	patient, meta, recorded, timings := r.patient, r.meta, r.recorded, r.timings

	if q.d.name() == Postgres && n.SessionCode == "" {
		return q.createSessionLocked(ctx, n, patient, meta, recorded, timings)
	}
	if q.d.name() == SQLite && n.SessionCode == "" {
		if s, created, ok, err := q.createSQLite(ctx, r); ok || err != nil {
			return s, created, err
		}
	}
	if s, err := q.GetSessionByObject(ctx, n.Bucket, n.ObjectKey, n.ETag); err == nil {
		return s, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}

	id := uuid.Must(uuid.NewV7()).String()
	for attempt := 0; attempt < maxCodeAttempts; attempt++ {
		code := n.SessionCode
		if code == "" {
			var last int64
			err := q.c.queryRow(ctx, `SELECT COALESCE(MAX(CAST(SUBSTR(session_code, $2) AS INTEGER)), 0)
				FROM sessions WHERE patient_code = $1 AND status <> 'rejected'`, patient, len(patient)+2).Scan(&last)
			if err != nil {
				return nil, false, fmt.Errorf("store: next session code: %w", err)
			}
			code = FormatSessionCode(patient, int(last)+1)
		}
		ts := q.d.ts(now())
		createdAt := ts
		if n.CreatedAt != nil {
			createdAt = q.d.ts(n.CreatedAt.UTC().Truncate(time.Microsecond))
		}
		if _, err := q.c.exec(ctx, `SAVEPOINT emgd_create_session`); err != nil {
			return nil, false, fmt.Errorf("store: create session: %w", err)
		}
		affected, err := q.c.exec(ctx, `INSERT INTO sessions
			(id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, status,
			 metadata, recorded_at, timings, created_at, updated_at, storage_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $13, $11, $12)
			ON CONFLICT (bucket, object_key, etag) DO NOTHING`,
			id, code, patient, n.Bucket, n.ObjectKey, n.ETag, n.FileSizeBytes, meta, recorded, timings, ts, n.StorageVersion, createdAt)
		if err != nil {
			kind := q.d.classify(err)
			if _, rerr := q.c.exec(ctx, `ROLLBACK TO SAVEPOINT emgd_create_session`); rerr != nil {
				return nil, false, fmt.Errorf("store: create session: %w (after %v)", rerr, err)
			}
			switch {
			case kind == errUniqueCode && n.SessionCode == "":
				// Another writer took this code first: count again.
				time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
				continue
			case kind == errUniqueCode:
				return nil, false, fmt.Errorf("%w: session code %s", ErrDuplicate, code)
			}
			return nil, false, fmt.Errorf("store: create session: %w", err)
		}
		if _, err := q.c.exec(ctx, `RELEASE SAVEPOINT emgd_create_session`); err != nil {
			return nil, false, fmt.Errorf("store: create session: %w", err)
		}
		if affected == 0 { // a concurrent writer stored the same object version
			s, err := q.GetSessionByObject(ctx, n.Bucket, n.ObjectKey, n.ETag)
			return s, false, err
		}
		if _, err := q.c.exec(ctx, `UPDATE sessions SET superseded_by = $1, updated_at = $2
			WHERE bucket = $3 AND object_key = $4 AND id <> $1 AND superseded_by IS NULL`,
			id, ts, n.Bucket, n.ObjectKey); err != nil {
			return nil, false, fmt.Errorf("store: mark older versions superseded: %w", err)
		}
		s, err := q.GetSession(ctx, id)
		return s, err == nil, err
	}
	return nil, false, fmt.Errorf("store: no free session code for %s after %d attempts", patient, maxCodeAttempts)
}

// sessionCodeLockClass is the first key of the PostgreSQL advisory lock
// that serialises the allocation of one patient's session codes (the second
// is hashtext of the patient code); "EMGD" in ASCII.
const sessionCodeLockClass = 0x454D4744

const lockCodesSQL = `SELECT pg_advisory_xact_lock($1, hashtext($2))`

// createSessionSQL creates a session with the next code of its patient
// ($2), marks the older versions of its object superseded and returns the
// new row, in one statement; nothing when the object version (or, from a
// writer that does not take the patient's lock, the code) exists already.
// It must run after the patient's lock is taken, in a later statement: a
// statement reads the rows committed before it starts.
const createSessionSQL = `WITH next AS (
	SELECT COALESCE(MAX(CAST(SUBSTR(session_code, $13) AS INTEGER)), 0) + 1 AS n
	FROM sessions WHERE patient_code = $2 AND status <> 'rejected'
), ins AS (
	INSERT INTO sessions
	(id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, status,
	 metadata, recorded_at, timings, created_at, updated_at, storage_version)
	VALUES ($1, (SELECT $2 || 'S' || lpad(n::text, greatest(3, length(n::text)), '0') FROM next),
		$2, $3, $4, $5, $6, 'pending', $7, $8, $9, $12, $10, $11)
	ON CONFLICT DO NOTHING
	RETURNING id, session_code, patient_code, bucket, object_key, etag, file_size_bytes, file_sha256,
		status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
		processed_at, storage_version
), superseded AS (
	UPDATE sessions SET superseded_by = $1, updated_at = $10
	WHERE bucket = $3 AND object_key = $4 AND id <> $1 AND superseded_by IS NULL
		AND EXISTS (SELECT 1 FROM ins)
)
SELECT ins.*, false FROM ins`

// createArgs are the arguments of createSessionSQL.
func (q *queries) createArgs(id string, r *newRow) []any {
	ts := q.d.ts(now())
	createdAt := ts
	if r.n.CreatedAt != nil {
		createdAt = q.d.ts(r.n.CreatedAt.UTC().Truncate(time.Microsecond))
	}
	n := r.n
	return []any{id, r.patient, n.Bucket, n.ObjectKey, n.ETag, n.FileSizeBytes, r.meta, r.recorded, r.timings, ts, n.StorageVersion, createdAt, len(r.patient) + 2}
}

// createSessionLocked is CreateSession with an allocated code on
// PostgreSQL, in two round trips: it takes the patient's advisory lock
// (held to the end of the transaction, so concurrent webhooks of one patient
// take their codes one after the other instead of colliding on the unique
// code and retrying), then runs createSessionSQL.
func (q *queries) createSessionLocked(ctx context.Context, n NewSession, patient string, meta, recorded, timings any) (*Session, bool, error) {
	if _, err := q.c.exec(ctx, lockCodesSQL, sessionCodeLockClass, patient); err != nil {
		return nil, false, fmt.Errorf("store: lock session codes of %s: %w", patient, err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	r := &newRow{n: n, patient: patient, meta: meta, recorded: recorded, timings: timings}
	for attempt := 0; attempt < maxCodeAttempts; attempt++ {
		s, err := scanSession(q.c.queryRow(ctx, createSessionSQL, q.createArgs(id, r)...))
		if err == nil {
			return s, true, nil
		}
		if !isNoRows(err) {
			return nil, false, fmt.Errorf("store: create session: %w", err)
		}
		// Nothing inserted: the object version has its session already, or
		// a writer that takes no lock (an older emgd) took the code.
		if s, err := q.GetSessionByObject(ctx, n.Bucket, n.ObjectKey, n.ETag); err == nil {
			return s, false, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		time.Sleep(time.Duration(rand.IntN(1+attempt)) * time.Millisecond)
	}
	return nil, false, fmt.Errorf("store: no free session code for %s after %d attempts", patient, maxCodeAttempts)
}

func (q *queries) SetStatus(ctx context.Context, id string, u StatusUpdate) (*Session, error) {
	if !u.Status.Valid() {
		return nil, fmt.Errorf("%w %q", ErrInvalidStatus, u.Status)
	}
	if !validID(id) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	id = strings.ToLower(id)
	if u.FileSHA256 != "" && !sha256Re().MatchString(u.FileSHA256) {
		return nil, fmt.Errorf("%w: file SHA-256 must be 64 lower-case hex digits", ErrInvalidInput)
	}
	if u.FileSizeBytes != nil && *u.FileSizeBytes < 0 {
		return nil, fmt.Errorf("%w: negative file size", ErrInvalidInput)
	}
	var current []byte
	err := q.c.queryRow(ctx, `SELECT timings FROM sessions WHERE id = $1`+q.d.forUpdate(), id).Scan(&current)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: set status: %w", err)
	}
	timings := string(current)
	if len(u.Timings) > 0 {
		if _, err := checkJSON("timings", u.Timings, false); err != nil {
			return nil, err
		}
		if timings, err = mergeTimings(current, u.Timings); err != nil {
			return nil, err
		}
	}
	var errText, processed, sha any
	if u.Status == StatusFailed || u.Status == StatusRejected {
		msg := u.Error
		if msg == "" {
			msg = "processing failed"
		}
		errText = msg
	}
	t := now()
	if u.Status == StatusCompleted || u.Status == StatusFailed || u.Status == StatusRejected {
		processed = q.d.ts(t)
	}
	if u.FileSHA256 != "" {
		sha = u.FileSHA256
	}
	_, err = q.c.exec(ctx, `UPDATE sessions SET status = $2, error = $3, timings = $4, updated_at = $5,
		processed_at = COALESCE($6, processed_at), file_sha256 = COALESCE($7, file_sha256),
		file_size_bytes = COALESCE($8, file_size_bytes) WHERE id = $1`,
		id, string(u.Status), errText, timings, q.d.ts(t), processed, sha, u.FileSizeBytes)
	if err != nil {
		if q.d.classify(err) == errCheck {
			return nil, fmt.Errorf("%w %q", ErrInvalidStatus, u.Status)
		}
		return nil, fmt.Errorf("store: set status: %w", err)
	}
	return q.GetSession(ctx, id)
}

func (q *queries) DeleteSession(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: session %q", ErrNotFound, id)
	}
	n, err := q.c.exec(ctx, `DELETE FROM sessions WHERE id = $1`, strings.ToLower(id))
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: session %s", ErrNotFound, id)
	}
	return nil
}

const analysisCols = `session_id, processing_version, params, params_hash, analytics_summary, scores, created_at`

func scanAnalysis(r row) (*AnalysisResult, error) {
	var a AnalysisResult
	var params, summary, scores []byte
	var created dbTime
	if err := r.Scan(&a.SessionID, &a.ProcessingVersion, &params, &a.ParamsHash, &summary, &scores, &created); err != nil {
		return nil, err
	}
	a.Params, a.AnalyticsSummary, a.CreatedAt = params, summary, created.t
	if len(scores) > 0 {
		a.Scores = scores
	}
	return &a, nil
}

func (q *queries) SaveAnalysis(ctx context.Context, r AnalysisResult) (*AnalysisResult, error) {
	if !validID(r.SessionID) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, r.SessionID)
	}
	if r.ProcessingVersion == "" {
		return nil, fmt.Errorf("%w: processing version is required", ErrInvalidInput)
	}
	summary, err := checkJSON("analytics_summary", r.AnalyticsSummary, false)
	if err != nil {
		return nil, err
	}
	params, err := checkJSON("params", r.Params, true)
	if err != nil {
		return nil, err
	}
	if params == nil {
		params = "{}"
	}
	scores, err := checkJSON("scores", r.Scores, true)
	if err != nil {
		return nil, err
	}
	hash := r.ParamsHash
	if hash == "" {
		if hash, err = ParamsHash(json.RawMessage(params.(string))); err != nil {
			return nil, err
		}
	}
	sid := strings.ToLower(r.SessionID)
	_, err = q.c.exec(ctx, `INSERT INTO analysis_results (`+analysisCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (session_id, processing_version, params_hash) DO UPDATE SET
			params = excluded.params, analytics_summary = excluded.analytics_summary,
			scores = excluded.scores, created_at = excluded.created_at`,
		sid, r.ProcessingVersion, params, hash, summary, scores, q.d.ts(now()))
	if err != nil {
		if q.d.classify(err) == errForeignKey {
			return nil, fmt.Errorf("%w: session %s", ErrNotFound, r.SessionID)
		}
		return nil, fmt.Errorf("store: save analysis: %w", err)
	}
	a, err := scanAnalysis(q.c.queryRow(ctx, `SELECT `+analysisCols+` FROM analysis_results
		WHERE session_id = $1 AND processing_version = $2 AND params_hash = $3`, sid, r.ProcessingVersion, hash))
	if err != nil {
		return nil, fmt.Errorf("store: read analysis: %w", err)
	}
	return a, nil
}

const analysisOrder = ` ORDER BY created_at DESC, processing_version DESC, params_hash DESC`

func (q *queries) CurrentAnalysis(ctx context.Context, sessionID string) (*AnalysisResult, error) {
	if !validID(sessionID) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, sessionID)
	}
	a, err := scanAnalysis(q.c.queryRow(ctx, `SELECT `+analysisCols+` FROM analysis_results
		WHERE session_id = $1`+analysisOrder+` LIMIT 1`, strings.ToLower(sessionID)))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no analysis of session %s", ErrNotFound, sessionID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read analysis: %w", err)
	}
	return a, nil
}

func (q *queries) CurrentAnalyses(ctx context.Context, sessionIDs []string) (map[string]*AnalysisResult, error) {
	out := map[string]*AnalysisResult{}
	var args []any
	var marks []string
	for _, id := range sessionIDs {
		if validID(id) {
			args = append(args, strings.ToLower(id))
			marks = append(marks, "$"+strconv.Itoa(len(args)))
		}
	}
	if len(args) == 0 {
		return out, nil
	}
	// Newest first within each session: the first row seen is current.
	rs, err := q.c.query(ctx, `SELECT `+analysisCols+` FROM analysis_results
		WHERE session_id IN (`+strings.Join(marks, ",")+`) ORDER BY session_id,`+strings.TrimPrefix(analysisOrder, " ORDER BY"), args...)
	if err != nil {
		return nil, fmt.Errorf("store: read analyses: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		a, err := scanAnalysis(rs)
		if err != nil {
			return nil, fmt.Errorf("store: read analyses: %w", err)
		}
		if _, seen := out[a.SessionID]; !seen {
			out[a.SessionID] = a
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: read analyses: %w", err)
	}
	return out, nil
}

func (q *queries) ListAnalyses(ctx context.Context, sessionID string) ([]AnalysisResult, error) {
	if !validID(sessionID) {
		return nil, fmt.Errorf("%w: session %q", ErrNotFound, sessionID)
	}
	rs, err := q.c.query(ctx, `SELECT `+analysisCols+` FROM analysis_results
		WHERE session_id = $1`+analysisOrder, strings.ToLower(sessionID))
	if err != nil {
		return nil, fmt.Errorf("store: list analyses: %w", err)
	}
	defer rs.Close()
	out := []AnalysisResult{}
	for rs.Next() {
		a, err := scanAnalysis(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list analyses: %w", err)
		}
		out = append(out, *a)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list analyses: %w", err)
	}
	return out, nil
}

// cursor is the position after the last session of a page.
type cursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

func encodeCursor(s Session) string {
	b, _ := json.Marshal(cursor{CreatedAt: s.CreatedAt, ID: s.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(v string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || !validID(c.ID) || c.CreatedAt.IsZero() {
		return cursor{}, fmt.Errorf("%w: unreadable cursor", ErrInvalidInput)
	}
	return c, nil
}

// Page sizes of ListSessions.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

func (q *queries) ListSessions(ctx context.Context, o ListOptions) (*SessionPage, error) {
	limit := o.Limit
	switch {
	case limit < 0:
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidInput)
	case limit == 0:
		limit = DefaultListLimit
	case limit > MaxListLimit:
		limit = MaxListLimit
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if o.PatientCode != "" {
		where = append(where, "s.patient_code = "+arg(o.PatientCode))
	}
	if c := o.Scope.where("s.patient_code", arg); c != "" {
		where = append(where, c)
	}
	if o.Status != "" {
		if !o.Status.Valid() {
			return nil, fmt.Errorf("%w %q", ErrInvalidStatus, o.Status)
		}
		where = append(where, "s.status = "+arg(string(o.Status)))
	}
	if o.Bucket != "" {
		where = append(where, "s.bucket = "+arg(o.Bucket))
	}
	if !o.CreatedBefore.IsZero() {
		where = append(where, "s.created_at < "+arg(q.d.ts(o.CreatedBefore)))
	}
	if o.Cursor != "" {
		c, err := decodeCursor(o.Cursor)
		if err != nil {
			return nil, err
		}
		t, id := arg(q.d.ts(c.CreatedAt)), arg(c.ID)
		where = append(where, fmt.Sprintf("(s.created_at < %s OR (s.created_at = %s AND s.id < %s))", t, t, id))
	}
	sqlText := `SELECT ` + sessionCols + ` FROM sessions s`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlText += ` ORDER BY s.created_at DESC, s.id DESC LIMIT ` + arg(limit+1)
	rs, err := q.c.query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	defer rs.Close()
	page := &SessionPage{Sessions: []Session{}}
	for rs.Next() {
		s, err := scanSession(rs)
		if err != nil {
			return nil, fmt.Errorf("store: list sessions: %w", err)
		}
		page.Sessions = append(page.Sessions, *s)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", err)
	}
	if len(page.Sessions) > limit {
		page.Sessions = page.Sessions[:limit]
		page.NextCursor = encodeCursor(page.Sessions[limit-1])
	}
	return page, nil
}
