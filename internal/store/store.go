// Package store is emgd's database: sessions (one per stored C3D object
// version) and their analysis results (aggregates only, never time series).
//
// Two backends implement Store with the same SQL: SQLite (modernc.org/sqlite,
// the embedded default) and PostgreSQL (pgx). Schemas are versioned goose
// migrations per dialect, embedded in the binary and applied by Open and
// Migrate. Raw SQL stays in this package: callers use the methods of Store
// and Tx. The job queue (internal/jobs) reaches the driver's handles through
// NativeOf and NativeTx, so that River enqueues in the same transaction as
// the session insert.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Errors returned by every backend; test with errors.Is.
var (
	// ErrNotFound: no session (or analysis result) with that id or code.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalidInput: a required field is missing or a value is malformed.
	ErrInvalidInput = errors.New("store: invalid input")
	// ErrInvalidStatus: a status other than pending, processing, completed,
	// failed or rejected. It wraps ErrInvalidInput.
	ErrInvalidStatus = fmt.Errorf("%w: invalid status", ErrInvalidInput)
	// ErrTimeSeries: a JSON value holds an array of more than
	// MaxJSONArrayNumbers numbers. Time series never go to the database.
	// It wraps ErrInvalidInput.
	ErrTimeSeries = fmt.Errorf("%w: JSON holds a time series", ErrInvalidInput)
	// ErrDuplicate: a unique value (such as an explicitly given session
	// code) is already taken.
	ErrDuplicate = errors.New("store: already exists")
)

// MaxJSONArrayNumbers is the longest array of numbers accepted anywhere in a
// stored JSON value (contraction lists and per-channel figures are far
// shorter; a signal is far longer).
const MaxJSONArrayNumbers = 256

// Status is a session's processing state.
type Status string

// The session states.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	// StatusRejected: phase 1 refused the object version (not a readable
	// C3D file); Error holds why. Final for that version: it has no job,
	// is never analysed, and is not counted among its patient's sessions.
	// Its code is <patient>R<nnn>, a sequence of its own (RejectObject).
	StatusRejected Status = "rejected"
)

// Statuses are the states in their order of life, for listings and
// messages.
var Statuses = []Status{StatusPending, StatusProcessing, StatusCompleted, StatusFailed, StatusRejected}

// Valid reports whether s is one of the five states.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusCompleted, StatusFailed, StatusRejected:
		return true
	}
	return false
}

// Dialect names a database backend.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Session is one version of one stored C3D object.
type Session struct {
	ID          string // UUID
	SessionCode string // <patient>S<nnn>
	PatientCode string
	Bucket      string
	ObjectKey   string
	ETag        string // the sender's etag, as given
	// StorageVersion is the storage's own identity of the object version
	// phase 1 read (storage.ObjectInfo.Version); phase 2 reads exactly that
	// version. "" for sessions made before it was recorded: read the current
	// object.
	StorageVersion string
	FileSizeBytes  *int64
	FileSHA256     string // "" until phase 2 has read the file
	Status         Status
	Error          string
	Metadata       json.RawMessage // JSON object
	// RecordedAt is the device's local wall-clock time, without a zone; it is
	// returned in time.UTC only as a carrier (format it with RecordedAtLayout).
	RecordedAt   *time.Time
	SupersededBy string          // id of the newer version of the object, or ""
	Timings      json.RawMessage // JSON object, e.g. {"phase1_ms":4.2}
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ProcessedAt  *time.Time
	// HasAnalysis reports whether at least one analysis result is stored.
	HasAnalysis bool
}

// RecordedAtLayout formats Session.RecordedAt as the API shows it.
const RecordedAtLayout = "2006-01-02T15:04:05"

// NewSession describes a session to create.
type NewSession struct {
	Bucket, ObjectKey, ETag string // required; one session per triple
	// StorageVersion is storage.ObjectInfo.Version of the object read (may
	// be empty).
	StorageVersion string
	// PatientCode defaults to PatientCodeFromKey(ObjectKey).
	PatientCode string
	// SessionCode is normally left empty and assigned as <patient>S<next>;
	// an explicit code must be free (else ErrDuplicate).
	SessionCode   string
	FileSizeBytes *int64
	Metadata      json.RawMessage // JSON object or empty
	RecordedAt    *time.Time      // wall clock; its zone is ignored
	// Timings is the initial timings JSON object (e.g. phase 1's), or empty.
	Timings json.RawMessage
	// CreatedAt, when set, is the session's creation time instead of now:
	// for sessions imported from elsewhere (the old backend), so that
	// retention sees their age.
	CreatedAt *time.Time
}

// StatusUpdate changes a session's state.
type StatusUpdate struct {
	Status Status // required
	// Error is stored for StatusFailed and cleared for the other states.
	Error string
	// Timings is a JSON object merged key by key into the stored timings.
	Timings json.RawMessage
	// FileSHA256 and FileSizeBytes are stored when set.
	FileSHA256    string
	FileSizeBytes *int64
}

// AnalysisResult is one analysis of a session: one row per
// (session, processing version, parameters hash); the newest is current.
type AnalysisResult struct {
	SessionID         string
	ProcessingVersion string
	Params            json.RawMessage // JSON object; hashed by ParamsHash
	ParamsHash        string          // computed when empty
	AnalyticsSummary  json.RawMessage // JSON object, aggregates only
	Scores            json.RawMessage // JSON object or empty
	CreatedAt         time.Time
}

// Scope restricts a listing to some patients (a therapist's): with
// Restricted set, only rows of the patients in Patients are listed, and
// none when it is empty. The zero Scope lists every patient.
type Scope struct {
	Patients   []string
	Restricted bool
}

// where returns the SQL condition of sc on the patient code column col,
// adding its values with arg; "" when sc is not restricted.
func (sc Scope) where(col string, arg func(any) string) string {
	if !sc.Restricted {
		return ""
	}
	if len(sc.Patients) == 0 {
		return "1 = 0"
	}
	ph := make([]string, len(sc.Patients))
	for i, p := range sc.Patients {
		ph[i] = arg(p)
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// ListOptions filters and pages ListSessions.
type ListOptions struct {
	// Scope, when restricted, keeps only its patients' sessions.
	Scope
	PatientCode string
	Status      Status // "" for any
	Bucket      string // "" for any
	// CreatedBefore, when set, keeps sessions created strictly before it
	// (for retention).
	CreatedBefore time.Time
	// Limit defaults to 50 and is capped at 500.
	Limit int
	// Cursor is SessionPage.NextCursor of the previous page, or "".
	Cursor string
}

// SessionPage is a page of sessions, newest first (by creation time, then id).
type SessionPage struct {
	Sessions   []Session
	NextCursor string // "" on the last page
}

// Queries are the operations available on a Store and inside a Tx.
type Queries interface {
	// CreateSession returns the session of {bucket, key, etag}, creating it
	// (status pending, a fresh session code) when there is none; created
	// tells which. A new etag for a key already stored makes a new session
	// and marks the key's older sessions superseded_by it. Safe to call from
	// many replicas at once: codes never collide.
	CreateSession(ctx context.Context, n NewSession) (s *Session, created bool, err error)
	// GetSession finds a session by id.
	GetSession(ctx context.Context, id string) (*Session, error)
	// GetSessionByCode finds a session by session code.
	GetSessionByCode(ctx context.Context, code string) (*Session, error)
	// FindSession finds a session by id or, when ref is not a UUID, by code.
	FindSession(ctx context.Context, ref string) (*Session, error)
	// GetSessionByObject finds the session of one object version.
	GetSessionByObject(ctx context.Context, bucket, key, etag string) (*Session, error)
	// ObjectSessions returns the sessions of every version of the given
	// keys of bucket, keyed by object key (keys without sessions absent),
	// oldest first, in one query per 200 keys.
	ObjectSessions(ctx context.Context, bucket string, keys []string) (map[string][]Session, error)
	// ListSessions lists sessions newest first with filters and cursor paging.
	ListSessions(ctx context.Context, opts ListOptions) (*SessionPage, error)
	// SetStatus moves a session to another state.
	SetStatus(ctx context.Context, id string, u StatusUpdate) (*Session, error)
	// DeleteSession removes a session and its analysis results (newer
	// versions' superseded_by links to it are cleared). The stored file is
	// the caller's to delete.
	DeleteSession(ctx context.Context, id string) error
	// SaveAnalysis stores an analysis result, replacing the one with the same
	// session, processing version and parameters hash; it becomes current.
	SaveAnalysis(ctx context.Context, r AnalysisResult) (*AnalysisResult, error)
	// CurrentAnalysis returns the newest analysis result of a session.
	CurrentAnalysis(ctx context.Context, sessionID string) (*AnalysisResult, error)
	// CurrentAnalyses returns the newest analysis result of each session
	// that has one, keyed by session id, in one query (for listings).
	CurrentAnalyses(ctx context.Context, sessionIDs []string) (map[string]*AnalysisResult, error)
	// ListAnalyses returns all analysis results of a session, newest first.
	ListAnalyses(ctx context.Context, sessionID string) ([]AnalysisResult, error)
	// ListUnfinished lists sessions still pending or processing, oldest
	// first, a page at a time.
	ListUnfinished(ctx context.Context, o UnfinishedOptions) ([]Session, error)
	// FailUnfinished marks a session failed with msg only while it is still
	// pending or processing and unchanged since read (UpdatedAt equal to
	// updatedAt), and reports whether it did; safe to race.
	FailUnfinished(ctx context.Context, id string, updatedAt time.Time, msg string) (bool, error)
	// RejectObject records an object version phase 1 refused (rejected.go).
	RejectObject(ctx context.Context, n NewSession, reason string) (s *Session, created bool, err error)
	// ScoringConfigs: the scoring weights (scoring.go).
	ScoringConfigs
	// Review: patients and their sessions with analyses (review.go).
	Review
	// Settings: versioned patient settings (settings.go).
	Settings
}

// Tx is a database transaction with the store's operations (NativeTx
// returns the driver's transaction under it, for internal/jobs).
type Tx interface {
	Queries
	// CreateSessions is CreateSession of each of ns, in order, in this
	// transaction (on PostgreSQL in one round trip for all of them, when
	// every code is to be allocated). An error leaves the transaction to
	// roll back.
	CreateSessions(ctx context.Context, ns []NewSession) ([]Created, error)
}

// Created is one session of CreateSessions: Created tells whether the call
// created it (false: it existed already).
type Created struct {
	Session *Session
	Created bool
}

// Store is a database holding sessions and analysis results.
type Store interface {
	Queries
	// InTx runs fn in a transaction, committed when fn returns nil and rolled
	// back otherwise. Use only tx inside fn (on SQLite the store may have a
	// single connection).
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Migrate applies pending schema migrations.
	Migrate(ctx context.Context) error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Dialect() Dialect
	// KeyStats counts the sessions whose object key contains substr and
	// their analysis results (benchmarks check their runs with it).
	KeyStats(ctx context.Context, substr string) (*KeyStats, error)
	// HasTables reports whether emgd's tables exist in the database (it
	// was migrated at least once), for a store opened with NoMigrate.
	HasTables(ctx context.Context) (bool, error)
	Close() error
}

// PatientCodePattern is a patient code, unanchored: P and its number
// (service.md's P\d+), at most 12 digits so that a code stays a short
// identifier in paths, logs and the audit trail. Every package checks
// patient codes with it (IsPatientCode) or builds on it.
const PatientCodePattern = `P\d{1,12}`

// patientRe is built on first use (nothing at init).
var patientRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + PatientCodePattern + `$`) })

// IsPatientCode reports whether s is a patient code (PatientCodePattern),
// such as P001.
func IsPatientCode(s string) bool { return patientRe().MatchString(s) }

// PatientCodeFromKey returns the first segment of key that is a patient
// code, or "P000".
func PatientCodeFromKey(key string) string {
	for seg := range strings.SplitSeq(key, "/") {
		if IsPatientCode(seg) {
			return seg
		}
	}
	return "P000"
}

// FormatSessionCode returns <patient>S<n>, n zero-padded to 3 digits.
func FormatSessionCode(patient string, n int) string {
	return fmt.Sprintf("%sS%03d", patient, n)
}

// ParamsHash is the hex SHA-256 of the canonical form of a JSON value (object
// keys sorted, no insignificant space): equal parameters hash equally
// whatever their key order. Empty input hashes as {}.
func ParamsHash(params json.RawMessage) (string, error) {
	canon, err := canonicalJSON(params)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

func canonicalJSON(raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return []byte("{}"), nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: params are not JSON: %v", ErrInvalidInput, err)
	}
	return json.Marshal(v)
}

// checkJSON validates a JSON value for storage: well-formed, an object (or
// empty when allowed) and free of time series. It returns the value to
// store, or nil for empty.
func checkJSON(field string, raw json.RawMessage, allowEmpty bool) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if allowEmpty {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %s is required", ErrInvalidInput, field)
	}
	// Checked on the bytes, without decoding (every webhook's metadata
	// passes here); only a refused value is decoded, to name its array.
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: %s is not valid JSON", ErrInvalidInput, field)
	}
	if bytes.TrimLeft(raw, " \t\r\n")[0] != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON object", ErrInvalidInput, field)
	}
	if longestNumberArray(raw) > MaxJSONArrayNumbers {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %s is not valid JSON", ErrInvalidInput, field)
		}
		path, n := LongestNumberArray(v, "$")
		return nil, fmt.Errorf("%w: %s%s has %d numbers (at most %d)", ErrTimeSeries, field, strings.TrimPrefix(path, "$"), n, MaxJSONArrayNumbers)
	}
	return string(raw), nil
}

// longestNumberArray is the length of the longest array made only of
// numbers in raw, valid JSON, as LongestNumberArray finds it in the
// decoded value.
func longestNumberArray(raw []byte) int {
	type frame struct {
		array, numbers bool
		n              int
	}
	stack := make([]frame, 0, 16)
	best := 0
	element := false // the next value starts an element of the top array
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		if element && c != ']' {
			top := &stack[len(stack)-1]
			if c == '-' || (c >= '0' && c <= '9') {
				top.n++
			} else {
				top.numbers = false
			}
		}
		element = false
		switch c {
		case '"':
			for i++; i < len(raw) && raw[i] != '"'; i++ {
				if raw[i] == '\\' {
					i++
				}
			}
		case '[':
			stack = append(stack, frame{array: true, numbers: true})
			element = true
		case '{':
			stack = append(stack, frame{})
		case ']', '}':
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.array && top.numbers && top.n > best {
				best = top.n
			}
		case ',':
			element = stack[len(stack)-1].array
		}
	}
	return best
}

// LongestNumberArray walks a decoded JSON value and returns the path and
// length of its longest array made only of numbers.
func LongestNumberArray(v any, path string) (string, int) {
	bestPath, best := "", 0
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if p, n := LongestNumberArray(e, path+"."+k); n > best {
				bestPath, best = p, n
			}
		}
	case []any:
		numbers := len(x) > 0
		for i, e := range x {
			switch e.(type) {
			case json.Number, float64:
			default:
				numbers = false
				if p, n := LongestNumberArray(e, fmt.Sprintf("%s[%d]", path, i)); n > best {
					bestPath, best = p, n
				}
			}
		}
		if numbers && len(x) > best {
			bestPath, best = path, len(x)
		}
	}
	return bestPath, best
}

// mergeTimings merges the keys of update into the JSON object current.
func mergeTimings(current, update json.RawMessage) (string, error) {
	m := map[string]any{}
	if len(current) > 0 {
		if err := json.Unmarshal(current, &m); err != nil {
			m = map[string]any{}
		}
	}
	var u map[string]any
	if err := json.Unmarshal(update, &u); err != nil {
		return "", fmt.Errorf("%w: timings must be a JSON object", ErrInvalidInput)
	}
	for k, v := range u {
		m[k] = v
	}
	out, err := json.Marshal(m)
	return string(out), err
}
