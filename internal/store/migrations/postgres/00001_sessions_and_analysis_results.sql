-- +goose Up
CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    session_code    text NOT NULL,
    patient_code    text NOT NULL,
    bucket          text NOT NULL,
    object_key      text NOT NULL,
    etag            text NOT NULL,
    file_size_bytes bigint CHECK (file_size_bytes >= 0),
    file_sha256     text,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error           text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    recorded_at     timestamp without time zone,
    superseded_by   uuid REFERENCES sessions (id) ON DELETE SET NULL,
    timings         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    CONSTRAINT sessions_session_code_key UNIQUE (session_code),
    CONSTRAINT sessions_object_version_key UNIQUE (bucket, object_key, etag)
);

CREATE INDEX sessions_created_idx ON sessions (created_at DESC, id DESC);
CREATE INDEX sessions_patient_idx ON sessions (patient_code, created_at DESC, id DESC);
CREATE INDEX sessions_status_idx ON sessions (status, created_at DESC, id DESC);
CREATE INDEX sessions_superseded_by_idx ON sessions (superseded_by);

CREATE TABLE analysis_results (
    session_id         uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    processing_version text NOT NULL,
    params             jsonb NOT NULL DEFAULT '{}',
    params_hash        text NOT NULL,
    analytics_summary  jsonb NOT NULL,
    scores             jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT analysis_results_version_key PRIMARY KEY (session_id, processing_version, params_hash)
);

CREATE INDEX analysis_results_current_idx ON analysis_results (session_id, created_at DESC);
CREATE INDEX analysis_results_summary_gin ON analysis_results USING GIN (analytics_summary);

-- +goose Down
DROP TABLE analysis_results;
DROP TABLE sessions;
