package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"emgd/internal/legacy"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// legacySchemaSQL is the old backend's schema as its migrations 001 and 002
// (ggustin93/emg-c3d-analyzer, supabase/migrations/archive/pre-snapshot)
// create it: the tables, their constraints and the analysis_summary view.
const legacySchemaSQL = `
CREATE TABLE c3d_metadata (
    id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
    file_path TEXT NOT NULL UNIQUE,
    file_hash TEXT NOT NULL,
    file_size_bytes BIGINT NOT NULL,
    patient_id TEXT, therapist_id TEXT, session_id TEXT, session_date TIMESTAMP,
    session_type TEXT, session_duration FLOAT, session_notes TEXT,
    game_metadata JSONB, channel_names JSONB, channel_count INTEGER, sampling_rate FLOAT,
    duration_seconds FLOAT, frame_count INTEGER,
    resolved_patient_id TEXT, resolved_therapist_id TEXT, resolved_session_date TIMESTAMP, size_category TEXT,
    content_type TEXT, upload_date TIMESTAMP WITH TIME ZONE, bucket_name TEXT DEFAULT 'c3d-files', object_metadata JSONB,
    processing_status TEXT DEFAULT 'pending', processing_version TEXT, error_message TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(), updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    processed_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT valid_status CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT valid_size_category CHECK (size_category IN ('small', 'medium', 'large'))
);
CREATE TABLE analysis_results (
    id UUID DEFAULT gen_random_uuid() PRIMARY KEY,
    c3d_metadata_id UUID NOT NULL REFERENCES c3d_metadata(id) ON DELETE CASCADE,
    file_hash TEXT NOT NULL,
    processing_version TEXT NOT NULL,
    processing_params JSONB,
    analytics_data JSONB NOT NULL,
    emg_signals JSONB,
    contractions_data JSONB,
    processing_time_ms INTEGER,
    cache_hits INTEGER DEFAULT 0,
    last_accessed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    mvc_values JSONB,
    good_contractions_count INTEGER,
    total_contractions_count INTEGER,
    compliance_scores JSONB,
    temporal_stats JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE DEFAULT (NOW() + INTERVAL '30 days'),
    CONSTRAINT unique_analysis_cache UNIQUE (file_hash, processing_version, processing_params)
);
CREATE INDEX idx_analysis_results_c3d_metadata_id ON analysis_results(c3d_metadata_id);
CREATE OR REPLACE VIEW analysis_summary AS
SELECT ar.id, cm.file_path, cm.patient_id, cm.session_date, cm.session_type, ar.mvc_values,
    ar.good_contractions_count, ar.total_contractions_count, ar.compliance_scores, ar.processing_time_ms,
    ar.cache_hits, ar.created_at, ar.last_accessed_at
FROM analysis_results ar JOIN c3d_metadata cm ON ar.c3d_metadata_id = cm.id
WHERE ar.expires_at > NOW() ORDER BY ar.last_accessed_at DESC;
`

// seedLegacy fills the old schema: five analysed files (one analysed twice,
// with other parameters), each with its processed signals in emg_signals
// (two channels of 30 000 samples: about 1.2 MB of JSON per row), one
// analysis that also kept a time series inside analytics_data, and one
// file never analysed.
const seedLegacySQL = `
INSERT INTO c3d_metadata (file_path, file_hash, file_size_bytes, patient_id, resolved_patient_id, therapist_id,
    session_date, resolved_session_date, session_type, game_metadata, channel_names, channel_count, sampling_rate,
    duration_seconds, frame_count, bucket_name, processing_status, created_at)
SELECT 'P00' || i || '/Ghostly_Emg_2023032' || i || '_17-23-09-0409.c3d', md5('f' || i) || md5('g' || i), 2800000 + i,
    'P00' || i, 'P00' || i, 'T1', timestamp '2023-03-20 17:23:09' + i * interval '1 day',
    timestamp '2023-03-20 17:23:09' + i * interval '1 day', 'training',
    jsonb_build_object('player_name', 'P00' || i, 'game_name', 'GHOSTLY', 'level', '3'),
    '["CH1 Raw", "CH2 Raw"]', 2, 990, 175.5, 5791, CASE WHEN i = 6 THEN NULL ELSE 'c3d-examples' END,
    CASE WHEN i = 6 THEN 'pending' ELSE 'completed' END, now() - interval '30 days'
FROM generate_series(1, 6) AS i;

INSERT INTO analysis_results (c3d_metadata_id, file_hash, processing_version, processing_params, analytics_data,
    emg_signals, contractions_data, processing_time_ms, mvc_values, good_contractions_count, total_contractions_count,
    compliance_scores, temporal_stats)
SELECT m.id, m.file_hash, '1.' || v, jsonb_build_object('threshold_factor', 0.2 + v / 10.0),
    jsonb_build_object('CH1', jsonb_build_object('contraction_count', 12, 'good_contraction_count', 9,
        'mvc_value', 0.00042, 'rms', 0.0001, 'mav', 0.00008, 'mpf', 81.5, 'mdf', 72.1, 'fatigue_index_fi_nsm5', -0.3),
        'CH2', jsonb_build_object('contraction_count', 11, 'good_contraction_count', 8, 'mvc_value', 0.00039)),
    jsonb_build_object(
        'CH1 Raw', jsonb_build_object('sampling_rate', 990,
            'time_axis', (SELECT jsonb_agg(round((s / 990.0)::numeric, 6)) FROM generate_series(0, 29999) s),
            'data', (SELECT jsonb_agg(random() * 0.001 - 0.0005) FROM generate_series(0, 29999) s)),
        'CH2 Raw', jsonb_build_object('sampling_rate', 990,
            'data', (SELECT jsonb_agg(random() * 0.001 - 0.0005) FROM generate_series(0, 29999) s))),
    '{"CH1": [{"start_time_ms": 1000, "end_time_ms": 3100, "max_amplitude": 0.0004, "is_good": true}]}',
    900 + v, '{"CH1": 0.00042, "CH2": 0.00039}', 17, 23, '{"left": 0.8, "right": 0.75}',
    '{"rms": {"mean": 0.0001, "std": 0.00002}}'
FROM c3d_metadata m CROSS JOIN generate_series(0, 1) AS v
WHERE m.bucket_name IS NOT NULL AND (v = 0 OR m.patient_id = 'P002');

UPDATE analysis_results SET analytics_data = analytics_data || jsonb_build_object('rms_envelope',
    (SELECT jsonb_agg(random()) FROM generate_series(1, 2000)))
WHERE c3d_metadata_id = (SELECT id FROM c3d_metadata WHERE patient_id = 'P003');
`

func TestMigrateLegacy(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a PostgreSQL database with several MB of signals")
	}
	dbURL := storetest.NewPostgresDatabase(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, legacySchemaSQL+seedLegacySQL); err != nil {
		t.Fatal(err)
	}
	var signalBytes int64
	c.QueryRow(ctx, `SELECT sum(pg_column_size(emg_signals)) FROM analysis_results`).Scan(&signalBytes)
	if signalBytes < 3<<20 {
		t.Fatalf("seeded only %d bytes of signals", signalBytes)
	}

	if code, _, stderr := runCLI("migrate", "legacy"); code != 2 || !strings.Contains(stderr, "--database-url") {
		t.Fatalf("without --database-url: exit %d %s", code, stderr)
	}
	// Dry run: a report, no change.
	code, out, stderr := runCLI("migrate", "legacy", "--database-url", dbURL, "--json")
	var rep legacy.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("dry run: exit %d %v\n%s%s", code, err, out, stderr)
	}
	if rep.Applied || rep.Files != 6 || rep.Analyses != 6 || rep.WithoutAnalysis != 1 || rep.SessionsMigrated != 5 ||
		rep.AnalysesMigrated != 6 || rep.SignalRows != 6 || rep.BytesReclaimed != signalBytes {
		t.Fatalf("dry run: %+v", rep)
	}
	var schemas, signalCols int
	c.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'emgd'`).Scan(&schemas)
	c.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'analysis_results' AND column_name = 'emg_signals'`).Scan(&signalCols)
	if schemas != 0 || signalCols != 1 {
		t.Fatalf("dry run changed the database: emgd schema %d, emg_signals column %d", schemas, signalCols)
	}

	// emgd already received a webhook for P004's file: that object is left
	// alone (a migrated session would supersede the newer one).
	u, _ := url.Parse(dbURL)
	q := u.Query()
	q.Set("search_path", "emgd")
	u.RawQuery = q.Encode()
	if _, err := c.Exec(ctx, `CREATE SCHEMA emgd`); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenPostgres(ctx, u.String(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p4key := "P004/Ghostly_Emg_20230324_17-23-09-0409.c3d"
	if _, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: p4key, ETag: "from-webhook"}); err != nil {
		t.Fatal(err)
	}

	code, out, stderr = runCLI("migrate", "legacy", "--database-url", dbURL, "--yes", "--batch", "2", "--vacuum-full")
	if code != 0 || !strings.Contains(out, "sessions migrated: 4 with 5 analyses; 0 already migrated; 1 left alone (emgd has sessions of their objects already); 1 time-series arrays left out") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, stderr)
	}
	t.Log(out)
	c.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'analysis_results' AND column_name = 'emg_signals'`).Scan(&signalCols)
	if signalCols != 0 {
		t.Error("emg_signals column still there")
	}
	var legacyRows int
	c.QueryRow(ctx, `SELECT count(*) FROM public.analysis_results`).Scan(&legacyRows)
	if legacyRows != 6 {
		t.Errorf("old analysis rows: %d", legacyRows)
	}

	// emgd's tables, in their own schema: one completed session per analysed
	// file, the old aggregates in analytics_summary, no time series.
	page, err := st.ListSessions(ctx, store.ListOptions{})
	if err != nil || len(page.Sessions) != 5 {
		t.Fatalf("%d sessions: %v", len(page.Sessions), err)
	}
	for _, s := range page.Sessions {
		if s.ObjectKey == p4key {
			if s.ETag != "from-webhook" || s.SupersededBy != "" {
				t.Errorf("emgd's own session changed: %+v", s)
			}
			continue
		}
		if s.Status != store.StatusCompleted || !s.HasAnalysis || s.RecordedAt == nil || len(s.FileSHA256) != 64 || s.Bucket != "c3d-examples" {
			t.Errorf("%s: %+v", s.SessionCode, s)
		}
		if want := strings.SplitN(s.ObjectKey, "/", 2)[0]; s.PatientCode != want {
			t.Errorf("%s: patient %s for key %s", s.SessionCode, s.PatientCode, s.ObjectKey)
		}
		// The upload's age is kept (retention counts from it).
		if age := time.Since(s.CreatedAt); age < 29*24*time.Hour || age > 31*24*time.Hour {
			t.Errorf("%s: created %s ago, want the old row's 30 days", s.SessionCode, age)
		}
	}
	p2, err := st.GetSessionByCode(ctx, "P002S001")
	if err != nil {
		t.Fatal(err)
	}
	analyses, _ := st.ListAnalyses(ctx, p2.ID)
	if len(analyses) != 2 {
		t.Fatalf("P002: %d analyses", len(analyses))
	}
	var sum map[string]any
	json.Unmarshal(analyses[0].AnalyticsSummary, &sum)
	if sum["source"] != "legacy" || sum["analytics"] == nil || sum["mvc_values"] == nil || sum["good_contractions_count"] != 17.0 {
		t.Errorf("summary: %v", sum)
	}
	storetest.AssertNoTimeSeries(t, st)

	// Again: nothing left to do, nothing duplicated.
	code, out, stderr = runCLI("migrate", "legacy", "--database-url", dbURL, "--yes", "--json")
	rep = legacy.Report{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("again: exit %d %v\n%s%s", code, err, out, stderr)
	}
	if rep.SessionsMigrated != 0 || rep.AlreadyMigrated != 4 || rep.SkippedNewer != 1 || !rep.SignalsDropped || rep.BytesReclaimed != 0 {
		t.Fatalf("again: %+v", rep)
	}
	if page, _ := st.ListSessions(ctx, store.ListOptions{}); len(page.Sessions) != 5 {
		t.Errorf("again: %d sessions", len(page.Sessions))
	}
}
