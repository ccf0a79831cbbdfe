-- +goose Up
-- Timestamps are TEXT written by emgd: created_at, updated_at and processed_at
-- as 2006-01-02T15:04:05.000000Z (UTC, fixed width, so text order is time
-- order); recorded_at as the device's wall clock, 2006-01-02T15:04:05[.ffffff].
CREATE TABLE sessions (
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
    superseded_by   TEXT REFERENCES sessions (id) ON DELETE SET NULL,
    timings         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    processed_at    TEXT,
    CONSTRAINT sessions_session_code_key UNIQUE (session_code),
    CONSTRAINT sessions_object_version_key UNIQUE (bucket, object_key, etag)
);

CREATE INDEX sessions_created_idx ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_patient_idx ON sessions (patient_code, created_at DESC, id DESC);
CREATE INDEX sessions_status_idx ON sessions (status, created_at DESC, id DESC);
CREATE INDEX sessions_superseded_by_idx ON sessions (superseded_by);

CREATE TABLE analysis_results (
    session_id         TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    processing_version TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    params_hash        TEXT NOT NULL,
    analytics_summary  TEXT NOT NULL CHECK (json_valid(analytics_summary)),
    scores             TEXT CHECK (scores IS NULL OR json_valid(scores)),
    created_at         TEXT NOT NULL,
    PRIMARY KEY (session_id, processing_version, params_hash)
);

CREATE INDEX analysis_results_current_idx ON analysis_results (session_id, created_at DESC);

-- +goose Down
DROP TABLE analysis_results;
DROP TABLE sessions;
