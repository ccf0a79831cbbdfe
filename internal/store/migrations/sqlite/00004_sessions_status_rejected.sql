-- +goose Up
-- A session may be 'rejected': phase 1 refused its object version (not a
-- readable C3D file); the row keeps the reason in error and has no job.
-- SQLite cannot change a CHECK constraint in place, so both tables are
-- rebuilt (analysis_results too: dropping sessions with foreign keys on
-- would cascade to its rows), with the same columns, order and indexes.
CREATE TABLE sessions_new (
    id              TEXT PRIMARY KEY NOT NULL,
    session_code    TEXT NOT NULL,
    patient_code    TEXT NOT NULL,
    bucket          TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    etag            TEXT NOT NULL,
    file_size_bytes INTEGER CHECK (file_size_bytes >= 0),
    file_sha256     TEXT,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'rejected')),
    error           TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    recorded_at     TEXT,
    superseded_by   TEXT REFERENCES sessions_new (id) ON DELETE SET NULL,
    timings         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    processed_at    TEXT,
    storage_version TEXT NOT NULL DEFAULT '',
    CONSTRAINT sessions_session_code_key UNIQUE (session_code),
    CONSTRAINT sessions_object_version_key UNIQUE (bucket, object_key, etag)
);
INSERT INTO sessions_new (id, session_code, patient_code, bucket, object_key, etag, file_size_bytes,
    file_sha256, status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
    processed_at, storage_version)
SELECT id, session_code, patient_code, bucket, object_key, etag, file_size_bytes,
    file_sha256, status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
    processed_at, storage_version FROM sessions;

CREATE TABLE analysis_results_new (
    session_id         TEXT NOT NULL REFERENCES sessions_new (id) ON DELETE CASCADE,
    processing_version TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    params_hash        TEXT NOT NULL,
    analytics_summary  TEXT NOT NULL CHECK (json_valid(analytics_summary)),
    scores             TEXT CHECK (scores IS NULL OR json_valid(scores)),
    created_at         TEXT NOT NULL,
    PRIMARY KEY (session_id, processing_version, params_hash)
);
INSERT INTO analysis_results_new (session_id, processing_version, params, params_hash, analytics_summary, scores, created_at)
SELECT session_id, processing_version, params, params_hash, analytics_summary, scores, created_at FROM analysis_results;

DROP TABLE analysis_results;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
ALTER TABLE analysis_results_new RENAME TO analysis_results;

CREATE INDEX sessions_created_idx ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_patient_idx ON sessions (patient_code, created_at DESC, id DESC);
CREATE INDEX sessions_status_idx ON sessions (status, created_at DESC, id DESC);
CREATE INDEX sessions_superseded_by_idx ON sessions (superseded_by);
CREATE INDEX analysis_results_current_idx ON analysis_results (session_id, created_at DESC);

-- +goose Down
DELETE FROM sessions WHERE status = 'rejected';
CREATE TABLE sessions_old (
    id              TEXT PRIMARY KEY NOT NULL,
    session_code    TEXT NOT NULL,
    patient_code    TEXT NOT NULL,
    bucket          TEXT NOT NULL,
    object_key      TEXT NOT NULL,
    etag            TEXT NOT NULL,
    file_size_bytes INTEGER CHECK (file_size_bytes >= 0),
    file_sha256     TEXT,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error           TEXT,
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    recorded_at     TEXT,
    superseded_by   TEXT REFERENCES sessions_old (id) ON DELETE SET NULL,
    timings         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    processed_at    TEXT,
    storage_version TEXT NOT NULL DEFAULT '',
    CONSTRAINT sessions_session_code_key UNIQUE (session_code),
    CONSTRAINT sessions_object_version_key UNIQUE (bucket, object_key, etag)
);
INSERT INTO sessions_old (id, session_code, patient_code, bucket, object_key, etag, file_size_bytes,
    file_sha256, status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
    processed_at, storage_version)
SELECT id, session_code, patient_code, bucket, object_key, etag, file_size_bytes,
    file_sha256, status, error, metadata, recorded_at, superseded_by, timings, created_at, updated_at,
    processed_at, storage_version FROM sessions;
CREATE TABLE analysis_results_old (
    session_id         TEXT NOT NULL REFERENCES sessions_old (id) ON DELETE CASCADE,
    processing_version TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    params_hash        TEXT NOT NULL,
    analytics_summary  TEXT NOT NULL CHECK (json_valid(analytics_summary)),
    scores             TEXT CHECK (scores IS NULL OR json_valid(scores)),
    created_at         TEXT NOT NULL,
    PRIMARY KEY (session_id, processing_version, params_hash)
);
INSERT INTO analysis_results_old (session_id, processing_version, params, params_hash, analytics_summary, scores, created_at)
SELECT session_id, processing_version, params, params_hash, analytics_summary, scores, created_at FROM analysis_results;
DROP TABLE analysis_results;
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
ALTER TABLE analysis_results_old RENAME TO analysis_results;
CREATE INDEX sessions_created_idx ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_patient_idx ON sessions (patient_code, created_at DESC, id DESC);
CREATE INDEX sessions_status_idx ON sessions (status, created_at DESC, id DESC);
CREATE INDEX sessions_superseded_by_idx ON sessions (superseded_by);
CREATE INDEX analysis_results_current_idx ON analysis_results (session_id, created_at DESC);
