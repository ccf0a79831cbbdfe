// Package legacy moves the analytics of the old backend's PostgreSQL
// database into emgd's schema and drops the old backend's stored time
// series.
//
// The old backend (ggustin93/emg-c3d-analyzer) kept one c3d_metadata row per
// uploaded file and analysis_results rows holding the full analytics
// (analytics_data, contractions_data, MVC values, scores) and, optionally,
// the processed signals in the emg_signals JSONB column: megabytes per
// session. Its own migration 022 added an analytics_summary column and
// dropped emg_signals; this package does the same for emgd.
//
// emgd's tables are named sessions and analysis_results; the old backend
// has an analysis_results table too. They live side by side in different
// PostgreSQL schemas: emgd's in a schema of its own (by default "emgd" in
// the same database, addressed with search_path), the old tables stay
// where they are (normally "public"). Each c3d_metadata row with at least one
// analysis becomes one emgd session (bucket, key, etag "sha256:<file_hash>"),
// each of its analysis rows one emgd analysis result whose analytics_summary
// holds the old aggregates. Rows without an analysis are left for
// emgd reconcile, which analyses their files afresh.
package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"emgd/internal/store"
)

// Source is the old backend's PostgreSQL database.
type Source struct{ pool *pgxpool.Pool }

// Connect opens the old backend's database at url (postgres://...).
func Connect(ctx context.Context, url string) (*Source, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("legacy: %w", err)
	}
	return &Source{pool: pool}, nil
}

// Close closes the connections.
func (s *Source) Close() { s.pool.Close() }

var schemaNameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]*$`) })

// CreateSchema creates the schema name (a plain lower-case identifier) in
// the old backend's database when it does not exist, for emgd's tables to go
// beside the old ones.
func (s *Source) CreateSchema(ctx context.Context, name string) error {
	if !schemaNameRe().MatchString(name) {
		return fmt.Errorf("legacy: invalid schema name %q", name)
	}
	if _, err := s.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+name); err != nil {
		return fmt.Errorf("legacy: create schema %s: %w", name, err)
	}
	return nil
}

// Options configures Migrate.
type Options struct {
	// Apply makes the changes; without it Migrate only reports.
	Apply bool
	// Batch is the number of rows read or changed per statement (default 100).
	Batch int
	// DefaultBucket is the bucket of rows whose bucket_name is empty
	// (default "c3d-examples").
	DefaultBucket string
	// Vacuum rewrites the old analysis_results table after dropping
	// emg_signals (VACUUM FULL), so that the space goes back to the system.
	Vacuum bool
}

// Report tells what Migrate found and did.
type Report struct {
	Applied bool `json:"applied"`
	// Legacy rows found.
	Files    int `json:"c3d_metadata_rows"`
	Analyses int `json:"analysis_rows"`
	// Files without any analysis, left for emgd reconcile.
	WithoutAnalysis int `json:"files_without_analysis"`
	// Sessions created (or that would be); already migrated ones counted apart.
	SessionsMigrated int `json:"sessions_migrated"`
	AnalysesMigrated int `json:"analyses_migrated"`
	AlreadyMigrated  int `json:"sessions_already_migrated"`
	// Files whose object emgd already has sessions of (from its own
	// webhooks): left alone, as a migrated session would supersede them.
	SkippedNewer      int `json:"files_skipped_emgd_has_newer"`
	LongArraysDropped int `json:"long_number_arrays_dropped"`
	// emg_signals: rows holding signals, their stored size, and whether the
	// column is (now) gone.
	SignalRows       int   `json:"emg_signals_rows"`
	SignalBytes      int64 `json:"emg_signals_bytes"`
	SignalsDropped   bool  `json:"emg_signals_dropped"`
	TableBytesBefore int64 `json:"analysis_results_bytes_before"`
	TableBytesAfter  int64 `json:"analysis_results_bytes_after"`
	// BytesReclaimed is the stored size of the dropped signals (in a dry run:
	// what would be reclaimed).
	BytesReclaimed int64    `json:"bytes_reclaimed"`
	Errors         []string `json:"errors"`
}

// Migrate reads the old backend's tables in legacy (in the schema of its
// search path, normally public) and, with o.Apply, writes sessions and
// analysis results to target (emgd's store, in another schema or database),
// then removes emg_signals in batches and drops the column. target may be
// nil in a dry run when emgd's schema does not exist yet. Safe to re-run:
// sessions are keyed by object and file hash, analyses by version and
// parameters.
func Migrate(ctx context.Context, src *Source, target store.Store, o Options) (*Report, error) {
	legacy := src.pool
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.DefaultBucket == "" {
		o.DefaultBucket = "c3d-examples"
	}
	if o.Apply && target == nil {
		return nil, errors.New("legacy: no target store")
	}
	rep := &Report{Applied: o.Apply, Errors: []string{}}
	cols, err := columns(ctx, legacy, "analysis_results")
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, errors.New("legacy: the database has no analysis_results table of the old backend")
	}
	if !cols["c3d_metadata_id"] {
		return nil, errors.New("legacy: analysis_results has no c3d_metadata_id column: is this emgd's own schema? Point --database-url at the old backend's schema")
	}
	if err := legacy.QueryRow(ctx, `SELECT count(*) FROM c3d_metadata`).Scan(&rep.Files); err != nil {
		return nil, fmt.Errorf("legacy: c3d_metadata: %w", err)
	}
	if err := legacy.QueryRow(ctx, `SELECT count(*) FROM analysis_results`).Scan(&rep.Analyses); err != nil {
		return nil, fmt.Errorf("legacy: analysis_results: %w", err)
	}
	if err := legacy.QueryRow(ctx, `SELECT count(*) FROM c3d_metadata m WHERE NOT EXISTS (SELECT 1 FROM analysis_results a WHERE a.c3d_metadata_id = m.id)`).Scan(&rep.WithoutAnalysis); err != nil {
		return nil, fmt.Errorf("legacy: c3d_metadata: %w", err)
	}
	if err := legacy.QueryRow(ctx, `SELECT pg_total_relation_size('analysis_results')`).Scan(&rep.TableBytesBefore); err != nil {
		return nil, fmt.Errorf("legacy: table size: %w", err)
	}
	rep.TableBytesAfter = rep.TableBytesBefore
	if cols["emg_signals"] {
		if err := legacy.QueryRow(ctx, `SELECT count(*), coalesce(sum(pg_column_size(emg_signals)), 0) FROM analysis_results WHERE emg_signals IS NOT NULL`).
			Scan(&rep.SignalRows, &rep.SignalBytes); err != nil {
			return nil, fmt.Errorf("legacy: emg_signals: %w", err)
		}
	} else {
		rep.SignalsDropped = true
	}

	if err := migrateRows(ctx, legacy, target, cols, o, rep); err != nil {
		return rep, err
	}
	if !cols["emg_signals"] {
		return rep, nil
	}
	rep.BytesReclaimed = rep.SignalBytes
	if !o.Apply {
		return rep, nil
	}
	// Empty the column a batch at a time (short transactions, no long lock),
	// then drop it as the old backend's migration 022 does.
	for {
		tag, err := legacy.Exec(ctx, `UPDATE analysis_results SET emg_signals = NULL
			WHERE id IN (SELECT id FROM analysis_results WHERE emg_signals IS NOT NULL LIMIT $1)`, o.Batch)
		if err != nil {
			return rep, fmt.Errorf("legacy: clear emg_signals: %w", err)
		}
		if tag.RowsAffected() == 0 {
			break
		}
	}
	if _, err := legacy.Exec(ctx, `ALTER TABLE analysis_results DROP COLUMN IF EXISTS emg_signals`); err != nil {
		return rep, fmt.Errorf("legacy: drop emg_signals: %w", err)
	}
	rep.SignalsDropped = true
	vacuum := `VACUUM analysis_results`
	if o.Vacuum {
		vacuum = `VACUUM FULL analysis_results`
	}
	if _, err := legacy.Exec(ctx, vacuum); err != nil {
		return rep, fmt.Errorf("legacy: %s: %w", vacuum, err)
	}
	if err := legacy.QueryRow(ctx, `SELECT pg_total_relation_size('analysis_results')`).Scan(&rep.TableBytesAfter); err != nil {
		return rep, fmt.Errorf("legacy: table size: %w", err)
	}
	return rep, nil
}

func columns(ctx context.Context, db *pgxpool.Pool, table string) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_name = $1 AND table_schema = current_schema()`, table)
	if err != nil {
		return nil, fmt.Errorf("legacy: columns of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("legacy: columns of %s: %w", table, err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// file is one c3d_metadata row.
type file struct {
	ID, Path, Hash, Bucket                 string
	Size                                   *int64
	PatientID, ResolvedPatient             *string
	SessionDate, ResolvedDate              *time.Time
	SessionType, TherapistID               *string
	GameMetadata, ChannelNames, ObjectMeta []byte
	ChannelCount, FrameCount               *int64
	SamplingRate, Duration                 *float64
	CreatedAt                              *time.Time
}

// analysis is one of the old analysis_results rows, without emg_signals.
type analysis struct {
	ID, Version                                  string
	Params, Analytics, Contractions, MVC, Scores []byte
	Temporal, Summary                            []byte
	Good, Total, TimeMS                          *int64
	CreatedAt                                    *time.Time
}

func migrateRows(ctx context.Context, legacy *pgxpool.Pool, target store.Store, cols map[string]bool, o Options, rep *Report) error {
	opt := func(c, typ string) string { // a column the old table may lack
		if cols[c] {
			return "a." + c
		}
		return "NULL::" + typ
	}
	analysisSQL := `SELECT a.id::text, coalesce(a.processing_version, ''), a.processing_params, a.analytics_data, ` +
		opt("contractions_data", "jsonb") + `, ` + opt("mvc_values", "jsonb") + `, ` + opt("compliance_scores", "jsonb") + `, ` +
		opt("temporal_stats", "jsonb") + `, ` + opt("analytics_summary", "jsonb") + `, ` +
		opt("good_contractions_count", "bigint") + `, ` + opt("total_contractions_count", "bigint") + `, ` +
		opt("processing_time_ms", "bigint") + `, a.created_at
		FROM analysis_results a WHERE a.c3d_metadata_id = $1 ORDER BY a.created_at, a.id`
	after := "00000000-0000-0000-0000-000000000000"
	for {
		rows, err := legacy.Query(ctx, `SELECT m.id::text, m.file_path, coalesce(m.file_hash, ''), coalesce(m.bucket_name, ''),
			m.file_size_bytes, m.patient_id, m.resolved_patient_id, m.session_date, m.resolved_session_date,
			m.session_type, coalesce(m.resolved_therapist_id, m.therapist_id), m.game_metadata, m.channel_names,
			m.object_metadata, m.channel_count, m.frame_count, m.sampling_rate, m.duration_seconds, m.created_at
			FROM c3d_metadata m
			WHERE m.id > $1::uuid AND EXISTS (SELECT 1 FROM analysis_results a WHERE a.c3d_metadata_id = m.id)
			ORDER BY m.id LIMIT $2`, after, o.Batch)
		if err != nil {
			return fmt.Errorf("legacy: read c3d_metadata: %w", err)
		}
		var files []file
		for rows.Next() {
			var f file
			var cc, fc *int32
			if err := rows.Scan(&f.ID, &f.Path, &f.Hash, &f.Bucket, &f.Size, &f.PatientID, &f.ResolvedPatient,
				&f.SessionDate, &f.ResolvedDate, &f.SessionType, &f.TherapistID, &f.GameMetadata, &f.ChannelNames,
				&f.ObjectMeta, &cc, &fc, &f.SamplingRate, &f.Duration, &f.CreatedAt); err != nil {
				rows.Close()
				return fmt.Errorf("legacy: read c3d_metadata: %w", err)
			}
			f.ChannelCount, f.FrameCount = widen(cc), widen(fc)
			files = append(files, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("legacy: read c3d_metadata: %w", err)
		}
		if len(files) == 0 {
			return nil
		}
		after = files[len(files)-1].ID
		for _, f := range files {
			ars, err := readAnalyses(ctx, legacy, analysisSQL, f.ID)
			if err != nil {
				return err
			}
			if err := migrateFile(ctx, target, f, ars, o, rep); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s (%s): %v", f.Path, f.ID, err))
			}
		}
	}
}

func widen(p *int32) *int64 {
	if p == nil {
		return nil
	}
	v := int64(*p)
	return &v
}

func readAnalyses(ctx context.Context, legacy *pgxpool.Pool, q, fileID string) ([]analysis, error) {
	rows, err := legacy.Query(ctx, q, fileID)
	if err != nil {
		return nil, fmt.Errorf("legacy: read analysis_results: %w", err)
	}
	defer rows.Close()
	var out []analysis
	for rows.Next() {
		var a analysis
		var good, total, tms *int64
		if err := rows.Scan(&a.ID, &a.Version, &a.Params, &a.Analytics, &a.Contractions, &a.MVC, &a.Scores,
			&a.Temporal, &a.Summary, &good, &total, &tms, &a.CreatedAt); err != nil {
			return nil, fmt.Errorf("legacy: read analysis_results: %w", err)
		}
		a.Good, a.Total, a.TimeMS = good, total, tms
		out = append(out, a)
	}
	return out, rows.Err()
}

// patientOf is the patient code a file is migrated under: its resolved
// patient, else its patient_id, when that is a patient code
// (store.IsPatientCode: P and 1 to 12 digits), else the first segment of
// its key that is one, else P000.
func patientOf(f file, key string) string {
	for _, p := range []*string{f.ResolvedPatient, f.PatientID} {
		if p != nil && store.IsPatientCode(*p) {
			return *p
		}
	}
	return store.PatientCodeFromKey(key)
}

func migrateFile(ctx context.Context, target store.Store, f file, ars []analysis, o Options, rep *Report) error {
	bucket := f.Bucket
	if bucket == "" {
		bucket = o.DefaultBucket
	}
	key := strings.TrimPrefix(strings.TrimPrefix(f.Path, "/"), bucket+"/")
	etag := "sha256:" + f.Hash
	if f.Hash == "" {
		etag = "legacy:" + f.ID
	}
	if target != nil {
		if _, err := target.GetSessionByObject(ctx, bucket, key, etag); err == nil {
			rep.AlreadyMigrated++
			if !o.Apply {
				return nil
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		} else {
			others, err := target.ObjectSessions(ctx, bucket, []string{key})
			if err != nil {
				return err
			}
			if len(others[key]) > 0 {
				rep.SkippedNewer++
				return nil
			}
		}
	}
	if !o.Apply {
		rep.SessionsMigrated++
		rep.AnalysesMigrated += len(ars)
		return nil
	}
	patient := patientOf(f, key)
	recorded := f.ResolvedDate
	if recorded == nil {
		recorded = f.SessionDate
	}
	md := map[string]any{
		"channel_names": rawOrNil(f.ChannelNames), "channel_count": f.ChannelCount, "sampling_rate": f.SamplingRate,
		"duration_seconds": f.Duration, "frame_count": f.FrameCount, "file_size_bytes": f.Size,
		"bucket": bucket, "object_key": key, "etag": etag, "patient_code": patient, "recorded_at": nil,
		"game": rawOrNil(f.GameMetadata),
		"legacy": map[string]any{"c3d_metadata_id": f.ID, "file_path": f.Path, "session_type": f.SessionType,
			"therapist_id": f.TherapistID, "patient_id": f.PatientID, "object_metadata": rawOrNil(f.ObjectMeta)},
	}
	if recorded != nil {
		md["recorded_at"] = recorded.Format(store.RecordedAtLayout)
	}
	var dropped int
	mdJSON, err := marshalClean(md, &dropped)
	if err != nil {
		return err
	}
	created := false
	err = target.InTx(ctx, func(tx store.Tx) error {
		sess, c, err := tx.CreateSession(ctx, store.NewSession{Bucket: bucket, ObjectKey: key, ETag: etag, PatientCode: patient,
			FileSizeBytes: f.Size, Metadata: mdJSON, RecordedAt: recorded, Timings: json.RawMessage(`{"migrated_from":"legacy"}`),
			CreatedAt: f.CreatedAt}) // keep the upload's age, for retention
		if err != nil {
			return err
		}
		created = c
		for _, a := range ars {
			summary, scores, params, err := convert(a, &dropped)
			if err != nil {
				return err
			}
			version := "legacy/" + a.Version
			if a.Version == "" {
				version = "legacy"
			}
			if _, err := tx.SaveAnalysis(ctx, store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: version,
				Params: params, AnalyticsSummary: summary, Scores: scores}); err != nil {
				return err
			}
		}
		u := store.StatusUpdate{Status: store.StatusCompleted}
		if len(f.Hash) == 64 {
			u.FileSHA256 = strings.ToLower(f.Hash)
		}
		_, err = tx.SetStatus(ctx, sess.ID, u)
		return err
	})
	if err != nil {
		return err
	}
	if created {
		rep.SessionsMigrated++
		rep.AnalysesMigrated += len(ars)
		rep.LongArraysDropped += dropped
	}
	return nil
}

func rawOrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// convert builds emgd's analytics_summary, scores and params from one old
// analysis row.
func convert(a analysis, dropped *int) (summary, scores, params json.RawMessage, err error) {
	s := map[string]any{
		"source": "legacy", "legacy_analysis_id": a.ID, "legacy_processing_version": a.Version,
		"analytics": rawOrNil(a.Analytics), "contractions": rawOrNil(a.Contractions), "mvc_values": rawOrNil(a.MVC),
		"temporal_stats": rawOrNil(a.Temporal), "good_contractions_count": a.Good, "total_contractions_count": a.Total,
		"processing_time_ms": a.TimeMS,
	}
	if len(a.Summary) > 0 && string(a.Summary) != "{}" {
		s["legacy_analytics_summary"] = json.RawMessage(a.Summary)
	}
	if summary, err = marshalClean(s, dropped); err != nil {
		return
	}
	if len(a.Scores) > 0 {
		if scores, err = marshalClean(map[string]any{"compliance_scores": json.RawMessage(a.Scores)}, dropped); err != nil {
			return
		}
	}
	params = json.RawMessage("{}")
	if len(a.Params) > 0 && a.Params[0] == '{' {
		params, err = marshalClean(json.RawMessage(a.Params), dropped)
	}
	return
}

// marshalClean encodes v without nulls at the top level and with every
// array of more than store.MaxJSONArrayNumbers numbers removed (a time
// series never goes to emgd's database); dropped counts them.
func marshalClean(v any, dropped *int) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var x any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	if m, ok := x.(map[string]any); ok {
		for k, e := range m {
			if e == nil {
				delete(m, k)
			}
		}
	}
	x = strip(x, dropped)
	return json.Marshal(x)
}

func strip(v any, dropped *int) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isLongNumberArray(e) {
				delete(x, k)
				*dropped++
				continue
			}
			x[k] = strip(e, dropped)
		}
	case []any:
		out := x[:0]
		for _, e := range x {
			if isLongNumberArray(e) {
				*dropped++
				continue
			}
			out = append(out, strip(e, dropped))
		}
		return out
	}
	return v
}

func isLongNumberArray(v any) bool {
	a, ok := v.([]any)
	if !ok || len(a) <= store.MaxJSONArrayNumbers {
		return false
	}
	for _, e := range a {
		if _, ok := e.(json.Number); !ok {
			return false
		}
	}
	return true
}
