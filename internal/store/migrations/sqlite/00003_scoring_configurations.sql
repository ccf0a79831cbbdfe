-- +goose Up
-- Performance-score weights, as the old backend's scoring_configuration
-- table held them: the global configurations (one or more active; the newest
-- active one answers GET /scoring/configurations/active) and the custom ones
-- of a therapist, or of a therapist and a patient (at most one each). The
-- old default, GHOSTLY-TRIAL-DEFAULT, keeps its fixed id and is active.
-- Timestamps as in 00001 (fixed-width UTC text).
CREATE TABLE scoring_configurations (
    id                 TEXT PRIMARY KEY NOT NULL,
    configuration_name TEXT NOT NULL,
    description        TEXT,
    weight_compliance  REAL NOT NULL CHECK (weight_compliance BETWEEN 0 AND 1),
    weight_symmetry    REAL NOT NULL CHECK (weight_symmetry BETWEEN 0 AND 1),
    weight_effort      REAL NOT NULL CHECK (weight_effort BETWEEN 0 AND 1),
    weight_game        REAL NOT NULL CHECK (weight_game BETWEEN 0 AND 1),
    weight_completion  REAL NOT NULL CHECK (weight_completion BETWEEN 0 AND 1),
    weight_intensity   REAL NOT NULL CHECK (weight_intensity BETWEEN 0 AND 1),
    weight_duration    REAL NOT NULL CHECK (weight_duration BETWEEN 0 AND 1),
    active             INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    is_global          INTEGER NOT NULL DEFAULT 0 CHECK (is_global IN (0, 1)),
    therapist_id       TEXT,
    patient_id         TEXT CHECK (patient_id IS NULL OR therapist_id IS NOT NULL),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE INDEX scoring_configurations_created_idx ON scoring_configurations (created_at DESC, id DESC);
CREATE UNIQUE INDEX scoring_configurations_custom_key
    ON scoring_configurations (therapist_id, coalesce(patient_id, ''))
    WHERE therapist_id IS NOT NULL;

INSERT INTO scoring_configurations (id, configuration_name, description,
    weight_compliance, weight_symmetry, weight_effort, weight_game,
    weight_completion, weight_intensity, weight_duration,
    active, is_global, created_at, updated_at)
VALUES ('a0000000-0000-0000-0000-000000000001', 'GHOSTLY-TRIAL-DEFAULT',
    'Default scoring configuration for GHOSTLY+ clinical trial. All patients use this configuration.',
    0.50, 0.25, 0.25, 0.00, 0.333, 0.333, 0.334, 1, 1,
    strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z', strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z');

-- +goose Down
DROP TABLE scoring_configurations;
